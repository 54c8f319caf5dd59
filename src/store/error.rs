//! The store's one error type: which operation failed, on which database,
//! and what kind of failure it was (so the SMTP layer can answer 451 and an
//! operator can tell a full disk from a schema mismatch).

use std::fmt;
use std::path::Path;
use std::sync::Arc;

/// Broad class of a [`StoreError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The database could not be opened or configured (missing directory,
    /// permissions, not a database, WAL unavailable).
    Open,
    /// The database's schema version is newer than this program knows, or a
    /// migration failed.
    Schema,
    /// The database reached its size cap (`max_db_bytes`) or the disk is full.
    Full,
    /// The store was closed (or its writer thread stopped) before the
    /// operation could run.
    Closed,
    /// The record cannot be stored as given (e.g. empty `uid`, bad `ts`).
    InvalidRecord,
    /// Any other database failure (I/O error, corruption, busy timeout).
    Database,
}

/// A failed store operation. Its `Display` names the operation and the
/// database path, e.g. `store /var/lib/authsense/sensor.db: insert failed:
/// database or disk is full`.
///
/// Cloneable because one failed group commit fails every record of the
/// batch, and each waiter gets its own copy.
#[derive(Debug, Clone)]
pub struct StoreError {
    kind: ErrorKind,
    op: &'static str,
    path: Arc<Path>,
    detail: String,
}

impl StoreError {
    /// Builds an error; `op` is a short verb phrase such as `"insert"`.
    pub(crate) fn new(
        kind: ErrorKind,
        op: &'static str,
        path: &Arc<Path>,
        detail: impl Into<String>,
    ) -> StoreError {
        StoreError {
            kind,
            op,
            path: Arc::clone(path),
            detail: detail.into(),
        }
    }

    /// The class of failure.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The operation that failed (`"open"`, `"insert"`, `"query"`, …).
    pub fn operation(&self) -> &str {
        self.op
    }

    /// The database the operation ran against.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "store {}: {} failed: {}",
            self.path.display(),
            self.op,
            self.detail
        )
    }
}

impl std::error::Error for StoreError {}
