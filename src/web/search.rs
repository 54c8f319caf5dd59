//! The message search shared by the web page, `GET /api/messages` and
//! `authsense messages`: the same parameter names, parsed the same way into
//! a [`Filter`]. Empty values (an HTML form's blank fields) mean "any".

use crate::model::Verdict;
use crate::store::Filter;
use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime};

/// Most records one page may ask for.
pub const MAX_LIMIT: usize = 1000;

/// Search parameters, all optional text as they arrive in a query string.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Search {
    /// Original envelope sender or `From:` address contains this.
    pub sender: Option<String>,
    /// Sender domain (envelope or `From:`), exact.
    pub domain: Option<String>,
    /// A recipient (envelope, `To:`, `Cc:`) contains this.
    pub recipient: Option<String>,
    /// Subject contains this.
    pub subject: Option<String>,
    /// SPF result.
    pub spf: Option<String>,
    /// DKIM result (`pass`: any passing signature).
    pub dkim: Option<String>,
    /// DMARC result.
    pub dmarc: Option<String>,
    /// `x-agari`, `authentication-results` or `none`.
    pub auth_source: Option<String>,
    /// `trusted`, `suspicious` or `malicious`.
    pub verdict: Option<String>,
    /// Analysis score at least this (0–10).
    pub min_score: Option<String>,
    /// Gateway IP, exact.
    pub gateway: Option<String>,
    /// Received at or after: RFC 3339 or an age (`2h`, `7days`).
    pub since: Option<String>,
    /// Received before: RFC 3339 or an age.
    pub until: Option<String>,
    /// Page size (default 100, at most 1000).
    pub limit: Option<String>,
    /// Paging: the last id of the previous page.
    pub after: Option<String>,
}

/// A set, non-blank value, trimmed.
fn val(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn num<T: std::str::FromStr>(name: &str, v: &Option<String>) -> Result<Option<T>, String> {
    val(v)
        .map(|s| {
            s.parse()
                .map_err(|_| format!("{name}={s:?} is not a valid number"))
        })
        .transpose()
}

impl Search {
    /// The store filter; `Err` names the parameter that does not parse.
    pub fn to_filter(&self) -> Result<Filter, String> {
        let verdict = val(&self.verdict)
            .map(|s| s.parse::<Verdict>().map_err(|e| format!("verdict: {e}")))
            .transpose()?;
        let min_score: Option<u8> = num("min_score", &self.min_score)?;
        if min_score.is_some_and(|n| n > 10) {
            return Err("min_score must be 0 to 10".into());
        }
        let limit: Option<usize> = num("limit", &self.limit)?;
        if limit.is_some_and(|n| n == 0 || n > MAX_LIMIT) {
            return Err(format!("limit must be 1 to {MAX_LIMIT}"));
        }
        Ok(Filter {
            since: val(&self.since)
                .map(|s| parse_time("since", &s))
                .transpose()?,
            until: val(&self.until)
                .map(|s| parse_time("until", &s))
                .transpose()?,
            sender: val(&self.sender),
            sender_domain: val(&self.domain),
            recipient: val(&self.recipient),
            subject: val(&self.subject),
            spf: val(&self.spf),
            auth_source: val(&self.auth_source),
            dkim: val(&self.dkim),
            dmarc: val(&self.dmarc),
            verdict,
            min_score,
            gateway: val(&self.gateway),
            limit,
            after_id: num("after", &self.after)?,
        })
    }

    /// The query string for the same search with `after` replaced (the
    /// "older" link), percent-encoded.
    pub fn query_string(&self, after: Option<i64>) -> String {
        let fields = [
            ("sender", &self.sender),
            ("domain", &self.domain),
            ("recipient", &self.recipient),
            ("subject", &self.subject),
            ("spf", &self.spf),
            ("dkim", &self.dkim),
            ("dmarc", &self.dmarc),
            ("auth_source", &self.auth_source),
            ("verdict", &self.verdict),
            ("min_score", &self.min_score),
            ("gateway", &self.gateway),
            ("since", &self.since),
            ("until", &self.until),
            ("limit", &self.limit),
        ];
        let mut parts: Vec<String> = fields
            .iter()
            .filter_map(|(k, v)| val(v).map(|v| format!("{k}={}", encode(&v))))
            .collect();
        if let Some(a) = after {
            parts.push(format!("after={a}"));
        }
        parts.join("&")
    }
}

/// Percent-encodes everything but unreserved characters (RFC 3986 §2.3).
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A time: RFC 3339 (`2026-11-27T10:00:00Z`) or an age before now (`2h`,
/// `30min`, `7days`); `name` is the parameter, for the error.
pub fn parse_time(name: &str, s: &str) -> Result<SystemTime, String> {
    if let Ok(t) = humantime::parse_rfc3339_weak(s) {
        return Ok(t);
    }
    let age: Duration = humantime::parse_duration(s).map_err(|_| {
        format!("{name} {s:?}: want RFC 3339 (2026-11-27T10:00:00Z) or an age (2h, 7days)")
    })?;
    SystemTime::now()
        .checked_sub(age)
        .ok_or_else(|| format!("{name} {s:?} is too far back"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blanks_are_any_and_errors_name_the_parameter() {
        let s = Search {
            sender: Some("  ".into()),
            subject: Some(" Invoice ".into()),
            verdict: Some("malicious".into()),
            ..Search::default()
        };
        let f = s.to_filter().unwrap();
        assert_eq!(f.sender, None);
        assert_eq!(f.subject.as_deref(), Some("Invoice"));
        assert_eq!(f.verdict, Some(Verdict::Malicious));
        for (s, words) in [
            (
                Search {
                    min_score: Some("x".into()),
                    ..Search::default()
                },
                "min_score",
            ),
            (
                Search {
                    min_score: Some("11".into()),
                    ..Search::default()
                },
                "min_score",
            ),
            (
                Search {
                    limit: Some("0".into()),
                    ..Search::default()
                },
                "limit",
            ),
            (
                Search {
                    since: Some("yesterday".into()),
                    ..Search::default()
                },
                "since",
            ),
            (
                Search {
                    verdict: Some("bad".into()),
                    ..Search::default()
                },
                "verdict",
            ),
        ] {
            let e = s.to_filter().unwrap_err();
            assert!(e.contains(words), "{e}");
        }
    }

    #[test]
    fn query_string_round_trips_encoded() {
        let s = Search {
            subject: Some("a&b c".into()),
            spf: Some("fail".into()),
            ..Search::default()
        };
        assert_eq!(
            s.query_string(Some(7)),
            "subject=a%26b%20c&spf=fail&after=7"
        );
    }
}
