//! The SQLite backend: every SQL statement of the store except migrations.
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

use super::error::{ErrorKind, StoreError};
use super::filter::{self, Param};
use super::row::{self, Row};
use super::writer::{Inserted, WriteBackend};
use super::{schema, Filter, StoreOptions};
use crate::sensor::record::Record;
use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Connection, OpenFlags, OptionalExtension};
use rusqlite::{ErrorCode, TransactionBehavior};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a statement waits for a lock held by another process (e.g. a
/// second writer) before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Idle read connections kept for reuse.
const READ_POOL_IDLE: usize = 4;

/// Opens (creating the file if needed) and configures the database, runs
/// the migrations, and returns the writer's backend and the read pool.
pub(crate) fn open(
    path: &Arc<Path>,
    opts: &StoreOptions,
) -> Result<(SqliteWriter, ReadPool), StoreError> {
    let open_err =
        |e: rusqlite::Error| StoreError::new(ErrorKind::Open, "open", path, e.to_string());
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.is_dir() {
            return Err(StoreError::new(
                ErrorKind::Open,
                "open",
                path,
                format!("directory {} does not exist", dir.display()),
            ));
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
    let readers = ReadPool {
        path: Arc::clone(path),
        idle: Mutex::new(Vec::new()),
    };
    // Open one reader now so a read-side problem is reported by `open`.
    readers.with_conn("open", |_| Ok(()))?;
    let writer = SqliteWriter {
        conn,
        path: Arc::clone(path),
    };
    Ok((writer, readers))
}

/// Maps a SQLite error, recognising a full database (the `max_db_bytes`
/// cap, `SQLITE_FULL`).
fn db_err(path: &Arc<Path>, op: &'static str, e: rusqlite::Error) -> StoreError {
    if e.sqlite_error_code() == Some(ErrorCode::DiskFull) {
        let detail = format!("{e} (database size cap reached, or the disk is full)");
        return StoreError::new(ErrorKind::Full, op, path, detail);
    }
    StoreError::new(ErrorKind::Database, op, path, e.to_string())
}

/// The writer thread's read-write connection.
pub(crate) struct SqliteWriter {
    conn: Connection,
    path: Arc<Path>,
}

impl WriteBackend for SqliteWriter {
    fn insert_batch(&mut self, rows: &[Row]) -> Result<Vec<Inserted>, StoreError> {
        let err = |e| db_err(&self.path, "insert", e);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        let mut ids = Vec::with_capacity(rows.len());
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO messages (ts, uid, gateway_ip, original_mailfrom,
                        from_address, sender_domain, subject, spf_result, auth_source,
                        msg_id, record, verdict, score, dkim_result, dmarc_result,
                        gateway_helo, tls, content_key)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,
                        ?15, ?16, ?17, ?18)
                     ON CONFLICT DO NOTHING",
                )
                .map_err(err)?;
            let mut existing = tx
                .prepare_cached("SELECT id, uid FROM messages WHERE uid = ?1 OR content_key = ?2")
                .map_err(err)?;
            let mut recipient = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO recipients (message_id, address) VALUES (?1, ?2)",
                )
                .map_err(err)?;
            for row in rows {
                let inserted = insert
                    .execute(params![
                        row.ts_ms,
                        row.uid,
                        row.gateway_ip,
                        row.original_mailfrom,
                        row.from_address,
                        row.sender_domain,
                        row.subject,
                        row.spf_result,
                        row.auth_source,
                        row.msg_id,
                        row.json,
                        row.verdict,
                        row.score,
                        row.dkim_result,
                        row.dmarc_result,
                        row.gateway_helo,
                        row.tls,
                        row.content_key,
                    ])
                    .map_err(err)?;
                let id = if inserted == 1 {
                    let id = tx.last_insert_rowid();
                    for address in &row.recipients {
                        recipient.execute(params![id, address]).map_err(err)?;
                    }
                    Inserted {
                        id,
                        existing_uid: None,
                    }
                } else {
                    // A retried copy: idempotent, answer with the stored row.
                    let (id, uid) = existing
                        .query_row(params![row.uid, row.content_key], |r| {
                            Ok((r.get(0)?, r.get(1)?))
                        })
                        .map_err(err)?;
                    Inserted {
                        id,
                        existing_uid: Some(uid),
                    }
                };
                ids.push(id);
            }
        }
        tx.commit().map_err(err)?;
        Ok(ids)
    }

    fn purge(&mut self, cutoff_ms: i64) -> Result<usize, StoreError> {
        let err = |e| db_err(&self.path, "purge", e);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        // Recipients go by ON DELETE CASCADE.
        let deleted = tx
            .execute("DELETE FROM messages WHERE ts < ?1", [cutoff_ms])
            .map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(deleted)
    }
}

/// Read-only connections, opened on demand and kept for reuse.
pub(crate) struct ReadPool {
    path: Arc<Path>,
    idle: Mutex<Vec<Connection>>,
}

impl ReadPool {
    /// Records matching `filter`, newest first.
    pub fn query(&self, filter: &Filter) -> Result<Vec<Record>, StoreError> {
        let (sql, params) = filter::filter_sql(filter);
        let values: Vec<Value> = params.into_iter().map(sqlite_value).collect();
        let rows = self.with_conn("query", |c| {
            let mut stmt = c.prepare_cached(&sql)?;
            let rows = stmt.query_map(params_from_iter(values.iter()), |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?;
            rows.collect::<Result<Vec<(i64, String)>, _>>()
        })?;
        rows.into_iter()
            .map(|(id, json)| self.decode(id, &json))
            .collect()
    }

    /// The record with row id `id`.
    pub fn get(&self, id: i64) -> Result<Option<Record>, StoreError> {
        let json = self.with_conn("get", |c| {
            c.prepare_cached("SELECT record FROM messages WHERE id = ?1")?
                .query_row([id], |r| r.get::<_, String>(0))
                .optional()
        })?;
        json.map(|j| self.decode(id, &j)).transpose()
    }

    /// Number of stored records.
    pub fn count(&self) -> Result<u64, StoreError> {
        let n: i64 = self.with_conn("count", |c| {
            c.query_row("SELECT COUNT(*) FROM messages", [], |r| r.get(0))
        })?;
        Ok(n.unsigned_abs())
    }

    fn decode(&self, id: i64, json: &str) -> Result<Record, StoreError> {
        row::decode(&self.path, id, json)
    }

    /// Runs `f` on an idle connection (or a new one), and keeps the
    /// connection for reuse unless `f` failed.
    pub(super) fn with_conn<T>(
        &self,
        op: &'static str,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let idle = match self.idle.lock() {
            Ok(mut pool) => pool.pop(),
            Err(poisoned) => poisoned.into_inner().pop(),
        };
        let conn = match idle {
            Some(c) => c,
            None => self.connect().map_err(|e| db_err(&self.path, op, e))?,
        };
        let result = f(&conn).map_err(|e| db_err(&self.path, op, e))?;
        if let Ok(mut pool) = self.idle.lock() {
            if pool.len() < READ_POOL_IDLE {
                pool.push(conn);
            }
        }
        Ok(result)
    }

    fn connect(&self) -> rusqlite::Result<Connection> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&self.path, flags)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        Ok(conn)
    }
}

fn sqlite_value(p: Param) -> Value {
    match p {
        Param::Int(i) => Value::Integer(i),
        Param::Text(t) => Value::Text(t),
    }
}
