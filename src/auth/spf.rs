//! SPF for the HELO and MAIL FROM identities (RFC 7208 §2.3, §2.4), evaluated
//! concurrently under one time budget, with two gaps of `mail-auth` closed:
//!
//! * several `v=spf1` records at one name must give permerror (§4.5; mail-auth
//!   keeps the first that parses). Every name whose TXT records an evaluation
//!   fetched is recorded and its record count checked afterwards — the second
//!   lookup is answered from the resolver's cache.
//! * an IPv4-mapped IPv6 client is an IPv4 client (§5: `a`/`mx` must look up
//!   A records, not AAAA).
//! * every record an evaluation fetched is checked against the RFC 7208 §12
//!   ABNF ([`super::spf_syntax`]): a syntax error anywhere is permerror (§4.6),
//!   even past the mechanism that matched.
//! * more than two void lookups is permerror (§4.6.4).
//! * an `exp=` target with other than exactly one TXT record, or with an
//!   invalid explain-string, gives no explanation (§6.2).
//! * one re-run with corrected inputs, only when needed: PTR names without
//!   the trailing dot (else `ptr` never matches the exact domain, §5.5), `ip6`
//!   mechanisms made unable to match an IPv4 client (§5.6), and records
//!   mail-auth rejects only for an unknown modifier's name (§6, §12).
//!
//! mail-auth sees a [`Probe`](super::spf_probe) as all its caches: it serves the corrections
//! and records what was fetched; the checks re-read raw TXT from the
//! resolver's cache, so they add no queries.

use super::spf_probe::{Preload, Probe};
use super::{spf_syntax, Authenticator, SpfResult};
use mail_auth::{hickory_resolver::proto::rr::RData, spf::verify::SpfParameters, Parameters, Txt};
use std::{net::IpAddr, sync::Mutex, time::Duration};

/// What to check: the identities of one SMTP transaction.
#[derive(Debug, Clone, Copy)]
pub struct SpfRequest<'a> {
    /// The SMTP client's address (from the connect stage).
    pub ip: IpAddr,
    /// The HELO/EHLO argument.
    pub helo: &'a str,
    /// The MAIL FROM address without angle brackets; empty for the null
    /// reverse-path.
    pub mail_from: &'a str,
    /// The receiving host's name (`%{r}`).
    pub receiver: &'a str,
}

/// The result of one identity check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpfCheck {
    /// The result.
    pub result: SpfResult,
    /// The identity checked (`user@domain`, or `postmaster@helo`).
    pub identity: String,
    /// The domain's explanation (`exp=`), for a fail.
    pub explanation: Option<String>,
}

/// Both identity checks of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpfVerdict {
    /// HELO identity (§2.3).
    pub helo: SpfCheck,
    /// MAIL FROM identity (§2.4); for the null reverse-path this is
    /// `postmaster@<helo>`, which is then the stamp's `smtp.mailfrom`.
    pub mail_from: SpfCheck,
    /// The budget ran out before both checks finished.
    pub timed_out: bool,
}

/// `postmaster@<helo>` stands in for the null reverse-path (§2.4).
pub fn effective_sender(mail_from: &str, helo: &str) -> String {
    if mail_from.is_empty() {
        format!("postmaster@{helo}")
    } else if let Some(domain) = mail_from.strip_prefix('@') {
        format!("postmaster@{domain}")
    } else if !mail_from.contains('@') {
        format!("postmaster@{mail_from}")
    } else {
        mail_from.to_string()
    }
}

impl Authenticator {
    /// Checks both identities concurrently; when `budget` runs out, whatever
    /// has not finished is `temperror`.
    pub async fn check_spf(&self, req: &SpfRequest<'_>, budget: Duration) -> SpfVerdict {
        let ip = req.ip.to_canonical();
        let sender = effective_sender(req.mail_from, req.helo);
        let helo_id = format!("postmaster@{}", req.helo);
        let helo = self.check_identity(ip, req.helo, &helo_id, req.receiver, true);
        let mail = self.check_identity(ip, req.helo, &sender, req.receiver, false);
        match tokio::time::timeout(budget, async { tokio::join!(helo, mail) }).await {
            Ok((helo, mail_from)) => SpfVerdict {
                helo,
                mail_from,
                timed_out: false,
            },
            Err(_) => SpfVerdict {
                helo: SpfCheck::temperror(helo_id),
                mail_from: SpfCheck::temperror(sender),
                timed_out: true,
            },
        }
    }

    /// One `check_host()` run for `sender` (or the HELO identity).
    async fn check_identity(
        &self,
        ip: IpAddr,
        helo: &str,
        sender: &str,
        receiver: &str,
        helo_scope: bool,
    ) -> SpfCheck {
        // §4.3: a malformed or single-label domain is `none`, not looked up.
        let domain = sender.rsplit_once('@').map_or(sender, |(_, d)| d);
        if !is_checkable_domain(domain) {
            return SpfCheck {
                result: SpfResult::None,
                identity: sender.to_string(),
                explanation: None,
            };
        }
        let mut pre = Preload::default();
        let mut first = true;
        loop {
            let probe = Probe {
                pre: &pre,
                seen: Mutex::default(),
            };
            let params = if helo_scope {
                SpfParameters::verify_ehlo(ip, helo, receiver)
            } else {
                SpfParameters::verify_mail_from(ip, helo, receiver, sender)
            };
            let out = self
                .resolver
                .verify_spf(
                    Parameters::new(params)
                        .with_txt_cache(&probe)
                        .with_mx_cache(&probe)
                        .with_ipv4_cache(&probe)
                        .with_ipv6_cache(&probe)
                        .with_ptr_cache(&probe),
                )
                .await;
            let mut result = SpfResult::from(out.result());
            let seen = probe.seen.into_inner().unwrap_or_else(|p| p.into_inner());
            let audit = self.audit(&seen.txt).await;
            if first && !audit.permerror && pre.correct(&seen, &audit, ip) {
                first = false;
                continue;
            }
            if audit.permerror
                || (result != SpfResult::TempError && seen.void_lookups() > MAX_VOID_LOOKUPS)
            {
                result = SpfResult::PermError;
            }
            return SpfCheck {
                result,
                identity: sender.to_string(),
                explanation: out
                    .explanation()
                    .map(str::to_string)
                    .filter(|_| result == SpfResult::Fail && audit.exp_ok),
            };
        }
    }

    /// Re-reads (from the resolver cache) the raw TXT of every name the
    /// evaluation fetched: more than one `v=spf1` record (§4.5) or one with a
    /// syntax error (§4.6) is permerror; an `exp=` target must hold exactly
    /// one valid explain-string (§6.2).
    async fn audit(&self, names: &[(Box<str>, Txt)]) -> Audit {
        let mut audit = Audit {
            exp_ok: true,
            ..Audit::default()
        };
        for (name, txt) in names {
            let Ok(lookup) = self.resolver.resolver().txt_lookup(name.as_ref()).await else {
                continue;
            };
            let texts: Vec<Vec<u8>> = lookup
                .answers()
                .iter()
                .filter_map(|rr| match &rr.data {
                    RData::TXT(txt) => Some(txt.txt_data.concat()),
                    _ => None,
                })
                .collect();
            if matches!(txt, Txt::SpfMacro(_)) {
                audit.exp_ok &= texts.len() == 1
                    && texts
                        .iter()
                        .all(|t| spf_syntax::check_explanation(t).is_ok());
                continue;
            }
            match texts.iter().filter(|t| is_spf1(t)).collect::<Vec<_>>()[..] {
                [] => {}
                [record] => match spf_syntax::check_record(record) {
                    Ok(()) => audit.valid.push((name.clone(), record.clone())),
                    Err(e) => {
                        tracing::debug!(%name, error = %e, "SPF record syntax error");
                        audit.permerror = true;
                    }
                },
                _ => audit.permerror = true,
            }
        }
        audit
    }
}

/// The SHOULD-limit on void lookups (§4.6.4).
const MAX_VOID_LOOKUPS: usize = 2;

/// What [`Authenticator::audit`] found.
#[derive(Default)]
pub(super) struct Audit {
    /// A fetched name has several SPF records, or an invalid one.
    pub(super) permerror: bool,
    /// The explanation, if any, may be used.
    pub(super) exp_ok: bool,
    /// The valid SPF record text of each fetched name that has one.
    pub(super) valid: Vec<(Box<str>, Vec<u8>)>,
}

impl SpfCheck {
    fn temperror(identity: String) -> Self {
        SpfCheck {
            result: SpfResult::TempError,
            identity,
            explanation: None,
        }
    }
}

/// RFC 7208 §4.3: a multi-label domain name whose labels are 1–63 octets of
/// letters, digits, `-` or `_` (total at most 253); anything else (an address
/// literal, an empty label) has no SPF answer.
fn is_checkable_domain(domain: &str) -> bool {
    let d = domain.strip_suffix('.').unwrap_or(domain);
    let labels: Vec<&str> = d.split('.').collect();
    d.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            (1..=63).contains(&l.len())
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// `v=spf1` followed by a space or the end of the record (§4.5), any case.
fn is_spf1(record: &[u8]) -> bool {
    record.len() >= 6
        && record[..6].eq_ignore_ascii_case(b"v=spf1")
        && (record.len() == 6 || record[6] == b' ')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spf1_version_detection() {
        for (rec, want) in [
            (&b"v=spf1 -all"[..], true),
            (b"v=spf1", true),
            (b"V=SPF1 a", true),
            (b"v=spf10 -all", false),
            (b"v=spf1-all", false),
            (b"spf2.0/pra -all", false),
            (b"", false),
        ] {
            assert_eq!(is_spf1(rec), want, "{:?}", String::from_utf8_lossy(rec));
        }
    }

    #[test]
    fn checkable_domains() {
        for (d, want) in [
            ("example.org", true),
            ("mail.example.org.", true),
            ("_spf.example.org", true),
            ("[192.0.2.1]", false),
            ("laptop", false),
            ("a..example", false),
            ("", false),
            (&format!("{}.example", "a".repeat(64)), false),
        ] {
            assert_eq!(is_checkable_domain(d), want, "{d}");
        }
    }

    #[test]
    fn null_and_partial_senders() {
        assert_eq!(
            effective_sender("", "mail.example.org"),
            "postmaster@mail.example.org"
        );
        assert_eq!(
            effective_sender("@example.org", "h"),
            "postmaster@example.org"
        );
        assert_eq!(
            effective_sender("example.org", "h"),
            "postmaster@example.org"
        );
        assert_eq!(effective_sender("a@example.org", "h"), "a@example.org");
    }
}
