//! `lookalike-domain`: a sender-side domain that is not one of the
//! organisation domains but is made to look like one.
//!
//! Candidates: the `From:`, `Sender:` and `Reply-To:` domains and the
//! original envelope sender's. A candidate whose organisational domain (PSL)
//! is an organisation domain's is legitimate. Otherwise both names are
//! decoded from punycode (IDNA, `xn--` labels) and folded: lowercase, UTS #39
//! confusable skeleton, lowercase again (`0` → `O` → `o`, `1` → `l`,
//! Cyrillic `а` → `a`). The candidate's organisational domain is then a
//! lookalike when, in this order:
//! 1. its fold equals the organisation domain's (confusable characters);
//! 2. its name without the public suffix folds like the organisation's
//!    (`example.net` for `example.com`);
//! 3. it begins with the organisation domain's labels
//!    (`example.com.evil.test`);
//! 4. the folded names are within `lookalike_max_distance` edits
//!    (optimal string alignment: insertions, deletions, substitutions,
//!    adjacent transpositions) between the folded or the plain names,
//!    counted only when the organisation's name without its suffix has at
//!    least [`MIN_EDIT_LEN`] characters, so short names do not match half
//!    the Internet.

use super::{domain_of, from_domain, org_of, reason};
use crate::config::AnalysisConfig;
use crate::model::{Reason, Record};

/// Shortest organisation name (without its suffix) for the edit-distance
/// test.
pub const MIN_EDIT_LEN: usize = 4;

/// The longest DNS name in text form (RFC 1035 §2.3.4).
const MAX_NAME: usize = 253;

/// Case-folded UTS #39 skeleton of `s`.
pub(super) fn fold(s: &str) -> String {
    let lower = s.to_lowercase();
    unicode_security::skeleton(&lower)
        .collect::<String>()
        .to_lowercase()
}

/// `domain` with `xn--` labels decoded (left as is if decoding fails).
fn unicode(domain: &str) -> String {
    let (u, r) = idna::domain_to_unicode(domain);
    if r.is_ok() {
        u
    } else {
        domain.to_string()
    }
}

/// The organisational domain split into the name before the public suffix
/// and the suffix (`example`, `co.uk`).
fn split_suffix(org: &str) -> (&str, &str) {
    org.split_once('.').unwrap_or((org, ""))
}

pub(super) fn check(rec: &Record, cfg: &AnalysisConfig, out: &mut Vec<Reason>) {
    if cfg.org_domains.is_empty() {
        return;
    }
    let orgs: Vec<String> = cfg.org_domains.iter().map(|d| org_of(d)).collect();
    let mut candidates: Vec<(&str, String)> = Vec::new();
    let mut add = |what: &'static str, d: Option<String>| {
        if let Some(d) = d {
            if !candidates.iter().any(|(_, c)| *c == d) {
                candidates.push((what, d));
            }
        }
    };
    add("From", from_domain(rec));
    add(
        "Sender",
        rec.sender
            .as_ref()
            .and_then(|m| m.address.as_deref())
            .and_then(domain_of),
    );
    for m in &rec.reply_to {
        add("Reply-To", m.address.as_deref().and_then(domain_of));
    }
    add(
        "envelope sender",
        rec.original.mailfrom.as_deref().and_then(domain_of),
    );
    let mut found = Vec::new();
    for (what, domain) in &candidates {
        let org = org_of(domain);
        if orgs.contains(&org) {
            continue;
        }
        if let Some((target, how)) = orgs
            .iter()
            .find_map(|o| looks_like(domain, &org, o, cfg.lookalike_max_distance).map(|h| (o, h)))
        {
            let shown = unicode(domain);
            let shown = if shown == *domain {
                domain.clone()
            } else {
                format!("{domain} ({shown})")
            };
            found.push(format!(
                "{what} domain {shown} looks like organisation domain {target} ({how})"
            ));
        }
    }
    if !found.is_empty() {
        out.push(reason("lookalike-domain", 5, found.join("; ")));
    }
}

/// Why `domain` (organisational domain `org`) looks like the organisation
/// domain `target`, if it does.
fn looks_like(domain: &str, org: &str, target: &str, max: u8) -> Option<&'static str> {
    // Not a host name (a hostile header can hold a megabyte "domain"):
    // nothing to look like, and no quadratic distance over it.
    if domain.len() > MAX_NAME {
        return None;
    }
    let (c, t) = (fold(&unicode(org)), fold(&unicode(target)));
    if c == t {
        return Some("confusable characters");
    }
    let ((c_name, _), (t_name, _)) = (split_suffix(&c), split_suffix(&t));
    if c_name == t_name {
        return Some("same name under another suffix");
    }
    let full = fold(&unicode(domain));
    if full.starts_with(&format!("{t}.")) {
        return Some("embeds the organisation domain");
    }
    // The distance of the plain names too: folding can lengthen a name
    // (`m` becomes `rn`), which makes a swap across it cost two.
    let (pc, pt) = (unicode(org), unicode(target));
    if max > 0
        && split_suffix(&pt).0.chars().count() >= MIN_EDIT_LEN
        && osa_distance(&c, &t).min(osa_distance(&pc, &pt)) <= usize::from(max)
    {
        return Some("edit distance");
    }
    None
}

/// Optimal string alignment distance over characters; exact up to 3 (the
/// largest `lookalike_max_distance`), a lower bound above.
pub(crate) fn osa_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if a.len().abs_diff(b.len()) > 3 {
        // More than any configurable distance: skip the table.
        return a.len().abs_diff(b.len());
    }
    let w = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * w];
    for i in 0..=a.len() {
        d[i * w] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(w) {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[(i - 1) * w + j] + 1)
                .min(d[i * w + j - 1] + 1)
                .min(d[(i - 1) * w + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[(i - 2) * w + j - 2] + 1);
            }
            d[i * w + j] = v;
        }
    }
    d[a.len() * w + b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance() {
        for (a, b, n) in [
            ("example", "example", 0),
            ("exmaple", "example", 1),
            ("examp1e", "example", 1),
            ("exampl", "example", 1),
            ("", "abc", 3),
            ("kitten", "sitting", 3),
            ("a", "abcdefgh", 7),
        ] {
            assert_eq!(osa_distance(a, b), n, "{a} {b}");
        }
    }

    #[test]
    fn folds() {
        assert_eq!(fold("EXAMP1E.COM"), fold("example.com"));
        assert_eq!(fold("g00gle"), fold("google"));
        assert_eq!(fold("ex\u{430}mple"), fold("example"));
        assert_ne!(fold("exannple"), fold("example.org"));
    }
}
