//! Alert state on SQLite: the shared deduplication state in table `alerts`
//! (migration 2) and the two health queries (last copy per gateway, share
//! of copies without trusted results); the SQL is in `sql.rs`.
//!
//! Each call opens its own short-lived read-write connection (the read
//! pool's are read-only): alerts are rare and the health check runs at
//! most every few seconds, so no pool is kept. A claim is one statement,
//! atomic across every process sharing the database (fleet sensors on one
//! store).

use super::{ReadPool, BUSY_TIMEOUT};
use crate::store::error::{ErrorKind, StoreError};
use crate::store::sql;
use rusqlite::{params, Connection, OpenFlags};

/// Runs `f` on a new read-write connection to the pool's database; every
/// failure is [`ErrorKind::Database`].
fn with_rw_conn<T>(
    pool: &ReadPool,
    op: &'static str,
    f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
) -> Result<T, StoreError> {
    let run = || {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&pool.path, flags)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        f(&conn)
    };
    run().map_err(|e| StoreError::new(ErrorKind::Database, op, &pool.path, e.to_string()))
}

/// See `Store::claim_alert`.
pub(super) fn claim(
    pool: &ReadPool,
    key: &str,
    kind: &str,
    now_ms: i64,
    window_start_ms: i64,
) -> Result<bool, StoreError> {
    let count: i64 = with_rw_conn(pool, "claim alert", |c| {
        c.query_row(
            sql::CLAIM_ALERT,
            params![key, kind, now_ms, window_start_ms],
            |r| r.get(0),
        )
    })?;
    Ok(count == 1)
}

/// See `Store::release_alert`. The health check re-arms every healthy
/// gateway at every tick, so the usual case (no row) is answered by a
/// read, without the write lock.
pub(super) fn release(pool: &ReadPool, key: &str) -> Result<bool, StoreError> {
    with_rw_conn(pool, "release alert", |c| {
        let exists: bool = c.query_row(sql::ALERT_EXISTS, params![key], |r| r.get(0))?;
        Ok(exists && c.execute(sql::RELEASE_ALERT, params![key])? > 0)
    })
}

/// See `Store::prune_alerts`.
pub(super) fn prune(pool: &ReadPool, before_ms: i64) -> Result<usize, StoreError> {
    with_rw_conn(pool, "prune alerts", |c| {
        c.execute(sql::PRUNE_ALERTS, params![before_ms])
    })
}

/// See `Store::gateways_last_seen`.
pub(super) fn gateways_last_seen(
    pool: &ReadPool,
    since_ms: i64,
) -> Result<Vec<(String, i64)>, StoreError> {
    with_rw_conn(pool, "gateways last seen", |c| {
        let mut stmt = c.prepare(sql::GATEWAYS_LAST_SEEN)?;
        let rows = stmt.query_map(params![since_ms], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect()
    })
}

/// See `Store::untrusted_share`.
pub(super) fn untrusted_share(pool: &ReadPool, since_ms: i64) -> Result<(u64, u64), StoreError> {
    with_rw_conn(pool, "stamp health", |c| {
        c.query_row(sql::UNTRUSTED_SHARE, params![since_ms], |r| {
            let (n, broken): (i64, i64) = (r.get(0)?, r.get(1)?);
            Ok((n.unsigned_abs(), broken.unsigned_abs()))
        })
    })
}
