//! The PostgreSQL backend, for a fleet of sensors sharing one database:
//! connecting (and refusing TLS demands this build cannot meet), opening
//! the store, and mapping PostgreSQL's errors. The writer's connection is
//! in `write.rs`, the read pool in `read.rs`, the queries by topic beside
//! them; their SQL is shared with SQLite (`sql.rs`, `filter.rs`).
//!
//! Uses the synchronous `postgres` crate. It runs its own small runtime and
//! must never be called on a thread inside a tokio runtime, so: the writer
//! thread (a plain thread, `writer.rs`) owns the write connection, and
//! every read runs on a short-lived scoped thread with a pooled connection
//! (`read.rs`) — the `Store` read methods stay synchronous, as on SQLite.
//!
//! Durability: a transaction is acknowledged by PostgreSQL after its WAL is
//! flushed (`synchronous_commit = on`, the default; `synchronous_full =
//! false` turns it off for this session). Inserts from concurrent sensors
//! are idempotent by `uid` and by the content key: `ON CONFLICT DO NOTHING`
//! waits for a conflicting uncommitted insert, then the existing id is read.

mod alerts;
mod history;
mod read;
pub(crate) mod schema;
mod status;
mod write;

pub(crate) use read::PgReadPool;
pub(crate) use write::PgWriter;

use crate::store::error::{ErrorKind, StoreError};
use crate::store::StoreOptions;
use postgres::{Client, NoTls};
use std::path::Path;
use std::sync::Arc;

/// Runs `f` on a fresh thread outside any tokio runtime and returns its
/// result (the `postgres` crate panics inside one).
pub(crate) fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| match s.spawn(f).join() {
        Ok(v) => v,
        Err(panic) => std::panic::resume_unwind(panic),
    })
}

/// Connects to `url` (on the calling thread: never a runtime thread).
pub(crate) fn connect(url: &str, path: &Arc<Path>) -> Result<Client, StoreError> {
    if let Some(mode) = tls_required(url) {
        let detail = format!(
            "sslmode={mode}: TLS to PostgreSQL is not supported by this build; use a \
             private network or a local TLS tunnel (docs/scaling.md)"
        );
        return Err(StoreError::new(ErrorKind::Open, "connect", path, detail));
    }
    Client::connect(url, NoTls)
        .map_err(|e| StoreError::new(ErrorKind::Open, "connect", path, e.to_string()))
}

/// The `sslmode` of `url` if it demands TLS (`require`, `verify-ca`,
/// `verify-full`): refused up front with a clear message rather than the
/// driver's "no TLS implementation configured".
fn tls_required(url: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| k.eq_ignore_ascii_case("sslmode"))
        .map(|(_, v)| v.to_ascii_lowercase())
        .filter(|v| matches!(v.as_str(), "require" | "verify-ca" | "verify-full"))
}

/// Connects, migrates, and returns the writer's backend and the read pool.
pub(crate) fn open(
    url: &str,
    path: &Arc<Path>,
    opts: &StoreOptions,
) -> Result<(PgWriter, PgReadPool), StoreError> {
    if opts.max_db_bytes.is_some() {
        tracing::warn!(db = %path.display(), "max_db_bytes is SQLite-only; ignored for PostgreSQL");
    }
    let url = url.to_string();
    let sync_full = opts.synchronous_full;
    let session = if sync_full {
        ""
    } else {
        "SET synchronous_commit = off"
    };
    let client = off_runtime(|| -> Result<Client, StoreError> {
        let mut client = connect(&url, path)?;
        schema::migrate(&mut client, path)?;
        if !session.is_empty() {
            client
                .batch_execute(session)
                .map_err(|e| StoreError::new(ErrorKind::Open, "open", path, e.to_string()))?;
        }
        Ok(client)
    })?;
    let readers = PgReadPool::new(url.clone(), Arc::clone(path));
    readers.check()?;
    Ok((
        PgWriter::new(client, url, session, Arc::clone(path)),
        readers,
    ))
}

/// Maps a PostgreSQL error; a full disk is `Full`, as on SQLite.
pub(crate) fn db_err(path: &Arc<Path>, op: &'static str, e: postgres::Error) -> StoreError {
    use postgres::error::SqlState;
    let kind = match e.code() {
        Some(c) if *c == SqlState::DISK_FULL || *c == SqlState::OUT_OF_MEMORY => ErrorKind::Full,
        _ => ErrorKind::Database,
    };
    let detail = match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    };
    StoreError::new(kind, op, path, detail)
}

#[cfg(test)]
mod tests {
    use super::tls_required;

    #[test]
    fn tls_demands_are_recognised() {
        assert_eq!(
            tls_required("postgres://u@db/x?sslmode=require").as_deref(),
            Some("require")
        );
        assert_eq!(
            tls_required("postgres://db/x?a=1&SSLMODE=Verify-Full").as_deref(),
            Some("verify-full")
        );
        assert_eq!(tls_required("postgres://db/x?sslmode=prefer"), None);
        assert_eq!(tls_required("postgres://db/x?sslmode=disable"), None);
        assert_eq!(tls_required("postgres://db/x"), None);
    }
}
