//! The status page on SQLite: per-gateway counts over a recent window,
//! from the two queries in `sql.rs` (`GATEWAY_LATEST`, `GATEWAY_WINDOW`),
//! both served by the `(gateway_ip, ts)` index, on a pooled read
//! connection.

use super::ReadPool;
use crate::store::error::StoreError;
use crate::store::gateway::{GatewayStatus, StatusBuilder};
use crate::store::sql;

/// See `Store::gateway_status`.
pub(super) fn gateway_status(
    pool: &ReadPool,
    now_ms: i64,
    window_minutes: u32,
) -> Result<Vec<GatewayStatus>, StoreError> {
    let mut status = StatusBuilder::new(now_ms, window_minutes);
    pool.with_conn("gateway status", |c| {
        let mut latest = c.prepare_cached(sql::GATEWAY_LATEST)?;
        let mut rows = latest.query([])?;
        while let Some(r) = rows.next()? {
            status.latest(r.get(0)?, r.get(1)?, r.get(2)?);
        }
        let mut window = c.prepare_cached(sql::GATEWAY_WINDOW)?;
        let mut rows = window.query([status.since_ms(), now_ms])?;
        while let Some(r) = rows.next()? {
            let ip: String = r.get(0)?;
            let counts = [
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
            ];
            status.minute(&ip, r.get(1)?, counts);
        }
        Ok(())
    })?;
    Ok(status.finish())
}
