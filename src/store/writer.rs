//! The single writer thread and its group commit, independent of the SQL
//! backend.
//!
//! Inserting tasks send their row with a oneshot reply channel. The thread
//! blocks for the first request, then drains whatever else is already queued
//! (up to `batch_max` rows), writes them in one transaction, commits, and only
//! then answers every waiter: the sensor replies 250 after that answer, so a
//! 250 always means "committed". While one commit syncs to disk the next
//! batch queues up, so throughput grows with load.
//!
//! Commit delay (PostgreSQL's `commit_delay` with `commit_siblings = 1`):
//! a copy being received elsewhere will want a commit of its own a moment
//! later, and every commit writes each touched B-tree page once whether it
//! carries one row or twenty. So while copies are in progress
//! ([`Writer::begin_copy`] guards, held from MAIL until the row is queued),
//! the thread waits up to `commit_delay` for them to queue, and stops
//! waiting as soon as none is left. A lone copy is never delayed. While it
//! waits the thread is parked, not blocked on the channel: rows queued
//! meanwhile do not wake it one by one (each wake-up cost both threads a
//! few microseconds of CPU); the copy that leaves none in progress, queued
//! or abandoned (RSET, QUIT, dropped connection), unparks it.
//!
//! The thread also runs the retention purge every hour, and stops when the
//! store is closed or every handle is dropped (a copy guard holds none).

use super::error::{ErrorKind, StoreError};
use super::row::{days_ago, unix_ms, Row};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::thread::Thread;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// How often the retention purge runs (it also runs once at open).
const PURGE_INTERVAL: Duration = Duration::from_secs(3600);

/// The write side of a backend, owned by the writer thread.
pub(crate) trait WriteBackend: Send + 'static {
    /// Inserts `rows` in one committed transaction and returns their row ids
    /// in order; a row whose `uid` or content key is already stored gets the
    /// existing id and uid.
    fn insert_batch(&mut self, rows: &[Row]) -> Result<Vec<Inserted>, StoreError>;
    /// Deletes records received before `cutoff_ms` (unix ms); returns how many.
    fn purge(&mut self, cutoff_ms: i64) -> Result<usize, StoreError>;
}

/// The outcome of one row's insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Inserted {
    /// Its row id (the existing row's for a duplicate).
    pub id: i64,
    /// For a duplicate (same uid or content key): the stored row's uid.
    pub existing_uid: Option<String>,
}

/// Where an insert's outcome goes.
type InsertReply = oneshot::Sender<Result<Inserted, StoreError>>;

enum Request {
    // Boxed: a row is large and the channel holds requests by value.
    Insert(Box<Row>, InsertReply),
    Purge(i64, mpsc::SyncSender<Result<usize, StoreError>>),
    Close(oneshot::Sender<()>),
}

/// Handle to the writer thread (shared by every clone of the store).
pub(crate) struct Writer {
    path: Arc<Path>,
    tx: mpsc::Sender<Request>,
    thread: Mutex<Option<JoinHandle<()>>>,
    commits: Arc<AtomicU64>,
    in_progress: Arc<InProgress>,
    purged: Arc<AtomicU64>,
}

/// Copies in progress, shared by their guards and the thread.
#[derive(Debug, Default)]
struct InProgress {
    count: AtomicUsize,
    /// The thread is in its commit delay: the guard that leaves no copy in
    /// progress must unpark it.
    waiting: AtomicBool,
    /// The writer thread (set by the thread itself when it starts).
    thread: OnceLock<Thread>,
}

impl InProgress {
    /// Counts one copy out; the last one out while the thread waits for
    /// copies unparks it. SeqCst on both sides: either the waiting thread
    /// sees the lower count, or this sees it waiting and unparks it (a
    /// park after an unpark returns at once).
    fn count_out(&self) {
        let left = self.count.fetch_sub(1, Ordering::SeqCst) - 1;
        if left == 0 && self.waiting.load(Ordering::SeqCst) {
            if let Some(thread) = self.thread.get() {
                thread.unpark();
            }
        }
    }
}

/// How the writer thread groups rows into transactions.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Batching {
    /// Most rows in one transaction.
    pub max: usize,
    /// Longest wait for copies in progress before committing (0: none).
    pub delay: Duration,
}

/// A copy in progress (from its MAIL command until its row is queued):
/// while one exists, the writer may hold a commit back for it (see the
/// module documentation). Dropping it abandons the copy.
#[derive(Debug)]
pub struct CopyInProgress {
    in_progress: Arc<InProgress>,
}

impl Drop for CopyInProgress {
    /// Queued or abandoned, the copy is no longer in progress. (When it is
    /// queued, the row is already in the channel: a thread unparked now
    /// finds it there.)
    fn drop(&mut self) {
        self.in_progress.count_out();
    }
}

impl Writer {
    /// Runs the open-time retention purge on the caller's thread (so `open`
    /// reports its failure), then starts the writer thread.
    pub fn spawn<B: WriteBackend>(
        path: Arc<Path>,
        mut backend: B,
        batching: Batching,
        retention_days: Option<u32>,
    ) -> Result<Writer, StoreError> {
        let commits = Arc::new(AtomicU64::new(0));
        let in_progress = Arc::new(InProgress::default());
        let purged = Arc::new(AtomicU64::new(0));
        if let Some(days) = retention_days {
            backend.purge(unix_ms(days_ago(days)))?;
            commits.fetch_add(1, Ordering::Relaxed);
        }
        let (tx, rx) = mpsc::channel();
        let worker = Worker {
            backend,
            rx,
            batch_max: batching.max.max(1),
            delay: batching.delay,
            in_progress: Arc::clone(&in_progress),
            retention_days,
            commits: Arc::clone(&commits),
            purged: Arc::clone(&purged),
        };
        let thread = std::thread::Builder::new()
            .name("authsense-store".into())
            .spawn(move || worker.run())
            .map_err(|e| {
                StoreError::new(ErrorKind::Open, "start writer thread", &path, e.to_string())
            })?;
        Ok(Writer {
            path,
            tx,
            thread: Mutex::new(Some(thread)),
            commits,
            in_progress,
            purged,
        })
    }

    /// Marks a copy as in progress until the guard is dropped.
    pub fn begin_copy(&self) -> CopyInProgress {
        self.in_progress.count.fetch_add(1, Ordering::SeqCst);
        CopyInProgress {
            in_progress: Arc::clone(&self.in_progress),
        }
    }

    /// Queues `row` and waits until its batch is committed.
    /// `copy`: the guard of the copy this row is, counted out just after
    /// the row is sent (a commit waiting for it may then go ahead: it has
    /// the row).
    pub async fn insert(
        &self,
        row: Row,
        copy: Option<CopyInProgress>,
    ) -> Result<Inserted, StoreError> {
        let (reply, answer) = oneshot::channel();
        let sent = self.tx.send(Request::Insert(Box::new(row), reply));
        // Counted out once the row is in the channel (or could not be).
        drop(copy);
        sent.map_err(|_| self.closed("insert"))?;
        // A dropped reply means the thread stopped (closed, or panicked)
        // before committing this row: never report success.
        answer.await.map_err(|_| self.closed("insert"))?
    }

    /// Runs a purge in the writer thread and waits for it (blocking).
    pub fn purge(&self, cutoff_ms: i64) -> Result<usize, StoreError> {
        let (reply, answer) = mpsc::sync_channel(1);
        self.tx
            .send(Request::Purge(cutoff_ms, reply))
            .map_err(|_| self.closed("purge"))?;
        answer.recv().map_err(|_| self.closed("purge"))?
    }

    /// Records deleted by purges since the thread started (a reader's
    /// memory of what is stored is stale once this changes).
    pub fn purged(&self) -> u64 {
        self.purged.load(Ordering::SeqCst)
    }

    /// Committed write transactions so far.
    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    /// Lets the thread finish every request queued before this call, then
    /// joins it. Closing an already closed store is a no-op.
    pub async fn close(&self) -> Result<(), StoreError> {
        let (reply, done) = oneshot::channel();
        if self.tx.send(Request::Close(reply)).is_ok() {
            let _ = done.await;
        }
        let thread = match self.thread.lock() {
            Ok(mut guard) => guard.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        if let Some(thread) = thread {
            let joined = tokio::task::spawn_blocking(move || thread.join()).await;
            if !matches!(joined, Ok(Ok(()))) {
                return Err(StoreError::new(
                    ErrorKind::Database,
                    "close",
                    &self.path,
                    "the writer thread panicked",
                ));
            }
        }
        Ok(())
    }

    fn closed(&self, op: &'static str) -> StoreError {
        StoreError::new(
            ErrorKind::Closed,
            op,
            &self.path,
            "the store is closed (writer thread stopped)",
        )
    }
}

struct Worker<B> {
    backend: B,
    rx: mpsc::Receiver<Request>,
    batch_max: usize,
    delay: Duration,
    in_progress: Arc<InProgress>,
    retention_days: Option<u32>,
    commits: Arc<AtomicU64>,
    purged: Arc<AtomicU64>,
}

impl<B: WriteBackend> Worker<B> {
    fn run(mut self) {
        let _ = self.in_progress.thread.set(std::thread::current());
        let mut next_purge = Instant::now() + PURGE_INTERVAL;
        loop {
            let first = if self.retention_days.is_some() {
                let wait = next_purge.saturating_duration_since(Instant::now());
                match self.rx.recv_timeout(wait) {
                    Ok(req) => req,
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        self.retention_purge();
                        next_purge = Instant::now() + PURGE_INTERVAL;
                        continue;
                    }
                    Err(mpsc::RecvTimeoutError::Disconnected) => return,
                }
            } else {
                match self.rx.recv() {
                    Ok(req) => req,
                    Err(mpsc::RecvError) => return,
                }
            };
            let mut batch = Vec::new();
            let mut other = None;
            match first {
                Request::Insert(row, reply) => batch.push((row, reply)),
                req => other = Some(req),
            }
            while other.is_none() && batch.len() < self.batch_max {
                match self.rx.try_recv() {
                    Ok(Request::Insert(row, reply)) => batch.push((row, reply)),
                    Ok(req) => other = Some(req),
                    Err(_) => break,
                }
            }
            if other.is_none() && !batch.is_empty() {
                other = self.wait_for_siblings(&mut batch);
            }
            if !batch.is_empty() {
                self.commit(batch);
            }
            match other {
                Some(Request::Purge(cutoff, reply)) => {
                    let result = self.backend.purge(cutoff);
                    if let Ok(n) = result {
                        self.count_purge(n);
                    }
                    let _ = reply.send(result);
                }
                Some(Request::Close(reply)) => {
                    // Drop the connection (checkpointing the WAL) before
                    // telling `close` we are done.
                    drop(self);
                    let _ = reply.send(());
                    return;
                }
                Some(Request::Insert(..)) | None => {}
            }
        }
    }

    /// The commit delay: while copies are in progress (not yet queued), and
    /// for at most `delay`, the thread parks (the copy that leaves none in
    /// progress unparks it); then it adds every row queued meanwhile, up to
    /// `batch_max`. Returns a non-insert request found among them.
    fn wait_for_siblings(&self, batch: &mut Vec<(Box<Row>, InsertReply)>) -> Option<Request> {
        if self.delay.is_zero() {
            return None;
        }
        let deadline = Instant::now() + self.delay;
        let waiting = &self.in_progress.waiting;
        waiting.store(true, Ordering::SeqCst);
        while self.in_progress.count.load(Ordering::SeqCst) > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            std::thread::park_timeout(left);
        }
        waiting.store(false, Ordering::SeqCst);
        while batch.len() < self.batch_max {
            match self.rx.try_recv() {
                Ok(Request::Insert(row, reply)) => batch.push((row, reply)),
                Ok(req) => return Some(req),
                Err(_) => break,
            }
        }
        None
    }

    fn commit(&mut self, batch: Vec<(Box<Row>, InsertReply)>) {
        let (rows, replies): (Vec<Row>, Vec<_>) =
            batch.into_iter().map(|(row, reply)| (*row, reply)).unzip();
        match self.backend.insert_batch(&rows) {
            Ok(ids) => {
                self.commits.fetch_add(1, Ordering::Relaxed);
                for (reply, id) in replies.into_iter().zip(ids) {
                    let _ = reply.send(Ok(id));
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, records = rows.len(), "store batch failed");
                for reply in replies {
                    let _ = reply.send(Err(e.clone()));
                }
            }
        }
    }

    fn count_purge(&self, n: usize) {
        self.commits.fetch_add(1, Ordering::Relaxed);
        self.purged.fetch_add(n as u64, Ordering::SeqCst);
    }

    fn retention_purge(&mut self) {
        let Some(days) = self.retention_days else {
            return;
        };
        match self.backend.purge(unix_ms(days_ago(days))) {
            Ok(n) => {
                self.count_purge(n);
                tracing::info!(deleted = n, days, "store retention purge");
            }
            Err(e) => tracing::warn!(error = %e, "store retention purge failed"),
        }
    }
}
