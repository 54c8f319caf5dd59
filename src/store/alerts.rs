//! The store's shared state for alerts: deduplication claims (table
//! `alerts`) and the health queries, run by the backend
//! (`<backend>/alerts.rs`, SQL in `sql.rs`), so every sensor on one
//! database alerts once between them.

use super::{row, Store, StoreError};
use std::time::SystemTime;

impl Store {
    /// Alert deduplication, shared by every process on this database:
    /// records an occurrence of `key` (of alert `kind`) at `now` and returns
    /// true if no alert for it was sent within `window` before (the caller
    /// sends one). Atomic across processes.
    pub fn claim_alert(
        &self,
        key: &str,
        kind: &str,
        now: SystemTime,
        window: std::time::Duration,
    ) -> Result<bool, StoreError> {
        let start = now.checked_sub(window).map_or(i64::MIN, row::unix_ms);
        self.inner
            .reader
            .claim_alert(key, kind, row::unix_ms(now), start)
    }

    /// Forgets alert `key` (its condition recovered): the next claim sends.
    pub fn release_alert(&self, key: &str) -> Result<bool, StoreError> {
        self.inner.reader.release_alert(key)
    }

    /// Deletes alert state last touched before `cutoff`.
    pub fn prune_alerts(&self, cutoff: SystemTime) -> Result<usize, StoreError> {
        self.inner.reader.prune_alerts(row::unix_ms(cutoff))
    }

    /// Gateways that sent a copy since `since`, each with its latest copy's
    /// receive time (Unix ms).
    pub fn gateways_last_seen(&self, since: SystemTime) -> Result<Vec<(String, i64)>, StoreError> {
        self.inner.reader.gateways_last_seen(row::unix_ms(since))
    }

    /// Copies received since `since` and how many lack trusted results
    /// (auth source `none`, SPF result unknown or missing).
    pub fn untrusted_share(&self, since: SystemTime) -> Result<(u64, u64), StoreError> {
        self.inner.reader.untrusted_share(row::unix_ms(since))
    }
}
