//! SPF for the HELO and MAIL FROM identities (RFC 7208 §2.3, §2.4), evaluated
//! concurrently under one time budget by `viaspf`, an RFC 7208 implementation
//! written from the RFC (vendor/viaspf, with the fixes listed in its
//! AUTHSENSE.md). viaspf itself gives: several `v=spf1` records → permerror
//! (§4.5); the §12 ABNF, a syntax error anywhere → permerror (§4.6); at most
//! ten DNS terms and two void lookups (§4.6.4); the `exp=` rules (§6.2);
//! IPv4-mapped clients as IPv4 (§5); macro expansion with left truncation of
//! long names (§7). DNS goes through the shared resolver
//! ([`super::spf_lookup`]).
//!
//! This module adds the null reverse-path as `postmaster@<helo>` and the
//! overall budget: whatever has not finished when it runs out is temperror.

use super::{spf_lookup::DnsLookup, Authenticator, SpfResult};
use std::{net::IpAddr, time::Duration};
use viaspf::{Config, DomainName, ExplanationString, Sender};

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
        let config = Config::builder().hostname(req.receiver).build();
        let helo = self.check_identity(&config, ip, req.helo, &helo_id, true);
        let mail = self.check_identity(&config, ip, req.helo, &sender, false);
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

    /// One `check_host()` run for `identity` (`user@domain`, or
    /// `postmaster@<helo>` for the HELO identity).
    async fn check_identity(
        &self,
        config: &Config,
        ip: IpAddr,
        helo: &str,
        identity: &str,
        helo_scope: bool,
    ) -> SpfCheck {
        let mut check = SpfCheck {
            result: SpfResult::None,
            identity: identity.to_string(),
            explanation: None,
        };
        // §4.3: a malformed or single-label domain is `none`, not looked up.
        let Some(sender) = sender_of(identity, helo, helo_scope) else {
            return check;
        };
        // `%{h}`: "unknown" when the HELO is no domain name (viaspf's choice).
        let helo_domain = helo.parse::<DomainName>().ok();
        let lookup = DnsLookup::new(self.resolver.resolver());
        let out = viaspf::evaluate_sender(&lookup, config, ip, &sender, helo_domain.as_ref()).await;
        if let viaspf::SpfResult::Fail(ExplanationString::External(exp)) = &out.spf_result {
            check.explanation = Some(exp.clone());
        }
        check.result = SpfResult::from(out.spf_result);
        if let Some(cause) = out.cause {
            tracing::debug!(identity, result = %check.result, ?cause, "SPF result cause");
        }
        check
    }
}

/// viaspf's sender for `identity`; `None` when its domain is not checkable.
fn sender_of(identity: &str, helo: &str, helo_scope: bool) -> Option<Sender> {
    if helo_scope {
        Sender::from_domain(helo).ok()
    } else {
        Sender::from_address(identity).ok()
    }
}

impl From<viaspf::SpfResult> for SpfResult {
    fn from(r: viaspf::SpfResult) -> Self {
        use viaspf::SpfResult as V;
        match r {
            V::None => SpfResult::None,
            V::Neutral => SpfResult::Neutral,
            V::Pass => SpfResult::Pass,
            V::Fail(_) => SpfResult::Fail,
            V::Softfail => SpfResult::SoftFail,
            V::Temperror => SpfResult::TempError,
            V::Permerror => SpfResult::PermError,
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkable_identities() {
        for (identity, helo, helo_scope, want) in [
            ("a@example.org", "h", false, Some("a")),
            ("a@mail.example.org.", "h", false, Some("a")),
            ("postmaster@x", "mail.example.org", true, Some("postmaster")),
            ("a b@example.org", "h", false, Some("a b")),
            ("a@[192.0.2.1]", "h", false, None),
            ("a@laptop", "h", false, None),
            ("a@a..example", "h", false, None),
            ("postmaster@laptop", "laptop", true, None),
            ("postmaster@[192.0.2.1]", "[192.0.2.1]", true, None),
            ("a@", "h", false, None),
        ] {
            let got = sender_of(identity, helo, helo_scope);
            assert_eq!(
                got.as_ref().map(Sender::local_part),
                want,
                "{identity} / {helo}"
            );
        }
        let long_label = format!("a@{}.example", "a".repeat(64));
        assert!(sender_of(&long_label, "h", false).is_none());
    }

    /// A local part that is not RFC 5321 syntax (VERP addresses over 64
    /// octets, unquoted spaces) must not hide the domain's policy.
    #[test]
    fn any_local_part_is_checked() {
        for local in ["a..b", ".a", &"v".repeat(65), &"x".repeat(1000)] {
            let sender = sender_of(&format!("{local}@example.org"), "h", false)
                .unwrap_or_else(|| panic!("{local:?} has a checkable domain"));
            assert_eq!(sender.local_part(), local);
            assert_eq!(sender.domain().to_string(), "example.org");
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
