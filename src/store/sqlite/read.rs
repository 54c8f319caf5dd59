//! SQLite reads: a small pool of read-only connections (in WAL mode they
//! see the last committed snapshot and never wait for the writer), the
//! record queries, and [`ReadBackend`] for the store, which hands the
//! status, history and alert calls to the files of those names.

use super::{alerts, db_err, history, status, BUSY_TIMEOUT};
use crate::model::Record;
use crate::store::error::StoreError;
use crate::store::filter::{self, Param};
use crate::store::gateway::GatewayStatus;
use crate::store::reader::ReadBackend;
use crate::store::{row, sql, Filter};
use rusqlite::types::Value;
use rusqlite::{params_from_iter, Connection, OpenFlags, OptionalExtension};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Idle read connections kept for reuse.
const READ_POOL_IDLE: usize = 4;

/// Read-only connections, opened on demand and kept for reuse.
pub(crate) struct ReadPool {
    pub(super) path: Arc<Path>,
    idle: Mutex<Vec<Connection>>,
}

impl ReadPool {
    pub(super) fn new(path: Arc<Path>) -> ReadPool {
        ReadPool {
            path,
            idle: Mutex::new(Vec::new()),
        }
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

impl ReadBackend for ReadPool {
    fn name(&self) -> &'static str {
        "sqlite"
    }

    fn is_local(&self) -> bool {
        true
    }

    fn query(&self, filter: &Filter) -> Result<Vec<Record>, StoreError> {
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

    fn get(&self, id: i64) -> Result<Option<Record>, StoreError> {
        let json = self.with_conn("get", |c| {
            c.prepare_cached(sql::GET_RECORD)?
                .query_row([id], |r| r.get::<_, String>(0))
                .optional()
        })?;
        json.map(|j| self.decode(id, &j)).transpose()
    }

    fn count(&self) -> Result<u64, StoreError> {
        let n: i64 = self.with_conn("count", |c| c.query_row(sql::COUNT, [], |r| r.get(0)))?;
        Ok(n.unsigned_abs())
    }

    super::super::reader::delegate_reads!();
}

fn sqlite_value(p: Param) -> Value {
    match p {
        Param::Int(i) => Value::Integer(i),
        Param::Text(t) => Value::Text(t),
    }
}
