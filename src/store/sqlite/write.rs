//! The SQLite writer: the writer thread's read-write connection, inserting
//! each batch in one `IMMEDIATE` transaction (one fsync per batch with
//! `synchronous=FULL`), and the retention purge.

use super::db_err;
use crate::store::error::StoreError;
use crate::store::row::Row;
use crate::store::sql::{self, message_values};
use crate::store::writer::{Inserted, WriteBackend};
use rusqlite::{params, CachedStatement, Connection, ToSql, TransactionBehavior};
use std::path::Path;
use std::sync::Arc;

/// The writer thread's read-write connection.
pub(crate) struct SqliteWriter {
    conn: Connection,
    path: Arc<Path>,
}

/// The three statements of an insert, prepared once per batch.
struct Statements<'tx> {
    insert: CachedStatement<'tx>,
    existing: CachedStatement<'tx>,
    recipient: CachedStatement<'tx>,
}

impl SqliteWriter {
    pub(super) fn new(conn: Connection, path: Arc<Path>) -> SqliteWriter {
        SqliteWriter { conn, path }
    }
}

impl WriteBackend for SqliteWriter {
    fn insert_batch(&mut self, rows: &[Row]) -> Result<Vec<Inserted>, StoreError> {
        let err = |e| db_err(&self.path, "insert", e);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        let ids = {
            let mut st = Statements {
                insert: tx.prepare_cached(sql::INSERT_MESSAGE).map_err(err)?,
                existing: tx.prepare_cached(sql::EXISTING_MESSAGE).map_err(err)?,
                recipient: tx.prepare_cached(sql::INSERT_RECIPIENT).map_err(err)?,
            };
            rows.iter()
                .map(|row| insert_one(&tx, &mut st, row))
                .collect::<Result<Vec<_>, _>>()
                .map_err(err)?
        };
        tx.commit().map_err(err)?;
        Ok(ids)
    }

    fn purge(&mut self, cutoff_ms: i64) -> Result<usize, StoreError> {
        let err = |e| db_err(&self.path, "purge", e);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        let deleted = tx.execute(sql::PURGE, [cutoff_ms]).map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(deleted)
    }
}

/// Inserts `row` and its recipients, or for a retried copy (the insert
/// did nothing) answers with the stored row: idempotent.
fn insert_one(tx: &Connection, st: &mut Statements<'_>, row: &Row) -> rusqlite::Result<Inserted> {
    let values: &[&dyn ToSql] = &message_values!(row);
    if st.insert.execute(values)? == 1 {
        let id = tx.last_insert_rowid();
        for address in &row.recipients {
            st.recipient.execute(params![id, address])?;
        }
        return Ok(Inserted {
            id,
            existing_uid: None,
        });
    }
    let (id, uid) = st
        .existing
        .query_row(params![row.uid, row.content_key], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    Ok(Inserted {
        id,
        existing_uid: Some(uid),
    })
}
