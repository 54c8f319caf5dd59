//! The PostgreSQL writer: the writer thread's connection (reopened after
//! the server dropped it), inserting each batch in one transaction in
//! content-key order and retrying it after a deadlock with another
//! sensor's batch, and the retention purge.

use super::{connect, db_err, off_runtime};
use crate::store::error::StoreError;
use crate::store::row::Row;
use crate::store::sql::{self, message_values};
use crate::store::writer::{Inserted, WriteBackend};
use postgres::types::ToSql;
use postgres::{Client, Statement, Transaction};
use std::path::Path;
use std::sync::Arc;

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

/// The three statements of an insert, prepared once per attempt.
struct Statements {
    insert: Statement,
    existing: Statement,
    recipient: Statement,
}

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
                .execute(sql::for_postgres(sql::PURGE).as_str(), &[&cutoff_ms])
                .map_err(|e| db_err(path, "purge", e))
        })?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }
}

impl PgWriter {
    pub(super) fn new(
        client: Client,
        url: String,
        session: &'static str,
        path: Arc<Path>,
    ) -> PgWriter {
        PgWriter {
            client,
            url,
            session,
            path,
        }
    }

    /// One attempt at the batch, inserting in `order`; ids in row order.
    fn try_batch(
        &mut self,
        rows: &[Row],
        order: &[usize],
    ) -> Result<Vec<Inserted>, postgres::Error> {
        let mut tx = self.client.transaction()?;
        let insert = format!("{} RETURNING id", sql::for_postgres(sql::INSERT_MESSAGE));
        let st = Statements {
            insert: tx.prepare(&insert)?,
            existing: tx.prepare(&sql::for_postgres(sql::EXISTING_MESSAGE))?,
            recipient: tx.prepare(&sql::for_postgres(sql::INSERT_RECIPIENT))?,
        };
        let mut ids = vec![
            Inserted {
                id: 0,
                existing_uid: None
            };
            rows.len()
        ];
        for &i in order {
            ids[i] = insert_one(&mut tx, &st, &rows[i])?;
        }
        tx.commit()?;
        Ok(ids)
    }
}

/// Inserts `row` and its recipients, or for a retried copy (the insert
/// returned no id) answers with the stored row: idempotent.
fn insert_one(
    tx: &mut Transaction<'_>,
    st: &Statements,
    row: &Row,
) -> Result<Inserted, postgres::Error> {
    let values: &[&(dyn ToSql + Sync)] = &message_values!(row);
    if let Some(r) = tx.query_opt(&st.insert, values)? {
        let id: i64 = r.get(0);
        for address in &row.recipients {
            tx.execute(&st.recipient, &[&id, address])?;
        }
        return Ok(Inserted {
            id,
            existing_uid: None,
        });
    }
    let r = tx.query_one(&st.existing, &[&row.uid, &row.content_key])?;
    Ok(Inserted {
        id: r.get(0),
        existing_uid: Some(r.get(1)),
    })
}
