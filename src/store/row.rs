//! The backend-independent row: the column values the filters use, derived
//! once from a [`Record`] in the inserting task (so the single writer thread
//! only executes SQL), plus the full record as JSON.
//!
//! Every filter column is lowercased here, so case-insensitive matching is
//! a plain comparison or `LIKE` on both SQLite and PostgreSQL.

use super::error::{ErrorKind, StoreError};
use crate::model::Record;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// One record ready to insert.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    /// Receive time, unix milliseconds.
    pub ts_ms: i64,
    /// Unique id of the copy (the idempotency key).
    pub uid: String,
    /// Content-derived idempotency key: SHA-256 over `Message-ID`, the
    /// sorted original recipients and the copy's SHA-256 (`None` without a
    /// Message-ID or body hash). A retried copy, even to another sensor,
    /// has the same key and is stored once.
    pub content_key: Option<String>,
    /// Gateway (peer) IP address.
    pub gateway_ip: String,
    /// Original envelope sender, lowercased.
    pub original_mailfrom: Option<String>,
    /// `From:` address, lowercased.
    pub from_address: Option<String>,
    /// Domain of the original envelope sender, else of `From:`, lowercased.
    pub sender_domain: Option<String>,
    /// Subject, lowercased (the record keeps the original).
    pub subject: Option<String>,
    /// SPF result token.
    pub spf_result: Option<String>,
    /// Where the authentication results came from (`x-agari`, …).
    pub auth_source: String,
    /// `Message-ID:` as recorded.
    pub msg_id: Option<String>,
    /// Envelope recipients and `To:`/`Cc:` addresses, lowercased, deduplicated.
    pub recipients: Vec<String>,
    /// Analysis verdict (`trusted`, `suspicious`, `malicious`).
    pub verdict: Option<String>,
    /// Analysis score 0–10.
    pub score: Option<i64>,
    /// DKIM result: `pass` if any signature passed, else the first result.
    pub dkim_result: Option<String>,
    /// DMARC result token.
    pub dmarc_result: Option<String>,
    /// Gateway HELO name, lowercased.
    pub gateway_helo: String,
    /// STARTTLS was in force.
    pub tls: bool,
    /// The full record (without `id`) as one JSON object.
    pub json: String,
}

impl Row {
    /// Derives the row; `Err` carries a description of what is wrong with the
    /// record.
    pub fn from_record(record: &Record) -> Result<Row, String> {
        if record.uid.trim().is_empty() {
            return Err("record has an empty uid".into());
        }
        let ts = humantime::parse_rfc3339_weak(&record.ts)
            .map_err(|e| format!("record ts {:?} is not RFC 3339 UTC: {e}", record.ts))?;
        // The JSON never carries the row id; clone only to drop one.
        let json = if record.id.is_none() {
            serde_json::to_string(record)
        } else {
            serde_json::to_string(&Record {
                id: None,
                ..record.clone()
            })
        }
        .map_err(|e| format!("cannot encode: {e}"))?;
        let from_address = record
            .from
            .as_ref()
            .and_then(|m| m.address.as_deref())
            .map(str::to_lowercase);
        let original_mailfrom = record
            .original
            .mailfrom
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(str::to_lowercase);
        let sender_domain = original_mailfrom
            .as_deref()
            .and_then(domain_of)
            .or_else(|| from_address.as_deref().and_then(domain_of))
            .map(str::to_string);
        let mut recipients: Vec<String> = record
            .rcptto
            .iter()
            .map(String::as_str)
            .chain(
                record
                    .to
                    .iter()
                    .chain(&record.cc)
                    .filter_map(|m| m.address.as_deref()),
            )
            .filter(|a| !a.is_empty())
            .map(str::to_lowercase)
            .collect();
        recipients.sort();
        recipients.dedup();
        let auth_source = match serde_json::to_value(record.auth.source) {
            Ok(serde_json::Value::String(s)) => s,
            _ => return Err("auth source does not encode as a string".into()),
        };
        Ok(Row {
            ts_ms: unix_ms(ts),
            uid: record.uid.clone(),
            content_key: content_key(record),
            gateway_ip: record.gateway.ip.clone(),
            original_mailfrom,
            from_address,
            sender_domain,
            subject: record.subject.as_deref().map(str::to_lowercase),
            spf_result: record.auth.spf.as_ref().map(|m| m.result.to_lowercase()),
            auth_source,
            msg_id: record.msg_id.clone(),
            recipients,
            verdict: record.verdict.map(|v| v.as_str().to_string()),
            score: record.score.map(i64::from),
            dkim_result: dkim_summary(record),
            dmarc_result: record.auth.dmarc.as_ref().map(|m| m.result.to_lowercase()),
            gateway_helo: record.gateway.helo.to_lowercase(),
            tls: record.gateway.tls,
            json,
        })
    }
}

/// See [`Row::content_key`]. Fields are separated by a NUL, which none of
/// them can contain, so different tuples never hash alike.
pub(crate) fn content_key(record: &Record) -> Option<String> {
    use sha2::{Digest, Sha256};
    let msg_id = record.msg_id.as_deref().filter(|m| !m.is_empty())?;
    let body = record.body_sha256.as_deref()?;
    let mut rcpts: Vec<String> = record.rcptto.iter().map(|r| r.to_lowercase()).collect();
    rcpts.sort();
    rcpts.dedup();
    let mut h = Sha256::new();
    h.update(msg_id.as_bytes());
    for r in &rcpts {
        h.update(b"\0");
        h.update(r.as_bytes());
    }
    h.update(b"\0\0");
    h.update(body.as_bytes());
    Some(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// `pass` if any DKIM signature passed, else the first signature's result.
fn dkim_summary(record: &Record) -> Option<String> {
    let dkim = &record.auth.dkim;
    if dkim.iter().any(|m| m.result.eq_ignore_ascii_case("pass")) {
        return Some("pass".into());
    }
    dkim.first().map(|m| m.result.to_lowercase())
}

/// A stored record's JSON back into a [`Record`] with its row `id` (both
/// backends read the same column).
pub(crate) fn decode(path: &Arc<Path>, id: i64, json: &str) -> Result<Record, StoreError> {
    let mut record: Record = serde_json::from_str(json).map_err(|e| {
        let detail = format!("stored record {id} does not decode: {e}");
        StoreError::new(ErrorKind::Database, "read", path, detail)
    })?;
    record.id = Some(id);
    Ok(record)
}

/// The part after the last `@`, if non-empty.
fn domain_of(address: &str) -> Option<&str> {
    address
        .rsplit_once('@')
        .map(|(_, d)| d.trim_end_matches('>'))
        .filter(|d| !d.is_empty())
}

/// Milliseconds since the Unix epoch (negative before it), saturating.
pub(crate) fn unix_ms(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_millis()).map_or(i64::MIN, |ms| -ms),
    }
}

/// Now minus `days` days, as a cutoff for retention.
pub(crate) fn days_ago(days: u32) -> SystemTime {
    let age = Duration::from_secs(u64::from(days) * 86_400);
    SystemTime::now().checked_sub(age).unwrap_or(UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Mailbox, Original};

    #[test]
    fn derives_lowercased_columns() {
        let rec = Record {
            ts: "2024-05-01T10:00:00.250Z".into(),
            uid: "u1".into(),
            rcptto: vec!["Bob@Example.COM".into()],
            to: vec![Mailbox {
                name: None,
                address: Some("bob@example.com".into()),
            }],
            original: Original {
                mailfrom: Some("Alice@Sender.ORG".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        let row = Row::from_record(&rec).expect("valid record");
        assert_eq!(row.ts_ms, 1_714_557_600_250);
        assert_eq!(row.recipients, ["bob@example.com"]);
        assert_eq!(row.sender_domain.as_deref(), Some("sender.org"));
        assert_eq!(row.auth_source, "none");
    }

    #[test]
    fn content_key_ignores_uid_and_recipient_order() {
        let rec = |uid: &str, rcpts: &[&str]| Record {
            ts: "2024-05-01T10:00:00Z".into(),
            uid: uid.into(),
            msg_id: Some("m@x".into()),
            body_sha256: Some("ab".into()),
            rcptto: rcpts.iter().map(|r| r.to_string()).collect(),
            ..Default::default()
        };
        let key = |r: Record| Row::from_record(&r).expect("row").content_key;
        let a = key(rec("u1", &["b@x", "A@x"]));
        assert!(a.is_some());
        assert_eq!(a, key(rec("u2", &["a@x", "b@x"])));
        assert_ne!(a, key(rec("u1", &["a@x"])));
        let mut no_body = rec("u3", &["a@x"]);
        no_body.body_sha256 = None;
        assert_eq!(key(no_body), None);
    }

    #[test]
    fn rejects_bad_records() {
        for (uid, ts) in [("", "2024-05-01T10:00:00Z"), ("u", "yesterday")] {
            let rec = Record {
                uid: uid.into(),
                ts: ts.into(),
                ..Default::default()
            };
            assert!(Row::from_record(&rec).is_err(), "{uid:?} {ts:?}");
        }
    }
}
