//! `ambiguous-from`: the message does not name exactly one author. Several
//! author addresses (one `From:` with a list, or several `From:` fields) let
//! a mail client show one domain while DMARC may have been passed by
//! another; a `From:` that is missing, empty or not RFC 5322 leaves no
//! author at all (RFC 5322 §3.6 wants exactly one `From:` field, RFC 7489
//! §6.6.1 treats both as suspect). Both are classic ways around DMARC.

use super::reason;
use crate::model::{Mailbox, Reason, Record};

/// Points `ambiguous-from` gives.
pub(super) const POINTS: u8 = 3;

/// Most addresses named in the explanation.
const SHOWN: usize = 5;

pub(super) fn check(rec: &Record, out: &mut Vec<Reason>) {
    // Records stored before `authors` existed only have `from`.
    let authors: Vec<&Mailbox> = if rec.authors.is_empty() {
        rec.from.iter().collect()
    } else {
        rec.authors.iter().collect()
    };
    let readable: Vec<&str> = authors
        .iter()
        .filter_map(|m| m.address.as_deref())
        .collect();
    let unreadable = authors.len() - readable.len();
    let detail = match (authors.len(), unreadable) {
        (0, _) => "no From field: the message names no author".to_string(),
        (1, 0) => return,
        (1, _) => {
            "the From field names no readable address (empty, an empty group, or not RFC 5322)"
                .to_string()
        }
        (n, _) => {
            let mut shown = readable
                .iter()
                .take(SHOWN)
                .copied()
                .collect::<Vec<_>>()
                .join(", ");
            if readable.len() > SHOWN {
                shown.push_str(", …");
            }
            let unreadable = match unreadable {
                0 => String::new(),
                1 => " and one unreadable From field".to_string(),
                u => format!(" and {u} unreadable From fields"),
            };
            format!(
                "{n} authors in From ({shown}{unreadable}): a mail client shows one, \
                 DMARC must hold for each"
            )
        }
    };
    out.push(reason("ambiguous-from", POINTS, detail));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mb(address: Option<&str>) -> Mailbox {
        Mailbox {
            name: None,
            address: address.map(str::to_string),
        }
    }

    fn fired(from: Option<Mailbox>, authors: Vec<Mailbox>) -> Option<String> {
        let rec = Record {
            from,
            authors,
            ..Record::default()
        };
        let mut out = Vec::new();
        check(&rec, &mut out);
        assert!(out.len() <= 1);
        out.pop().map(|r| {
            assert_eq!((r.rule.as_str(), r.points), ("ambiguous-from", POINTS));
            r.detail
        })
    }

    #[test]
    fn one_author_is_quiet() {
        let a = mb(Some("a@example.com"));
        assert_eq!(fired(Some(a.clone()), vec![a.clone()]), None);
        // A record from before `authors` existed.
        assert_eq!(fired(Some(a), Vec::new()), None);
    }

    #[test]
    fn several_none_or_unreadable_fire() {
        let detail = fired(None, Vec::new()).unwrap();
        assert!(detail.starts_with("no From field"), "{detail}");
        let detail = fired(Some(mb(None)), vec![mb(None)]).unwrap();
        assert!(detail.contains("no readable address"), "{detail}");
        let two = vec![mb(Some("a@bank.example")), mb(Some("b@evil.example"))];
        let detail = fired(two.first().cloned(), two).unwrap();
        assert!(
            detail.starts_with("2 authors in From (a@bank.example, b@evil.example):"),
            "{detail}"
        );
        let mixed = vec![mb(Some("a@bank.example")), mb(None)];
        let detail = fired(mixed.first().cloned(), mixed).unwrap();
        assert!(
            detail.contains("(a@bank.example and one unreadable From field)"),
            "{detail}"
        );
        let many: Vec<Mailbox> = (0..7)
            .map(|i| mb(Some(&format!("u{i}@x.example"))))
            .collect();
        let detail = fired(many.first().cloned(), many).unwrap();
        assert!(detail.starts_with("7 authors in From ("), "{detail}");
        assert!(detail.contains("u4@x.example, …)"), "{detail}");
        assert!(!detail.contains("u5@"), "{detail}");
    }
}
