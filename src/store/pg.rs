//! The PostgreSQL backend, for a fleet of sensors sharing one database.
//!
//! Uses the synchronous `postgres` crate. It runs its own small runtime and
//! must never be called on a thread inside a tokio runtime, so: the writer
//! thread (a plain thread, `writer.rs`) owns the write connection, and
//! every read runs on a short-lived scoped thread with a pooled connection
//! (`pg_read.rs`) — the `Store` read methods stay synchronous, as on SQLite.
//!
//! Durability: a transaction is acknowledged by PostgreSQL after its WAL is
//! flushed (`synchronous_commit = on`, the default; `synchronous_full =
//! false` turns it off for this session). Inserts from concurrent sensors
//! are idempotent by `uid` and by the content key: `ON CONFLICT DO NOTHING`
//! waits for a conflicting uncommitted insert, then the existing id is read.

use super::error::{ErrorKind, StoreError};
use super::pg_read::PgReadPool;
use super::pg_schema;
use super::row::Row;
use super::writer::{Inserted, WriteBackend};
use super::StoreOptions;
use postgres::{Client, NoTls};
use std::path::Path;
use std::sync::Arc;

/// `url` with any password replaced by `***`, for logs and errors.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

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
        pg_schema::migrate(&mut client, path)?;
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
        PgWriter {
            client,
            url: url.clone(),
            session,
            path: Arc::clone(path),
        },
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

/// A deadlock or serialization failure: the transaction can simply be
/// run again.
fn retryable(e: &postgres::Error) -> bool {
    use postgres::error::SqlState;
    matches!(e.code(), Some(c) if *c == SqlState::T_R_DEADLOCK_DETECTED
        || *c == SqlState::T_R_SERIALIZATION_FAILURE)
}

/// Times a batch is retried after a deadlock with another sensor's batch.
const BATCH_ATTEMPTS: usize = 5;

/// The writer thread's connection, reopened when the server dropped it
/// (restart, failover): the batch that met the broken connection fails
/// (451, the gateway retries), the next one reconnects.
pub(crate) struct PgWriter {
    client: Client,
    url: String,
    /// Session settings applied to every new connection.
    session: &'static str,
    path: Arc<Path>,
}

const INSERT: &str = "INSERT INTO messages (ts, uid, gateway_ip, original_mailfrom,
        from_address, sender_domain, subject, spf_result, auth_source, msg_id, record,
        verdict, score, dkim_result, dmarc_result, gateway_helo, tls, content_key)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
    ON CONFLICT DO NOTHING
    RETURNING id";

impl WriteBackend for PgWriter {
    /// Rows go in in content-key order, so two sensors' batches that share
    /// retried copies wait on each other's unique-index entries in the same
    /// order; a deadlock that still happens is retried.
    fn insert_batch(&mut self, rows: &[Row]) -> Result<Vec<Inserted>, StoreError> {
        let mut order: Vec<usize> = (0..rows.len()).collect();
        order.sort_by(|&a, &b| {
            (&rows[a].content_key, &rows[a].uid).cmp(&(&rows[b].content_key, &rows[b].uid))
        });
        if self.client.is_closed() {
            tracing::info!(db = %self.path.display(), "store connection lost; reconnecting");
            let mut client = connect(&self.url, &self.path)?;
            if !self.session.is_empty() {
                client
                    .batch_execute(self.session)
                    .map_err(|e| db_err(&self.path, "reconnect", e))?;
            }
            self.client = client;
        }
        let mut attempt = 1;
        loop {
            match self.try_batch(rows, &order) {
                Err(e) if attempt < BATCH_ATTEMPTS && retryable(&e) => {
                    tracing::info!(attempt, error = %e, "store batch retried");
                    attempt += 1;
                }
                other => return other.map_err(|e| db_err(&self.path, "insert", e)),
            }
        }
    }

    /// Off the calling thread: the open-time purge runs on the thread that
    /// opens the store, which may be a runtime thread (purges are rare).
    fn purge(&mut self, cutoff_ms: i64) -> Result<usize, StoreError> {
        let (client, path) = (&mut self.client, &self.path);
        let n = off_runtime(|| {
            client
                .execute("DELETE FROM messages WHERE ts < $1", &[&cutoff_ms])
                .map_err(|e| db_err(path, "purge", e))
        })?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }
}

impl PgWriter {
    /// One attempt at the batch, inserting in `order`; ids in row order.
    fn try_batch(
        &mut self,
        rows: &[Row],
        order: &[usize],
    ) -> Result<Vec<Inserted>, postgres::Error> {
        let mut tx = self.client.transaction()?;
        let insert = tx.prepare(INSERT)?;
        let existing =
            tx.prepare("SELECT id, uid FROM messages WHERE uid = $1 OR content_key = $2")?;
        let recipient = tx.prepare(
            "INSERT INTO recipients (message_id, address) VALUES ($1, $2)
             ON CONFLICT DO NOTHING",
        )?;
        let mut ids = vec![
            Inserted {
                id: 0,
                existing_uid: None
            };
            rows.len()
        ];
        for &i in order {
            let row = &rows[i];
            let inserted = tx.query_opt(
                &insert,
                &[
                    &row.ts_ms,
                    &row.uid,
                    &row.gateway_ip,
                    &row.original_mailfrom,
                    &row.from_address,
                    &row.sender_domain,
                    &row.subject,
                    &row.spf_result,
                    &row.auth_source,
                    &row.msg_id,
                    &row.json,
                    &row.verdict,
                    &row.score,
                    &row.dkim_result,
                    &row.dmarc_result,
                    &row.gateway_helo,
                    &row.tls,
                    &row.content_key,
                ],
            )?;
            ids[i] = match inserted {
                Some(r) => {
                    let id = r.get(0);
                    for address in &row.recipients {
                        tx.execute(&recipient, &[&id, address])?;
                    }
                    Inserted {
                        id,
                        existing_uid: None,
                    }
                }
                // A retried copy: idempotent, answer with the stored row.
                None => {
                    let r = tx.query_one(&existing, &[&row.uid, &row.content_key])?;
                    Inserted {
                        id: r.get(0),
                        existing_uid: Some(r.get(1)),
                    }
                }
            };
        }
        tx.commit()?;
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::{redact, tls_required};

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

    #[test]
    fn redacts_passwords_only() {
        assert_eq!(
            redact("postgres://u:secret@db:5432/x"),
            "postgres://u:***@db:5432/x"
        );
        assert_eq!(redact("postgres://u@db/x"), "postgres://u@db/x");
        assert_eq!(redact("postgres://db/x?a=b@c"), "postgres://db/x?a=b@c");
    }
}
