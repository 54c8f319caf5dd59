//! The write side of a store opened read-only (`authsense messages`,
//! `status`, `export --jsonl`): every write is refused, so a reader never
//! needs write access to the database or its directory.

use super::error::{ErrorKind, StoreError};
use super::row::Row;
use super::writer::{Inserted, WriteBackend};
use std::path::Path;
use std::sync::Arc;

/// Refuses every write.
pub(crate) struct ReadOnly {
    /// The store, for the error.
    pub path: Arc<Path>,
}

impl ReadOnly {
    fn refused(&self, op: &'static str) -> StoreError {
        StoreError::new(
            ErrorKind::Open,
            op,
            &self.path,
            "the store was opened read-only",
        )
    }
}

impl WriteBackend for ReadOnly {
    fn insert_batch(&mut self, _rows: &[Row]) -> Result<Vec<Inserted>, StoreError> {
        Err(self.refused("insert"))
    }

    fn purge(&mut self, _cutoff_ms: i64) -> Result<usize, StoreError> {
        Err(self.refused("purge"))
    }
}
