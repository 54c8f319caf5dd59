//! The store's shared state for alerts: deduplication claims (table
//! `alerts`) and the health queries, dispatched to the backend
//! (`sqlite_alerts.rs`, `pg_extra.rs`), so every sensor on one database
//! alerts once between them.

use super::{row, sqlite_alerts, Reader, Store, StoreError};
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
        match &self.inner.reader {
            Reader::Sqlite(_) => {
                sqlite_alerts::claim(&self.inner.path, key, kind, row::unix_ms(now), start)
            }
            Reader::Postgres(r) => r.claim_alert(key, kind, row::unix_ms(now), start),
        }
    }

    /// Forgets alert `key` (its condition recovered): the next claim sends.
    pub fn release_alert(&self, key: &str) -> Result<bool, StoreError> {
        match &self.inner.reader {
            Reader::Sqlite(_) => sqlite_alerts::release(&self.inner.path, key),
            Reader::Postgres(r) => r.release_alert(key),
        }
    }

    /// Deletes alert state last touched before `cutoff`.
    pub fn prune_alerts(&self, cutoff: SystemTime) -> Result<usize, StoreError> {
        match &self.inner.reader {
            Reader::Sqlite(_) => sqlite_alerts::prune(&self.inner.path, row::unix_ms(cutoff)),
            Reader::Postgres(r) => r.prune_alerts(row::unix_ms(cutoff)),
        }
    }

    /// Gateways that sent a copy since `since`, each with its latest copy's
    /// receive time (Unix ms).
    pub fn gateways_last_seen(&self, since: SystemTime) -> Result<Vec<(String, i64)>, StoreError> {
        match &self.inner.reader {
            Reader::Sqlite(_) => {
                sqlite_alerts::gateways_last_seen(&self.inner.path, row::unix_ms(since))
            }
            Reader::Postgres(r) => r.gateways_last_seen(row::unix_ms(since)),
        }
    }

    /// Copies received since `since` and how many lack trusted results
    /// (auth source `none`, SPF result unknown or missing).
    pub fn untrusted_share(&self, since: SystemTime) -> Result<(u64, u64), StoreError> {
        match &self.inner.reader {
            Reader::Sqlite(_) => {
                sqlite_alerts::untrusted_share(&self.inner.path, row::unix_ms(since))
            }
            Reader::Postgres(r) => r.untrusted_share(row::unix_ms(since)),
        }
    }
}
