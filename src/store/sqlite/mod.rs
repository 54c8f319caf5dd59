//! The SQLite backend: opening and configuring the database file, and
//! mapping SQLite's errors. The writer's connection is in `write.rs`, the
//! read pool in `read.rs`, the queries by topic beside them; their SQL is
//! shared with PostgreSQL (`sql.rs`, `filter.rs`).
//!
//! One read-write connection lives in the writer thread; reads use a small
//! pool of read-only connections. In WAL mode readers see the last committed
//! snapshot and never wait for the writer (and the writer never waits for
//! them), so a slow `authsense messages` cannot stall the sensor's 250s.
//!
//! Durability (SQLite "WAL" and "PRAGMA synchronous" documentation): a
//! commit appends to the WAL file. With `synchronous=FULL` the WAL is fsynced
//! at every commit, so a committed transaction survives a crash of the
//! process *and* of the machine (power loss). With `synchronous=NORMAL` it
//! is fsynced only at checkpoints: a commit still survives a process crash
//! (`kill -9`: the data is in the OS page cache), but the last commits can
//! roll back after a power loss; the database stays consistent either way.
//! The sensor promises 250 = durable, hence FULL by default; group commit
//! pays one fsync per batch instead of per record.

mod alerts;
mod history;
mod read;
pub(crate) mod schema;
mod status;
mod write;

pub(crate) use read::ReadPool;
pub(crate) use write::SqliteWriter;

use crate::store::error::{ErrorKind, StoreError};
use crate::store::StoreOptions;
use rusqlite::{Connection, ErrorCode, OpenFlags};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// How long a statement waits for a lock held by another process (e.g. a
/// second writer) before failing.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens (creating the file if needed) and configures the database, runs
/// the migrations, and returns the writer's backend and the read pool.
pub(crate) fn open(
    path: &Arc<Path>,
    opts: &StoreOptions,
) -> Result<(SqliteWriter, ReadPool), StoreError> {
    let open_err =
        |e: rusqlite::Error| StoreError::new(ErrorKind::Open, "open", path, e.to_string());
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let detail = match std::fs::metadata(dir) {
            Ok(m) if m.is_dir() => writable_dir(dir),
            Ok(_) => Some(format!("{} is not a directory", dir.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Some(format!("directory {} does not exist", dir.display()))
            }
            Err(e) => Some(access_problem(dir, &e)),
        };
        if let Some(detail) = detail {
            return Err(StoreError::new(ErrorKind::Open, "open", path, detail));
        }
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut conn = Connection::open_with_flags(path, flags).map_err(open_err)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
        .map_err(open_err)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::new(
            ErrorKind::Open,
            "open",
            path,
            format!("cannot enable WAL journal mode (got {mode:?})"),
        ));
    }
    let sync = if opts.synchronous_full {
        "FULL"
    } else {
        "NORMAL"
    };
    conn.pragma_update(None, "synchronous", sync)
        .map_err(open_err)?;
    conn.pragma_update(None, "foreign_keys", true)
        .map_err(open_err)?;
    schema::migrate(&mut conn, path)?;
    if let Some(bytes) = opts.max_db_bytes {
        // Set after migrating so the schema always fits; SQLite will not
        // lower the cap below the current size, so an existing larger
        // database simply cannot grow.
        let page_size: i64 = conn
            .pragma_query_value(None, "page_size", |r| r.get(0))
            .map_err(open_err)?;
        let pages = (bytes / page_size.max(512).unsigned_abs()).max(1);
        let pages = i64::try_from(pages).unwrap_or(i64::MAX);
        let _: i64 = conn
            .pragma_update_and_check(None, "max_page_count", pages, |r| r.get(0))
            .map_err(open_err)?;
    }
    let readers = ReadPool::new(Arc::clone(path));
    // Open one reader now so a read-side problem is reported by `open`.
    readers.with_conn("open", |_| Ok(()))?;
    Ok((SqliteWriter::new(conn, Arc::clone(path)), readers))
}

/// An existing database for reading only: its schema must be the one this
/// authsense writes; nothing is created or changed.
pub(crate) fn open_read_only(path: &Arc<Path>) -> Result<ReadPool, StoreError> {
    let err = |detail: String| StoreError::new(ErrorKind::Open, "open", path, detail);
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => {}
        Ok(_) => return Err(err("not a database file".into())),
        Err(e) => return Err(err(access_problem(path, &e))),
    }
    let readers = ReadPool::new(Arc::clone(path));
    let found: u32 = readers.with_conn("open", |c| {
        c.pragma_query_value(None, "user_version", |r| r.get(0))
    })?;
    crate::store::schema::check_version(found, path)?;
    if found < crate::store::SCHEMA_VERSION {
        return Err(StoreError::new(
            ErrorKind::Schema,
            "open",
            path,
            format!(
                "schema version {found}, this authsense reads {}: start the sensor once to migrate it",
                crate::store::SCHEMA_VERSION
            ),
        ));
    }
    Ok(readers)
}

/// Why the sensor could not open (or create) the database at `path`, if
/// anything would stop it: `authsense check-config`'s test of the store
/// path, which creates nothing.
pub(crate) fn check_writable(path: &Path) -> Option<String> {
    let dir = match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(d) => d,
        None => Path::new("."),
    };
    match std::fs::metadata(dir) {
        Ok(m) if !m.is_dir() => return Some(format!("{} is not a directory", dir.display())),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Some(format!("directory {} does not exist", dir.display()))
        }
        Err(e) => return Some(access_problem(dir, &e)),
    }
    match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
    {
        Ok(_) => writable_dir(dir),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => writable_dir(dir),
        Err(e) => Some(access_problem(path, &e)),
    }
}

/// What keeps us from `path` (or its directory), named for the admin.
fn access_problem(path: &Path, e: &std::io::Error) -> String {
    let who = crate::process::current_user();
    match e.kind() {
        std::io::ErrorKind::NotFound => format!("no database at {}", path.display()),
        std::io::ErrorKind::PermissionDenied => format!(
            "{} cannot be reached by user {who} (permission denied on it or a directory above it)",
            path.display()
        ),
        _ => e.to_string(),
    }
}

/// Maps a SQLite error, recognising a full database (the `max_db_bytes`
/// cap, `SQLITE_FULL`).
pub(crate) fn db_err(path: &Arc<Path>, op: &'static str, e: rusqlite::Error) -> StoreError {
    if e.sqlite_error_code() == Some(ErrorCode::DiskFull) {
        let detail = format!("{e} (database size cap reached, or the disk is full)");
        return StoreError::new(ErrorKind::Full, op, path, detail);
    }
    StoreError::new(ErrorKind::Database, op, path, e.to_string())
}

/// Why `dir` cannot hold a database (SQLite creates the file and its WAL
/// and shared-memory files there), if it cannot.
fn writable_dir(dir: &Path) -> Option<String> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: a valid C string; access only reads it.
    let ok = unsafe { libc::access(c.as_ptr(), libc::W_OK | libc::X_OK) } == 0;
    (!ok).then(|| {
        format!(
            "directory {} is not writable by user {} (the store creates its files there)",
            dir.display(),
            crate::process::current_user()
        )
    })
}
