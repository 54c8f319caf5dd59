//! Per-record analysis: a pure function over a stored [`Record`], the
//! `[analysis]` configuration and the store's sender history, giving a score
//! 0–10, a [`Verdict`] and the rules that fired, each with its points and a
//! sentence naming the domains involved (so every verdict explains itself).
//!
//! | rule | points | fires when | file |
//! |---|---|---|---|
//! | `tampered-stamp` | 6 | the topmost header claiming a trusted authserv-id does not parse by the strict grammar, or lacks the valid seal its id requires (auth source `tampered`; results unknown) | `auth.rs` |
//! | `stamp-author-mismatch` | 6 | the stamp's DMARC `header.from` is none of the copy's author domains: the `From:` field reads differently after the hops (a line over 998 octets broken in transit) | `auth.rs` |
//! | `journal-untrusted` | 3 | a message shaped like an Exchange journal report that is not from `[sensor] journal_sources` (recorded as it is, not unwrapped) | `auth.rs` |
//! | `auth-fail` | SPF fail 2, softfail 1, DKIM fail (no signature passed) 2, DMARC fail 3; at most 5 | the trusted results report failures | `auth.rs` |
//! | `dmarc-unaligned` | 3 | results exist but neither a passing SPF `smtp.mailfrom` domain nor a passing DKIM `header.d` is aligned with the `From:` domain (RFC 7489 §3.1; relaxed = same organisational domain by the Public Suffix List, strict = same name; `[analysis] alignment`) | `auth.rs` |
//! | `no-auth-results` | 1 | no trusted authentication header at all | `auth.rs` |
//! | `ambiguous-from` | 3 | the message does not name exactly one author: several author addresses (a list in `From:`, or several `From:` fields), or a `From:` that is missing, empty or not RFC 5322 | `authors.rs` |
//! | `display-name-impersonation` | 4 for a protected name (`vip_names`) used from outside `org_domains`; 3 for an address in the display name whose domain is not the sender's | display name abuse | `names.rs` |
//! | `lookalike-domain` | 5 | the `From:`, `Sender:`, `Reply-To:` or envelope sender domain is not an organisation domain but looks like one: same UTS #39 confusable skeleton (also through IDN/punycode), the same name under another public suffix, the organisation domain embedded as leading labels, or an edit distance (with transpositions) of at most `lookalike_max_distance` | `lookalike.rs` |
//! | `reply-to-mismatch` | 2 | a `Reply-To:` address is in another organisational domain than `From:` | `sender.rs` |
//! | `first-seen-domain` | 1 | the sender domain (the envelope sender's, else `From:`'s) has never been stored before, by any sensor on this store | `sender.rs` |
//!
//! The score is the sum of the points, capped at 10. The verdict is
//! `malicious` from `malicious_score` (default 6), `suspicious` from
//! `suspicious_score` (default 3), else `trusted`: one weak signal (a new
//! domain, a Reply-To elsewhere) never makes a message suspicious alone,
//! while spoofing (unaligned + DMARC fail) or a lookalike domain seen for
//! the first time is malicious.
//!
//! The history is asked through the [`History`] trait, which the
//! [`Store`](crate::store::Store) implements with an indexed query, so every
//! sensor sharing a store shares what "first seen" means. A history error
//! leaves that one rule out (logged), never the record.

mod auth;
mod authors;
mod lookalike;
mod names;
mod sender;

use crate::config::AnalysisConfig;
use crate::model::{Reason, Record, Verdict};

/// The most a score can be.
pub const MAX_SCORE: u8 = 10;

/// What the analysis needs to know about earlier mail.
pub trait History {
    /// Whether a record with this sender domain (lowercased, as the store's
    /// `sender_domain` column holds it) has been stored before.
    ///
    /// # Errors
    /// The history could not be read; the rule that asked is skipped.
    fn seen_sender_domain(&self, domain: &str) -> Result<bool, String>;
}

/// A history that has seen every domain (no `first-seen-domain`), for
/// analysing a message outside a store.
#[derive(Debug, Clone, Copy, Default)]
pub struct SeenAll;

impl History for SeenAll {
    fn seen_sender_domain(&self, _domain: &str) -> Result<bool, String> {
        Ok(true)
    }
}

/// The outcome for one record.
#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    /// Trusted, suspicious or malicious.
    pub verdict: Verdict,
    /// Sum of the points, 0–10.
    pub score: u8,
    /// The rules that fired, in the order of the rule table.
    pub reasons: Vec<Reason>,
}

/// Analyses `rec` (which is not changed).
pub fn analyse(rec: &Record, cfg: &AnalysisConfig, history: &dyn History) -> Analysis {
    let mut reasons = Vec::new();
    auth::check(rec, cfg, &mut reasons);
    authors::check(rec, &mut reasons);
    names::check(rec, cfg, &mut reasons);
    lookalike::check(rec, cfg, &mut reasons);
    sender::check(rec, history, &mut reasons);
    let score = reasons
        .iter()
        .fold(0u8, |s, r| s.saturating_add(r.points))
        .min(MAX_SCORE);
    let verdict = if score >= cfg.malicious_score {
        Verdict::Malicious
    } else if score >= cfg.suspicious_score {
        Verdict::Suspicious
    } else {
        Verdict::Trusted
    };
    Analysis {
        verdict,
        score,
        reasons,
    }
}

/// Analyses `rec` and stores the outcome in its `verdict`, `score` and
/// `reasons`.
pub fn apply(rec: &mut Record, cfg: &AnalysisConfig, history: &dyn History) {
    let a = analyse(rec, cfg, history);
    rec.verdict = Some(a.verdict);
    rec.score = Some(a.score);
    rec.reasons = a.reasons;
}

/// A reason.
fn reason(rule: &str, points: u8, detail: String) -> Reason {
    Reason {
        rule: rule.to_string(),
        points,
        detail,
    }
}

/// The domain of an address (`local@domain`, or a bare domain), lowercased,
/// without a trailing dot or angle brackets; `None` when empty.
pub(crate) fn domain_of(address: &str) -> Option<String> {
    let a = address.trim().trim_start_matches('<').trim_end_matches('>');
    let d = a.rsplit_once('@').map_or(a, |(_, d)| d);
    let d = d.trim().trim_end_matches('.').to_lowercase();
    (!d.is_empty()).then_some(d)
}

/// The organisational domain (PSL) of `domain`, or the name itself when it
/// has none (a bare suffix, an invalid name), so two names compare.
pub(crate) fn org_of(domain: &str) -> String {
    crate::model::organizational_domain(domain).unwrap_or_else(|| domain.to_lowercase())
}

/// The `From:` domain.
pub(crate) fn from_domain(rec: &Record) -> Option<String> {
    rec.from
        .as_ref()
        .and_then(|m| m.address.as_deref())
        .and_then(domain_of)
}

/// The sender domain as the store's `sender_domain` column derives it: the
/// original envelope sender's domain, else the `From:` domain.
pub(crate) fn sender_domain(rec: &Record) -> Option<String> {
    rec.original
        .mailfrom
        .as_deref()
        .filter(|m| !m.trim().is_empty())
        .and_then(domain_of)
        .or_else(|| from_domain(rec))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains() {
        assert_eq!(
            domain_of("<A@Example.COM.>").as_deref(),
            Some("example.com")
        );
        assert_eq!(domain_of("example.org").as_deref(), Some("example.org"));
        assert_eq!(domain_of("  "), None);
        assert_eq!(org_of("a.b.example.co.uk"), "example.co.uk");
        assert_eq!(org_of("co.uk"), "co.uk");
    }
}
