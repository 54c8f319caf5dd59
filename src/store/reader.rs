//! The read side of a backend, as [`Store`](super::Store) uses it: every
//! query that does not go through the writer thread (reads, the status
//! page, the analysis history, alert state). `sqlite/read.rs` and
//! `pg/read.rs` implement it; the SQL comes from `sql.rs` and `filter.rs`.
//!
//! Times are Unix milliseconds; the `Store` methods document each call.

use super::error::StoreError;
use super::gateway::GatewayStatus;
use super::Filter;
use crate::model::Record;

/// Queries one backend answers; `Send + Sync`, shared by every store handle.
pub(crate) trait ReadBackend: Send + Sync {
    /// `"sqlite"` or `"postgres"`.
    fn name(&self) -> &'static str;
    /// Reads are local file reads that never wait for the writer.
    fn is_local(&self) -> bool;
    /// Records matching `filter`, newest first, with `id` set.
    fn query(&self, filter: &Filter) -> Result<Vec<Record>, StoreError>;
    /// The record with row id `id`.
    fn get(&self, id: i64) -> Result<Option<Record>, StoreError>;
    /// Number of stored records.
    fn count(&self) -> Result<u64, StoreError>;
    /// Whether a record with this (normalised) sender domain is stored.
    fn seen_sender_domain(&self, domain: &str) -> Result<bool, StoreError>;
    /// Every stored gateway with its counts over the `window_minutes`
    /// before `now_ms`, ordered by IP.
    fn gateway_status(
        &self,
        now_ms: i64,
        window_minutes: u32,
    ) -> Result<Vec<GatewayStatus>, StoreError>;
    /// Records an occurrence of alert `key`; true if it opens a window.
    fn claim_alert(
        &self,
        key: &str,
        kind: &str,
        now_ms: i64,
        window_start_ms: i64,
    ) -> Result<bool, StoreError>;
    /// Forgets alert `key`; true if it had a window open.
    fn release_alert(&self, key: &str) -> Result<bool, StoreError>;
    /// Deletes alert rows last touched before `before_ms`; returns how many.
    fn prune_alerts(&self, before_ms: i64) -> Result<usize, StoreError>;
    /// Gateways with a copy at or after `since_ms`, with their latest's time.
    fn gateways_last_seen(&self, since_ms: i64) -> Result<Vec<(String, i64)>, StoreError>;
    /// Copies at or after `since_ms`, and how many lack trusted results.
    fn untrusted_share(&self, since_ms: i64) -> Result<(u64, u64), StoreError>;
}

/// The [`ReadBackend`] methods every backend implements the same way: each
/// by its own modules of the same names (`history`, `status`, `alerts`;
/// macro paths resolve where the macro is used), so the backends keep the
/// same file names and one list of what they delegate.
macro_rules! delegate_reads {
    () => {
        fn seen_sender_domain(&self, domain: &str) -> Result<bool, StoreError> {
            history::seen_sender_domain(self, domain)
        }

        fn gateway_status(
            &self,
            now_ms: i64,
            window_minutes: u32,
        ) -> Result<Vec<GatewayStatus>, StoreError> {
            status::gateway_status(self, now_ms, window_minutes)
        }

        fn claim_alert(
            &self,
            key: &str,
            kind: &str,
            now_ms: i64,
            window_start_ms: i64,
        ) -> Result<bool, StoreError> {
            alerts::claim(self, key, kind, now_ms, window_start_ms)
        }

        fn release_alert(&self, key: &str) -> Result<bool, StoreError> {
            alerts::release(self, key)
        }

        fn prune_alerts(&self, before_ms: i64) -> Result<usize, StoreError> {
            alerts::prune(self, before_ms)
        }

        fn gateways_last_seen(&self, since_ms: i64) -> Result<Vec<(String, i64)>, StoreError> {
            alerts::gateways_last_seen(self, since_ms)
        }

        fn untrusted_share(&self, since_ms: i64) -> Result<(u64, u64), StoreError> {
            alerts::untrusted_share(self, since_ms)
        }
    };
}
pub(crate) use delegate_reads;
