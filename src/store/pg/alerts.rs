//! Alert state on PostgreSQL: the shared deduplication state in table
//! `alerts` and the two health queries, on the read pool's connections; the
//! SQL is SQLite's (`sql.rs`). A claim is one statement, atomic across
//! every sensor sharing the database.

use super::PgReadPool;
use crate::store::error::StoreError;
use crate::store::sql;

/// See `Store::claim_alert`.
pub(super) fn claim(
    pool: &PgReadPool,
    key: &str,
    kind: &str,
    now_ms: i64,
    window_start_ms: i64,
) -> Result<bool, StoreError> {
    let claim = sql::for_postgres(sql::CLAIM_ALERT);
    pool.with_client("claim alert", |c| {
        let row = c.query_one(claim.as_str(), &[&key, &kind, &now_ms, &window_start_ms])?;
        Ok(row.get::<_, i64>(0) == 1)
    })
}

/// See `Store::release_alert`: the usual case (no row) is answered by a
/// read.
pub(super) fn release(pool: &PgReadPool, key: &str) -> Result<bool, StoreError> {
    let (exists, release) = (
        sql::for_postgres(sql::ALERT_EXISTS),
        sql::for_postgres(sql::RELEASE_ALERT),
    );
    pool.with_client("release alert", |c| {
        let found: bool = c.query_one(exists.as_str(), &[&key])?.get(0);
        Ok(found && c.execute(release.as_str(), &[&key])? > 0)
    })
}

/// See `Store::prune_alerts`.
pub(super) fn prune(pool: &PgReadPool, before_ms: i64) -> Result<usize, StoreError> {
    let prune = sql::for_postgres(sql::PRUNE_ALERTS);
    pool.with_client("prune alerts", |c| {
        let n = c.execute(prune.as_str(), &[&before_ms])?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    })
}

/// See `Store::gateways_last_seen`.
pub(super) fn gateways_last_seen(
    pool: &PgReadPool,
    since_ms: i64,
) -> Result<Vec<(String, i64)>, StoreError> {
    let query = sql::for_postgres(sql::GATEWAYS_LAST_SEEN);
    pool.with_client("gateways last seen", |c| {
        let rows = c.query(query.as_str(), &[&since_ms])?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    })
}

/// See `Store::untrusted_share`.
pub(super) fn untrusted_share(pool: &PgReadPool, since_ms: i64) -> Result<(u64, u64), StoreError> {
    let query = sql::for_postgres(sql::UNTRUSTED_SHARE);
    pool.with_client("stamp health", |c| {
        let r = c.query_one(query.as_str(), &[&since_ms])?;
        let (n, broken): (i64, i64) = (r.get(0), r.get(1));
        Ok((n.unsigned_abs(), broken.unsigned_abs()))
    })
}
