//! A write backend that keeps nothing: the benchmark floor under the
//! SQLite writer (`--features bench-floor` only; `examples/discard_sensor`).
//!
//! Every row handed to the writer thread is acknowledged at once, with the
//! next row id, without touching a database. With it, `bench/sensor`
//! measures the whole sensor (extraction, analysis, the writer thread and
//! its commit delay) except the SQL and the fsync, i.e. how fast any
//! durable store could at best let the sensor go on this machine. A sensor
//! built on it loses every record: authsense itself never opens one.

use super::error::StoreError;
use super::row::Row;
use super::writer::{Inserted, WriteBackend};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Counts and forgets rows.
pub(crate) struct Discard {
    /// Rows acknowledged so far (shared with whoever opened the store).
    pub rows: Arc<AtomicU64>,
}

impl WriteBackend for Discard {
    fn insert_batch(&mut self, rows: &[Row]) -> Result<Vec<Inserted>, StoreError> {
        let first = self.rows.fetch_add(rows.len() as u64, Ordering::SeqCst);
        Ok((first..)
            .take(rows.len())
            .map(|n| Inserted {
                id: i64::try_from(n + 1).unwrap_or(i64::MAX),
                existing_uid: None,
            })
            .collect())
    }

    fn purge(&mut self, _cutoff_ms: i64) -> Result<usize, StoreError> {
        Ok(0)
    }
}
