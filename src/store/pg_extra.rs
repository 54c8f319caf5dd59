//! PostgreSQL versions of the reads and the alert state that the web
//! status page (`sqlite_status.rs`), the analysis history
//! (`sqlite_history.rs`) and the alerts (`sqlite_alerts.rs`) use on SQLite:
//! same SQL shapes, PostgreSQL types (`tls` is BOOLEAN, sums of predicates
//! need `CASE`). Alert claims are one `INSERT … ON CONFLICT … RETURNING`,
//! atomic across every sensor sharing the database.

use super::error::StoreError;
use super::gateway::GatewayStatus;
use super::pg_read::PgReadPool;
use std::collections::BTreeMap;

/// 1 for a copy without trusted results (as on SQLite).
const BROKEN: &str = "CASE WHEN auth_source = 'none' OR spf_result IS NULL \
                      OR spf_result = 'unknown' THEN 1 ELSE 0 END";

impl PgReadPool {
    /// See `Store::seen_sender_domain` (`domain` already normalised).
    pub fn seen_sender_domain(&self, domain: &str) -> Result<bool, StoreError> {
        self.with_client("history", |c| {
            let row = c.query_one(
                "SELECT EXISTS (SELECT 1 FROM messages WHERE sender_domain = $1)",
                &[&domain],
            )?;
            Ok(row.get::<_, bool>(0))
        })
    }

    /// See `Store::gateway_status`.
    pub fn gateway_status(
        &self,
        now_ms: i64,
        window_minutes: u32,
    ) -> Result<Vec<GatewayStatus>, StoreError> {
        let minutes = window_minutes.max(1);
        let since = now_ms - i64::from(minutes) * 60_000;
        let window_sql = format!(
            "SELECT gateway_ip, (ts - $1) / 60000 AS minute, COUNT(*),
                SUM(broken), SUM(CASE WHEN broken = 0 AND auth_source = 'x-agari' THEN 1 ELSE 0 END),
                SUM(CASE WHEN broken = 0 AND auth_source = 'authentication-results' THEN 1 ELSE 0 END),
                SUM(CASE WHEN tls THEN 1 ELSE 0 END),
                SUM(CASE WHEN auth_source = 'tampered' THEN 1 ELSE 0 END)
             FROM (SELECT gateway_ip, ts, auth_source, tls, {BROKEN} AS broken
                   FROM messages WHERE ts >= $1 AND ts < $2) w
             GROUP BY gateway_ip, minute"
        );
        self.with_client("gateway status", |c| {
            let mut out: BTreeMap<String, GatewayStatus> = BTreeMap::new();
            let latest = c.query(
                "SELECT gateway_ip, MAX(ts),
                    (SELECT gateway_helo FROM messages l WHERE l.gateway_ip = m.gateway_ip
                     ORDER BY ts DESC, id DESC LIMIT 1)
                 FROM messages m GROUP BY gateway_ip",
                &[],
            )?;
            for r in &latest {
                let ip: String = r.get(0);
                let g = GatewayStatus::empty(ip.clone(), r.get(2), r.get(1), now_ms, minutes);
                out.insert(ip, g);
            }
            for r in &c.query(window_sql.as_str(), &[&since, &now_ms])? {
                let ip: String = r.get(0);
                let minute: i64 = r.get(1);
                let counts = [r.get(2), r.get(3), r.get(4), r.get(5), r.get(6), r.get(7)];
                if let Some(g) = out.get_mut(&ip) {
                    g.add_minute(minute, counts);
                }
            }
            Ok(out.into_values().collect())
        })
    }

    /// See `Store::claim_alert` (times in Unix ms).
    pub fn claim_alert(
        &self,
        key: &str,
        kind: &str,
        now_ms: i64,
        window_start_ms: i64,
    ) -> Result<bool, StoreError> {
        self.with_client("claim alert", |c| {
            // SET expressions see the old row (`alerts.`), as on SQLite.
            let row = c.query_one(
                "INSERT INTO alerts (dedup_key, kind, first_ts, last_ts, count)
                 VALUES ($1, $2, $3, $3, 1)
                 ON CONFLICT (dedup_key) DO UPDATE SET
                   count = CASE WHEN alerts.first_ts < $4 THEN 1 ELSE alerts.count + 1 END,
                   first_ts = CASE WHEN alerts.first_ts < $4 THEN $3 ELSE alerts.first_ts END,
                   last_ts = $3
                 RETURNING count",
                &[&key, &kind, &now_ms, &window_start_ms],
            )?;
            Ok(row.get::<_, i64>(0) == 1)
        })
    }

    /// See `Store::release_alert`.
    pub fn release_alert(&self, key: &str) -> Result<bool, StoreError> {
        self.with_client("release alert", |c| {
            let exists: bool = c
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM alerts WHERE dedup_key = $1)",
                    &[&key],
                )?
                .get(0);
            if !exists {
                return Ok(false);
            }
            Ok(c.execute("DELETE FROM alerts WHERE dedup_key = $1", &[&key])? > 0)
        })
    }

    /// See `Store::prune_alerts`.
    pub fn prune_alerts(&self, before_ms: i64) -> Result<usize, StoreError> {
        self.with_client("prune alerts", |c| {
            let n = c.execute("DELETE FROM alerts WHERE last_ts < $1", &[&before_ms])?;
            Ok(usize::try_from(n).unwrap_or(usize::MAX))
        })
    }

    /// See `Store::gateways_last_seen`.
    pub fn gateways_last_seen(&self, since_ms: i64) -> Result<Vec<(String, i64)>, StoreError> {
        self.with_client("gateways last seen", |c| {
            Ok(c.query(
                "SELECT gateway_ip, MAX(ts) FROM messages WHERE ts >= $1
                 GROUP BY gateway_ip ORDER BY gateway_ip",
                &[&since_ms],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
        })
    }

    /// See `Store::untrusted_share`.
    pub fn untrusted_share(&self, since_ms: i64) -> Result<(u64, u64), StoreError> {
        let sql =
            format!("SELECT COUNT(*), COALESCE(SUM({BROKEN}), 0) FROM messages WHERE ts >= $1");
        self.with_client("stamp health", |c| {
            let r = c.query_one(sql.as_str(), &[&since_ms])?;
            let (n, broken): (i64, i64) = (r.get(0), r.get(1));
            Ok((n.unsigned_abs(), broken.unsigned_abs()))
        })
    }
}
