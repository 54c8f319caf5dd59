//! Every SQL statement both backends run, written once.
//!
//! Placeholders are SQLite's numbered `?1`, `?2`…, which rusqlite binds as
//! is; [`for_postgres`] renders the same text with PostgreSQL's `$1`, `$2`….
//! Only SQL both engines accept goes here: `ON CONFLICT … DO UPDATE` with
//! the target table's name for the old row, `CASE WHEN … THEN 1 ELSE 0 END`
//! for a count of rows matching a predicate (SQLite has no BOOLEAN; `tls`
//! is an INTEGER there and a BOOLEAN on PostgreSQL, and `CASE WHEN tls`
//! reads both), an alias on every subquery in `FROM`. No `?` is ever part
//! of a string literal.
//!
//! What stays in a backend: its schema (`<backend>/schema.rs`: column types
//! differ), connection settings (pragmas, session settings), and the
//! `RETURNING id` PostgreSQL adds to [`INSERT_MESSAGE`] where SQLite asks
//! for the last rowid.

/// Inserts one `messages` row; nothing when its `uid` or `content_key` is
/// already stored (a retried copy).
pub(crate) const INSERT_MESSAGE: &str = "INSERT INTO messages (ts, uid, gateway_ip,
        original_mailfrom, from_address, sender_domain, subject, spf_result, auth_source,
        msg_id, record, verdict, score, dkim_result, dmarc_result, gateway_helo, tls,
        content_key)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)
    ON CONFLICT DO NOTHING";

/// The values of [`INSERT_MESSAGE`]'s `?1`…`?18` for a `&Row`, in order:
/// an array of references, which each backend's call coerces to its
/// driver's `ToSql`.
macro_rules! message_values {
    ($row:expr) => {
        [
            &$row.ts_ms,
            &$row.uid,
            &$row.gateway_ip,
            &$row.original_mailfrom,
            &$row.from_address,
            &$row.sender_domain,
            &$row.subject,
            &$row.spf_result,
            &$row.auth_source,
            &$row.msg_id,
            &$row.json,
            &$row.verdict,
            &$row.score,
            &$row.dkim_result,
            &$row.dmarc_result,
            &$row.gateway_helo,
            &$row.tls,
            &$row.content_key,
        ]
    };
}
pub(crate) use message_values;

/// The stored row a retried copy (same uid or content key) collided with.
pub(crate) const EXISTING_MESSAGE: &str =
    "SELECT id, uid FROM messages WHERE uid = ?1 OR content_key = ?2";

/// One recipient of an inserted message.
pub(crate) const INSERT_RECIPIENT: &str =
    "INSERT INTO recipients (message_id, address) VALUES (?1, ?2) ON CONFLICT DO NOTHING";

/// Retention: records received before a cutoff; recipients go by
/// `ON DELETE CASCADE`.
pub(crate) const PURGE: &str = "DELETE FROM messages WHERE ts < ?1";

/// One record's JSON by row id.
pub(crate) const GET_RECORD: &str = "SELECT record FROM messages WHERE id = ?1";

/// Number of stored records.
pub(crate) const COUNT: &str = "SELECT COUNT(*) FROM messages";

/// Whether a sender domain is stored: one search of the
/// `(sender_domain, ts)` index.
pub(crate) const SENDER_DOMAIN_SEEN: &str =
    "SELECT EXISTS (SELECT 1 FROM messages WHERE sender_domain = ?1)";

/// 1 for a copy without trusted results: no trusted header, or an SPF
/// result that is missing or `unknown`.
macro_rules! broken {
    () => {
        "CASE WHEN auth_source = 'none' OR spf_result IS NULL \
         OR spf_result = 'unknown' THEN 1 ELSE 0 END"
    };
}

/// Every gateway ever seen (still stored): its latest copy's time and HELO.
pub(crate) const GATEWAY_LATEST: &str = "SELECT gateway_ip, MAX(ts),
        (SELECT gateway_helo FROM messages l WHERE l.gateway_ip = m.gateway_ip
         ORDER BY ts DESC, id DESC LIMIT 1)
    FROM messages m GROUP BY gateway_ip";

/// Per gateway and minute of the window `[?1, ?2)`: copies, broken,
/// X-Agari, AR fallback, TLS and tampered counts (the order of
/// `GatewayStatus::add_minute`), served by the `(gateway_ip, ts)` index.
pub(crate) const GATEWAY_WINDOW: &str = concat!(
    "SELECT gateway_ip, (ts - ?1) / 60000 AS minute, COUNT(*), SUM(broken),
        SUM(CASE WHEN broken = 0 AND auth_source = 'x-agari' THEN 1 ELSE 0 END),
        SUM(CASE WHEN broken = 0 AND auth_source = 'authentication-results' THEN 1 ELSE 0 END),
        SUM(CASE WHEN tls THEN 1 ELSE 0 END),
        SUM(CASE WHEN auth_source = 'tampered' THEN 1 ELSE 0 END)
    FROM (SELECT gateway_ip, ts, auth_source, tls, ",
    broken!(),
    " AS broken
          FROM messages WHERE ts >= ?1 AND ts < ?2) w
    GROUP BY gateway_ip, minute"
);

/// Copies received at or after `?1`, and how many carry no trusted results.
pub(crate) const UNTRUSTED_SHARE: &str = concat!(
    "SELECT COUNT(*), COALESCE(SUM(",
    broken!(),
    "), 0) FROM messages WHERE ts >= ?1"
);

/// Each gateway with a copy at or after `?1`, and its latest copy's time.
pub(crate) const GATEWAYS_LAST_SEEN: &str = "SELECT gateway_ip, MAX(ts) FROM messages
    WHERE ts >= ?1 GROUP BY gateway_ip ORDER BY gateway_ip";

/// Records an occurrence of alert `?1` (kind `?2`) at `?3` and returns the
/// occurrences in its window: 1 when this one opens a new window (none
/// opened at or after `?4`). One statement, so atomic across every sensor
/// sharing the database.
///
/// Row meaning: `first_ts` is when the current window opened (the alert for
/// it was sent), `last_ts` the latest occurrence, `count` the occurrences in
/// the window. The `SET` expressions see the old row (`alerts.`), so
/// `first_ts` in the `CASE`s is the window being replaced or kept.
pub(crate) const CLAIM_ALERT: &str =
    "INSERT INTO alerts (dedup_key, kind, first_ts, last_ts, count)
    VALUES (?1, ?2, ?3, ?3, 1)
    ON CONFLICT (dedup_key) DO UPDATE SET
      count = CASE WHEN alerts.first_ts < ?4 THEN 1 ELSE alerts.count + 1 END,
      first_ts = CASE WHEN alerts.first_ts < ?4 THEN ?3 ELSE alerts.first_ts END,
      last_ts = ?3
    RETURNING count";

/// Whether alert `?1` has a window open (a read, without the write lock).
pub(crate) const ALERT_EXISTS: &str = "SELECT EXISTS (SELECT 1 FROM alerts WHERE dedup_key = ?1)";

/// Forgets alert `?1` (re-arms it).
pub(crate) const RELEASE_ALERT: &str = "DELETE FROM alerts WHERE dedup_key = ?1";

/// Alert rows whose last occurrence is older than `?1`.
pub(crate) const PRUNE_ALERTS: &str = "DELETE FROM alerts WHERE last_ts < ?1";

/// `sql` with PostgreSQL placeholders: every `?` followed by a digit
/// becomes `$` (`?3` → `$3`); anything else is copied unchanged.
pub(crate) fn for_postgres(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        let numbered = c == '?' && chars.peek().is_some_and(char::is_ascii_digit);
        out.push(if numbered { '$' } else { c });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_numbered_placeholders_for_postgres() {
        assert_eq!(
            for_postgres("a = ?1 AND b IN (?2, ?12) AND c = ?1 AND d = '?'"),
            "a = $1 AND b IN ($2, $12) AND c = $1 AND d = '?'"
        );
        for sql in [
            INSERT_MESSAGE,
            EXISTING_MESSAGE,
            INSERT_RECIPIENT,
            PURGE,
            GET_RECORD,
            SENDER_DOMAIN_SEEN,
            GATEWAY_WINDOW,
            UNTRUSTED_SHARE,
            GATEWAYS_LAST_SEEN,
            CLAIM_ALERT,
            ALERT_EXISTS,
            RELEASE_ALERT,
            PRUNE_ALERTS,
        ] {
            let pg = for_postgres(sql);
            assert!(!pg.contains('?') && pg.contains("$1"), "{pg}");
        }
    }
}
