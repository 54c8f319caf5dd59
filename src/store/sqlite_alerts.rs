//! SQL of the alerts (SQLite): the shared deduplication state in table
//! `alerts` (migration 2) and the two health queries (last copy per gateway,
//! share of copies without trusted results).
//!
//! Each call opens its own short-lived connection: alerts are rare and the
//! health check runs at most every few seconds, so no pool is kept. Claims
//! are one `INSERT … ON CONFLICT … RETURNING` statement, atomic across
//! every process sharing the database (fleet sensors on one store).
//!
//! Row meaning: `first_ts` is when the current window opened (the alert for
//! it was sent), `last_ts` the latest occurrence, `count` the occurrences in
//! the window (1 = this one opened it).

use super::error::{ErrorKind, StoreError};
use rusqlite::{params, Connection, OpenFlags};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

fn connect(path: &Arc<Path>, op: &'static str) -> Result<Connection, StoreError> {
    let err = |e: rusqlite::Error| StoreError::new(ErrorKind::Database, op, path, e.to_string());
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(err)?;
    conn.busy_timeout(Duration::from_secs(5)).map_err(err)?;
    Ok(conn)
}

fn db_err<'a>(
    path: &'a Arc<Path>,
    op: &'static str,
) -> impl Fn(rusqlite::Error) -> StoreError + 'a {
    move |e| StoreError::new(ErrorKind::Database, op, path, e.to_string())
}

/// Records an occurrence of `key` at `now_ms`; true if it opens a new window
/// (no window opened at or after `window_start_ms`), i.e. the caller should
/// send the alert.
pub(crate) fn claim(
    path: &Arc<Path>,
    key: &str,
    kind: &str,
    now_ms: i64,
    window_start_ms: i64,
) -> Result<bool, StoreError> {
    let conn = connect(path, "claim alert")?;
    // SET expressions see the old row, so `first_ts` in the CASEs is the
    // window being replaced or kept.
    let count: i64 = conn
        .query_row(
            "INSERT INTO alerts (dedup_key, kind, first_ts, last_ts, count)
             VALUES (?1, ?2, ?3, ?3, 1)
             ON CONFLICT (dedup_key) DO UPDATE SET
               count = CASE WHEN first_ts < ?4 THEN 1 ELSE count + 1 END,
               first_ts = CASE WHEN first_ts < ?4 THEN ?3 ELSE first_ts END,
               last_ts = ?3
             RETURNING count",
            params![key, kind, now_ms, window_start_ms],
            |r| r.get(0),
        )
        .map_err(db_err(path, "claim alert"))?;
    Ok(count == 1)
}

/// Forgets `key`, so its next claim opens a window (re-arms the alert).
/// The health check re-arms every healthy gateway at every tick, so the
/// usual case (no row) is answered by a read, without the write lock.
pub(crate) fn release(path: &Arc<Path>, key: &str) -> Result<bool, StoreError> {
    let conn = connect(path, "release alert")?;
    let exists: bool = conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM alerts WHERE dedup_key = ?1)",
            params![key],
            |r| r.get(0),
        )
        .map_err(db_err(path, "release alert"))?;
    if !exists {
        return Ok(false);
    }
    let n = conn
        .execute("DELETE FROM alerts WHERE dedup_key = ?1", params![key])
        .map_err(db_err(path, "release alert"))?;
    Ok(n > 0)
}

/// Deletes alert rows whose last occurrence is older than `before_ms`.
pub(crate) fn prune(path: &Arc<Path>, before_ms: i64) -> Result<usize, StoreError> {
    let conn = connect(path, "prune alerts")?;
    conn.execute("DELETE FROM alerts WHERE last_ts < ?1", params![before_ms])
        .map_err(db_err(path, "prune alerts"))
}

/// Each gateway that sent a copy at or after `since_ms`, with the time of
/// its latest copy (ms).
pub(crate) fn gateways_last_seen(
    path: &Arc<Path>,
    since_ms: i64,
) -> Result<Vec<(String, i64)>, StoreError> {
    let conn = connect(path, "gateways last seen")?;
    let e = db_err(path, "gateways last seen");
    let mut stmt = conn
        .prepare(
            "SELECT gateway_ip, MAX(ts) FROM messages WHERE ts >= ?1
             GROUP BY gateway_ip ORDER BY gateway_ip",
        )
        .map_err(&e)?;
    let rows = stmt
        .query_map(params![since_ms], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(&e)?;
    rows.collect::<Result<_, _>>().map_err(&e)
}

/// Copies received at or after `since_ms`, and how many of them carry no
/// trusted results (`auth_source` none, SPF result unknown or missing).
pub(crate) fn untrusted_share(path: &Arc<Path>, since_ms: i64) -> Result<(u64, u64), StoreError> {
    let conn = connect(path, "stamp health")?;
    conn.query_row(
        "SELECT COUNT(*), COALESCE(SUM(auth_source = 'none' OR spf_result IS NULL
                OR spf_result = 'unknown'), 0)
         FROM messages WHERE ts >= ?1",
        params![since_ms],
        |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
    )
    .map_err(db_err(path, "stamp health"))
}
