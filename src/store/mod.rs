//! Durable storage of sensor records: the [`Store`] API that the SMTP server,
//! the CLI and the web UI use, independent of the database behind it.
//!
//! Contract with the sensor: [`Store::insert`] resolves `Ok` only after the
//! record's transaction is committed durably (SQLite WAL with
//! `synchronous=FULL` by default; see `sqlite/mod.rs` for what NORMAL
//! changes), so the sensor may reply 250; any `Err` must become `451
//! 4.3.0`. Inserts from all sessions go to one writer thread that commits
//! them in batches (group commit), so one fsync covers many records.
//!
//! Layout: the backend-neutral part here (this API, [`Filter`] and its SQL
//! in `filter.rs`, every other statement in `sql.rs`, the record-to-columns
//! mapping in `row.rs`, the writer thread in `writer.rs`, the read side's
//! trait in `reader.rs`), and one folder per backend with the same files for
//! the same job: `sqlite/` (embedded, the default) and `pg/` (a fleet of
//! sensors sharing one PostgreSQL database), chosen by [`StoreLocation`]:
//!
//! | file | job |
//! |------|-----|
//! | `mod.rs` | open, connect, map the driver's errors |
//! | `schema.rs` | the migrations, in the engine's column types |
//! | `write.rs` | the writer thread's connection: insert batches, purge |
//! | `read.rs` | the read connections and `ReadBackend`: query, get, count |
//! | `status.rs` | the status page's per-gateway counts |
//! | `history.rs` | the analysis's sender-domain history |
//! | `alerts.rs` | alert deduplication state and the health queries |
//!
//! Both backends run behind the same methods and the same test suite
//! (`tests/store.rs`, run once per backend). Adding a read query: write its
//! SQL once in `sql.rs` (numbered `?1` placeholders; SQL both engines
//! accept), run it from `sqlite/<topic>.rs` and `pg/<topic>.rs`, add it to
//! `ReadBackend` and one method here.

mod alerts;
#[cfg(feature = "bench-floor")]
mod discard;
mod error;
mod filter;
mod gateway;
mod open;
mod pg;
mod reader;
mod readonly;
mod row;
mod schema;
mod seen;
mod sql;
mod sqlite;
mod writer;

pub use crate::config::StoreLocation;
pub use error::{ErrorKind, StoreError};
pub use filter::Filter;
pub use gateway::GatewayStatus;
pub use schema::SCHEMA_VERSION;
pub use writer::CopyInProgress;

use crate::model::Record;
use reader::ReadBackend;
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

/// How a store is opened.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Sync the WAL at every commit (`synchronous=FULL`), so an
    /// acknowledged record survives power loss. `false` selects NORMAL:
    /// faster, still safe against a process crash, but the last commits can
    /// be lost if the machine loses power. Default `true`.
    pub synchronous_full: bool,
    /// Most records committed in one transaction. Default 512.
    pub batch_max: usize,
    /// Longest a commit waits for other copies in progress
    /// ([`Store::begin_copy`]) to join its transaction; a lone copy is
    /// never delayed. Default zero (the sensor sets `[store]
    /// commit_delay_us`).
    pub commit_delay: std::time::Duration,
    /// Cap on the database size in bytes (SQLite `PRAGMA max_page_count`;
    /// the WAL file is not counted). When reached, inserts fail with
    /// [`ErrorKind::Full`] and reads keep working; purging frees space.
    /// Default `None` (no cap).
    pub max_db_bytes: Option<u64>,
    /// Delete records older than this many days, once at open and then
    /// hourly in the writer thread. Default `None` (keep everything).
    pub retention_days: Option<u32>,
}

impl Default for StoreOptions {
    fn default() -> StoreOptions {
        StoreOptions {
            synchronous_full: true,
            batch_max: 512,
            commit_delay: std::time::Duration::ZERO,
            max_db_bytes: None,
            retention_days: None,
        }
    }
}

/// The key that identifies `record` across retries and sensors: the
/// content key (SHA-256 over Message-ID, sorted original recipients and the
/// copy's hash) when the record has a Message-ID and a body hash, else its
/// `uid`. The event stream uses it as `Nats-Msg-Id`.
pub fn idempotency_key(record: &Record) -> String {
    row::content_key(record).unwrap_or_else(|| record.uid.clone())
}

/// Where [`Store::insert_copy`] put a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// Row id.
    pub id: i64,
    /// The uid the record is stored under: its own, or for a duplicate the
    /// first copy's.
    pub uid: String,
    /// The record was already stored (same uid, or a retried copy).
    pub duplicate: bool,
}

/// Handle to an open store: cheap to clone, `Send + Sync`.
///
/// Reads (`query`, `get`, `count`) are synchronous and short; from async
/// code, large queries belong in `spawn_blocking`. `insert` and `close` are
/// async and never block the runtime.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    path: Arc<Path>,
    writer: writer::Writer,
    reader: Box<dyn ReadBackend>,
    seen: seen::SeenDomains,
}

impl Store {
    /// `"sqlite"` or `"postgres"`.
    pub fn backend(&self) -> &'static str {
        self.inner.reader.name()
    }

    /// Reads are local file reads that never wait for the writer (SQLite in
    /// WAL mode), so a short one may run on an async thread; PostgreSQL
    /// reads cross the network and belong in `spawn_blocking`.
    pub fn reads_are_local(&self) -> bool {
        self.inner.reader.is_local()
    }

    /// Stores `record` (its `id` is ignored) and returns its row id once the
    /// transaction holding it is committed. A record whose `uid` is already
    /// stored, or a retried copy (same Message-ID, original recipients and
    /// content hash, whatever its `uid` and whichever sensor stored it
    /// first), is not stored again: the existing row id is returned.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidRecord`] for an empty `uid` or a `ts` that is not
    /// RFC 3339 UTC; otherwise the error of the batch's transaction (every
    /// record of a failed batch gets it), e.g. [`ErrorKind::Full`], or
    /// [`ErrorKind::Closed`] after [`Store::close`].
    pub async fn insert(&self, record: Record) -> Result<i64, StoreError> {
        Ok(self.insert_copy(record).await?.id)
    }

    /// Marks a copy as in progress (from MAIL until its record is queued by
    /// [`Store::insert_in_progress`], or the guard is dropped): a commit may
    /// wait up to [`StoreOptions::commit_delay`] for it.
    pub fn begin_copy(&self) -> CopyInProgress {
        self.inner.writer.begin_copy()
    }

    /// [`Store::insert`], also saying whether the record was a duplicate
    /// and, if so, the uid it was stored under (the sensor answers a
    /// retried copy with that uid).
    ///
    /// # Errors
    /// As [`Store::insert`].
    pub async fn insert_copy(&self, record: Record) -> Result<Stored, StoreError> {
        self.insert_row(record, None).await
    }

    /// [`Store::insert_copy`] of the copy `copy` announced: it stops
    /// holding commits back once its record is queued.
    ///
    /// # Errors
    /// As [`Store::insert`].
    pub async fn insert_in_progress(
        &self,
        record: Record,
        copy: CopyInProgress,
    ) -> Result<Stored, StoreError> {
        self.insert_row(record, Some(copy)).await
    }

    async fn insert_row(
        &self,
        record: Record,
        copy: Option<CopyInProgress>,
    ) -> Result<Stored, StoreError> {
        let row = row::Row::from_record(&record).map_err(|detail| {
            StoreError::new(ErrorKind::InvalidRecord, "insert", &self.inner.path, detail)
        })?;
        let done = self.inner.writer.insert(row, copy).await?;
        Ok(Stored {
            id: done.id,
            duplicate: done.existing_uid.is_some(),
            uid: done.existing_uid.unwrap_or(record.uid),
        })
    }

    /// Records matching `filter`, newest first, with `id` set. Reads the
    /// last committed state without waiting for the writer.
    pub fn query(&self, filter: &Filter) -> Result<Vec<Record>, StoreError> {
        self.inner.reader.query(filter)
    }

    /// The record with row id `id`, with `id` set.
    pub fn get(&self, id: i64) -> Result<Option<Record>, StoreError> {
        self.inner.reader.get(id)
    }

    /// Per-gateway activity over the `window_minutes` before `now_ms`
    /// (unix milliseconds), for the status page.
    pub fn gateway_status(
        &self,
        now_ms: i64,
        window_minutes: u32,
    ) -> Result<Vec<GatewayStatus>, StoreError> {
        self.inner.reader.gateway_status(now_ms, window_minutes)
    }

    /// Whether a record with this sender domain (the original envelope
    /// sender's domain, else the `From:` domain) is stored; the analysis's
    /// `first-seen-domain` history (`<backend>/history.rs`). A domain found
    /// stored is remembered (`seen.rs`) and not asked again.
    pub fn seen_sender_domain(&self, domain: &str) -> Result<bool, StoreError> {
        let domain = seen::normalise(domain);
        let purged = self.inner.writer.purged();
        if self.inner.seen.contains(&domain, purged) {
            return Ok(true);
        }
        let stored = self.inner.reader.seen_sender_domain(&domain)?;
        if stored {
            self.inner.seen.remember(domain, purged);
        }
        Ok(stored)
    }

    /// Number of stored records.
    pub fn count(&self) -> Result<u64, StoreError> {
        self.inner.reader.count()
    }

    /// Deletes records received before `cutoff`; returns how many. Runs in
    /// the writer thread (after inserts already queued) and blocks until
    /// done.
    pub fn purge_older_than(&self, cutoff: SystemTime) -> Result<usize, StoreError> {
        self.inner.writer.purge(row::unix_ms(cutoff))
    }

    /// Write transactions committed since open (insert batches and purges);
    /// for tests and metrics.
    pub fn commits(&self) -> u64 {
        self.inner.writer.commits()
    }

    /// The database path (for PostgreSQL, the URL without its password).
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Commits every insert queued before this call, then stops and joins
    /// the writer thread. Inserts through other clones of this handle fail
    /// with [`ErrorKind::Closed`] afterwards; reads keep working.
    pub async fn close(self) -> Result<(), StoreError> {
        self.inner.writer.close().await
    }
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.inner.path)
            .field("commits", &self.commits())
            .finish()
    }
}

/// The analysis asks the store what it has seen (`first-seen-domain`).
impl crate::ingest::analysis::History for Store {
    fn seen_sender_domain(&self, domain: &str) -> Result<bool, String> {
        Store::seen_sender_domain(self, domain).map_err(|e| e.to_string())
    }
}
