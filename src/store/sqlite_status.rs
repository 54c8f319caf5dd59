//! SQLite queries behind the status page: per-gateway counts over a recent
//! window from the migration-2 columns (`gateway_helo`, `tls`) and the
//! original ones (`gateway_ip`, `auth_source`, `spf_result`), all served by
//! the `(gateway_ip, ts)` index.

use super::error::StoreError;
use super::gateway::GatewayStatus;
use super::sqlite::ReadPool;
use std::collections::BTreeMap;

impl ReadPool {
    /// Every gateway that ever sent a copy (still stored), with its counts
    /// over the `window_minutes` before `now_ms`; ordered by IP.
    pub fn gateway_status(
        &self,
        now_ms: i64,
        window_minutes: u32,
    ) -> Result<Vec<GatewayStatus>, StoreError> {
        let minutes = window_minutes.max(1);
        let since = now_ms - i64::from(minutes) * 60_000;
        self.with_conn("gateway status", |c| {
            let mut out: BTreeMap<String, GatewayStatus> = BTreeMap::new();
            let mut latest = c.prepare_cached(
                "SELECT gateway_ip, MAX(ts),
                    (SELECT gateway_helo FROM messages l WHERE l.gateway_ip = m.gateway_ip
                     ORDER BY ts DESC, id DESC LIMIT 1)
                 FROM messages m GROUP BY gateway_ip",
            )?;
            let rows = latest.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, Option<String>>(2)?,
                ))
            })?;
            for row in rows {
                let (ip, last, helo) = row?;
                let g = GatewayStatus::empty(ip.clone(), helo, last, now_ms, minutes);
                out.insert(ip, g);
            }
            let mut window = c.prepare_cached(
                "SELECT gateway_ip, (ts - ?1) / 60000 AS minute, COUNT(*),
                    SUM(broken), SUM(NOT broken AND auth_source = 'x-agari'),
                    SUM(NOT broken AND auth_source = 'authentication-results'),
                    SUM(COALESCE(tls, 0)), SUM(auth_source = 'tampered')
                 FROM (SELECT gateway_ip, ts, auth_source, tls,
                        (auth_source = 'none' OR spf_result IS NULL
                         OR spf_result = 'unknown') AS broken
                       FROM messages WHERE ts >= ?1 AND ts < ?2)
                 GROUP BY gateway_ip, minute",
            )?;
            let rows = window.query_map([since, now_ms], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    [
                        r.get::<_, i64>(2)?,
                        r.get::<_, i64>(3)?,
                        r.get::<_, i64>(4)?,
                        r.get::<_, i64>(5)?,
                        r.get::<_, i64>(6)?,
                        r.get::<_, i64>(7)?,
                    ],
                ))
            })?;
            for row in rows {
                let (ip, minute, counts) = row?;
                if let Some(g) = out.get_mut(&ip) {
                    g.add_minute(minute, counts);
                }
            }
            Ok(out.into_values().collect())
        })
    }
}
