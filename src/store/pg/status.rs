//! The status page on PostgreSQL: per-gateway counts over a recent window,
//! from the two queries in `sql.rs` (`GATEWAY_LATEST`, `GATEWAY_WINDOW`),
//! the same SQL as on SQLite, on a pooled read connection.

use super::PgReadPool;
use crate::store::error::StoreError;
use crate::store::gateway::{GatewayStatus, StatusBuilder};
use crate::store::sql;

/// See `Store::gateway_status`.
pub(super) fn gateway_status(
    pool: &PgReadPool,
    now_ms: i64,
    window_minutes: u32,
) -> Result<Vec<GatewayStatus>, StoreError> {
    let mut status = StatusBuilder::new(now_ms, window_minutes);
    let (since, window) = (status.since_ms(), sql::for_postgres(sql::GATEWAY_WINDOW));
    let (latest, rows) = pool.with_client("gateway status", |c| {
        let latest = c.query(sql::GATEWAY_LATEST, &[])?;
        Ok((latest, c.query(window.as_str(), &[&since, &now_ms])?))
    })?;
    for r in &latest {
        status.latest(r.get(0), r.get(1), r.get(2));
    }
    for r in &rows {
        let counts = [r.get(2), r.get(3), r.get(4), r.get(5), r.get(6), r.get(7)];
        status.minute(r.get(0), r.get(1), counts);
    }
    Ok(status.finish())
}
