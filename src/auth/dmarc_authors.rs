//! DMARC for all of a message's authors (RFC 7489 §6.6.1): the author
//! domains come from every `From:` field, read with the shared RFC 5322
//! parser ([`crate::headers::address`]); each distinct domain is evaluated
//! ([`Authenticator::check_dmarc`]) and the message gets the strictest
//! result ([`strictest`]).
//!
//! Strictest first: `fail` of a domain whose published policy is `reject`,
//! then `quarantine`, then `none`; `permerror`; `temperror`; `none`; `pass`.
//! So a message passes only when every author domain passes, and is never
//! `none` (or `pass`) while an author domain with a published policy fails.
//!
//! `permerror` also stands for what cannot be evaluated: no `From:` field,
//! a field that does not parse or names no mailbox, an author domain that
//! is not a DNS name (a domain-literal), and authors beyond the first
//! [`MAX_AUTHOR_DOMAINS`] domains.
//!
//! A `From:` line over 998 octets is also read as the next hop receives it
//! (broken with CRLF + space at octet 998): that reading is what mail
//! clients and the sensor show, so when it names another author, that
//! author is evaluated too (and the field is a `permerror`).

use super::{Authenticator, DmarcInput, DmarcPolicy, DmarcResult, DmarcVerdict};
use crate::headers::address::{parse_address_list, Mailbox};
use crate::headers::stamp::{longest_line, MAX_LINE};
use crate::model::normalize_domain as normalize;
use std::collections::HashSet;
use std::time::Duration;

/// The most author domains evaluated for one message: the lookups are
/// bounded whatever a hostile `From:` lists. More domains add a
/// `permerror` (the evaluated ones may still fail, which is stricter).
pub const MAX_AUTHOR_DOMAINS: usize = 8;

/// The authors of a message as DMARC needs them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Authors {
    /// Every distinct author domain (lowercased), in header order.
    pub domains: Vec<String>,
    /// Why the `From:` fields do not name usable authors: no field, a
    /// field that does not parse (with the parser's error), a field with no
    /// mailbox. The first problem found; `None` when every field parsed.
    pub problem: Option<String>,
}

impl Authors {
    /// The authors named by the `From:` field values, in header order.
    ///
    /// A field with a line over [`MAX_LINE`] octets is also read as the
    /// next hop receives it ([`transported`]): when that reading names
    /// other domains (or none), its domains are evaluated too and the
    /// field is a problem (`permerror`), so the strictest result covers
    /// the author that mail clients will show.
    pub fn from_fields<I>(values: I) -> Authors
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let mut authors = Authors::default();
        let mut seen = HashSet::new();
        let mut fields = 0;
        for (i, value) in values.into_iter().enumerate() {
            fields += 1;
            let value = value.as_ref();
            let read = parse_address_list(value);
            let mut problem = match &read {
                Err(e) => Some(format!("From field {} does not parse: {e}", i + 1)),
                Ok(list) if list.is_empty() => {
                    Some(format!("From field {} names no mailbox", i + 1))
                }
                Ok(_) => None,
            };
            let mut lists: Vec<Vec<Mailbox>> = read.into_iter().collect();
            // Without SMFIP_HDR_LEADSPC the MTA ate one space after the
            // colon and the milter put one back: the line may be one octet
            // shorter than `value` says.
            let values = [Some(value), value.strip_prefix(' ')];
            for after in values.into_iter().flatten().filter_map(transported) {
                let again = parse_address_list(&after);
                if domains(lists.first()) != domains(again.as_ref().ok()) {
                    problem.get_or_insert(format!(
                        "From field {} has a line over {MAX_LINE} octets and names other \
                         authors once a transport breaks it",
                        i + 1
                    ));
                    lists.extend(again);
                }
            }
            for m in lists.into_iter().flatten() {
                if seen.insert(m.domain.clone()) {
                    authors.domains.push(m.domain);
                }
            }
            if let Some(p) = problem {
                authors.problem.get_or_insert(p);
            }
        }
        if fields == 0 {
            authors.problem = Some("no From field".into());
        }
        authors
    }
}

/// The domains of a parsed field, in order; empty for none.
fn domains(list: Option<&Vec<Mailbox>>) -> Vec<&str> {
    list.map_or_else(Vec::new, |l| l.iter().map(|m| m.domain.as_str()).collect())
}

/// The value of `From:` + `value` as the next hop receives it, when a line
/// is over [`MAX_LINE`] octets (RFC 5322 §2.1.1): Postfix's SMTP client
/// (`smtp_line_length_limit`) inserts CRLF + space at exactly octet 998 of
/// every line, whatever is there. After a backslash that break changes the
/// field: the backslash then quotes the CR (obs-qp) and the next character
/// is no longer quoted. `None` when every line fits.
fn transported(value: &str) -> Option<String> {
    const NAME: &str = "From:";
    if longest_line(&NAME[..4], value) <= MAX_LINE {
        return None;
    }
    let line = format!("{NAME}{value}");
    let bytes = line.as_bytes();
    let mut out = Vec::with_capacity(bytes.len() + 3 * (bytes.len() / MAX_LINE));
    let mut col = 0usize;
    for (i, &b) in bytes.iter().enumerate() {
        let eol = b == b'\n' || (b == b'\r' && bytes.get(i + 1) == Some(&b'\n'));
        if !eol && col == MAX_LINE {
            out.extend_from_slice(b"\r\n ");
            col = 1;
        }
        out.push(b);
        col = if b == b'\n' { 0 } else { col + 1 };
    }
    let text = String::from_utf8_lossy(&out);
    text.get(NAME.len()..).map(str::to_string)
}

/// A verdict for an author domain that was not evaluated; `from_domain`
/// is empty when there is no domain to name.
fn unevaluated(result: DmarcResult, from_domain: &str) -> DmarcVerdict {
    DmarcVerdict {
        result,
        from_domain: from_domain.to_string(),
        policy: None,
        applied_policy: None,
        spf_aligned: false,
        dkim_aligned: false,
        record_domain: None,
    }
}

/// How strict a verdict is (higher is stricter); see the module
/// documentation.
fn rank(v: &DmarcVerdict) -> (u8, u8, u8) {
    let policy = |p: Option<DmarcPolicy>| match p {
        Some(DmarcPolicy::Reject) => 3,
        Some(DmarcPolicy::Quarantine) => 2,
        Some(DmarcPolicy::None) => 1,
        None => 0,
    };
    let class = match v.result {
        DmarcResult::Fail => 5,
        DmarcResult::PermError => 4,
        DmarcResult::TempError => 3,
        DmarcResult::None => 2,
        DmarcResult::Pass => 1,
    };
    (class, policy(v.policy), policy(v.applied_policy))
}

/// The strictest of `verdicts` (the first of equals), or a `permerror`
/// naming no domain when there is none.
pub fn strictest<I: IntoIterator<Item = DmarcVerdict>>(verdicts: I) -> DmarcVerdict {
    verdicts
        .into_iter()
        .fold(None::<DmarcVerdict>, |best, v| match best {
            Some(b) if rank(&b) >= rank(&v) => Some(b),
            _ => Some(v),
        })
        .unwrap_or_else(|| unevaluated(DmarcResult::PermError, ""))
}

impl Authenticator {
    /// DMARC for every author (RFC 7489 §6.6.1), the strictest result
    /// first (module documentation). `input` gives the SPF and DKIM
    /// results; its `from_domain` is not used. Each domain is evaluated
    /// concurrently within `budget`; one that runs out of time is
    /// `temperror`, and the others keep their results.
    pub async fn check_dmarc_authors(
        &self,
        authors: &Authors,
        input: &DmarcInput<'_>,
        pct_roll: u8,
        budget: Duration,
    ) -> DmarcVerdict {
        let deadline = tokio::time::Instant::now() + budget;
        let checks = authors
            .domains
            .iter()
            .take(MAX_AUTHOR_DOMAINS)
            .map(|domain| async move {
                if normalize(domain).is_none() {
                    // Not a DNS name: nothing to look up, and nothing the
                    // stamp could name without quoting.
                    return unevaluated(DmarcResult::PermError, "");
                }
                let one = DmarcInput {
                    from_domain: domain,
                    ..*input
                };
                tokio::time::timeout_at(deadline, self.check_dmarc(&one, pct_roll))
                    .await
                    .unwrap_or_else(|_| unevaluated(DmarcResult::TempError, domain))
            });
        let mut verdicts = futures_util::future::join_all(checks).await;
        if authors.problem.is_some() || authors.domains.len() > MAX_AUTHOR_DOMAINS {
            verdicts.push(unevaluated(DmarcResult::PermError, ""));
        }
        strictest(verdicts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(result: DmarcResult, domain: &str, policy: Option<DmarcPolicy>) -> DmarcVerdict {
        DmarcVerdict {
            policy,
            applied_policy: policy.filter(|_| result == DmarcResult::Fail),
            ..unevaluated(result, domain)
        }
    }

    #[test]
    fn authors_from_every_field() {
        let a = Authors::from_fields(["a@ Example.COM", "b@(c)example.com, c@other.example"]);
        assert_eq!(a.domains, ["example.com", "other.example"]);
        assert_eq!(a.problem, None);
        let a = Authors::from_fields(Vec::<String>::new());
        assert_eq!(a.problem.as_deref(), Some("no From field"));
        let a = Authors::from_fields(["undisclosed-recipients:;"]);
        assert!(a.domains.is_empty());
        assert_eq!(a.problem.as_deref(), Some("From field 1 names no mailbox"));
        let a = Authors::from_fields(["a@x.example", "Postmaster\\@example.com@xxx.com"]);
        assert_eq!(a.domains, ["x.example"]);
        assert_eq!(
            a.problem.as_deref(),
            Some("From field 2 does not parse: character not allowed outside quotes at octet 10")
        );
    }

    /// `From:` + `value` is exactly `len` octets on its first line.
    fn padded(prefix: &str, len: usize, rest: &str) -> String {
        let pad = "a".repeat(len - "From:".len() - prefix.len());
        format!("{prefix}{pad}{rest}")
    }

    #[test]
    fn a_long_field_is_also_read_as_the_next_hop_receives_it() {
        // A backslash at octet 998: the milter reads one quoted display
        // name and the attacker's address; after the break the quote ends
        // before x@victim.example and the rest is a comment.
        let head = padded(" \"", MAX_LINE - 1, "\\");
        let mid = "\" <x@victim.example> (\" <a@attacker.example> (";
        let tail = "b".repeat(MAX_LINE - 2 - mid.len());
        let attack = format!("{head}{mid}{tail}\\))");
        let a = Authors::from_fields([attack.as_str()]);
        assert_eq!(a.domains, ["attacker.example", "victim.example"]);
        assert!(a.problem.unwrap().contains("line over 998 octets"));
        // `From:"…` without a space, passed without SMFIP_HDR_LEADSPC: the
        // milter holds one space more than the line has.
        let unspaced = attack.replacen("\"a", "\"aa", 1);
        let a = Authors::from_fields([unspaced.as_str()]);
        assert_eq!(a.domains, ["attacker.example", "victim.example"]);
        // Unreadable before the break, readable after: evaluated.
        let hidden = padded(" (", MAX_LINE - 1, "\\) x@victim.example");
        let a = Authors::from_fields([hidden.as_str()]);
        assert_eq!(a.domains, ["victim.example"]);
        assert!(a.problem.unwrap().contains("does not parse"));
        // A long display name that the break does not change.
        let honest = format!(" \"{}\" <a@attacker.example>", "Sender ".repeat(200));
        let a = Authors::from_fields([honest.as_str()]);
        assert_eq!(
            (a.domains, a.problem),
            (vec!["attacker.example".into()], None)
        );
        // A break inside the address: what the next hop gets names nobody.
        let split = padded(" x@", MAX_LINE - 3, "victim.example");
        let a = Authors::from_fields([split.as_str()]);
        assert!(a.problem.unwrap().contains("names other authors"));
    }

    #[test]
    fn strictest_result_wins() {
        use DmarcPolicy::{None as PNone, Quarantine, Reject};
        use DmarcResult::*;
        let pass = verdict(Pass, "ok.example", Some(Reject));
        let fail_reject = verdict(Fail, "bank.example", Some(Reject));
        let fail_none = verdict(Fail, "mon.example", Some(PNone));
        let fail_quarantine = verdict(Fail, "q.example", Some(Quarantine));
        let none = verdict(None, "nodmarc.example", Option::None);
        let perm = unevaluated(PermError, "");
        let temp = unevaluated(TempError, "slow.example");
        let pick = |vs: &[&DmarcVerdict]| strictest(vs.iter().map(|v| (*v).clone()));
        assert_eq!(pick(&[&pass, &fail_reject]), fail_reject);
        assert_eq!(pick(&[&fail_reject, &pass]), fail_reject);
        assert_eq!(pick(&[&fail_none, &fail_quarantine]), fail_quarantine);
        assert_eq!(
            pick(&[&fail_quarantine, &fail_reject, &fail_none]),
            fail_reject
        );
        // A failing domain with a policy beats every error and none.
        assert_eq!(pick(&[&perm, &temp, &none, &fail_none]), fail_none);
        assert_eq!(pick(&[&pass, &none, &temp, &perm]), perm);
        assert_eq!(pick(&[&pass, &temp, &none]), temp);
        // Pass only when every author passes.
        assert_eq!(pick(&[&pass, &none]), none);
        assert_eq!(pick(&[&pass]), pass);
        // Equals: the first one found.
        let other_pass = verdict(Pass, "second.example", Some(Reject));
        assert_eq!(pick(&[&pass, &other_pass]), pass);
        // Nothing to evaluate at all.
        assert_eq!(pick(&[]), perm);
    }
}
