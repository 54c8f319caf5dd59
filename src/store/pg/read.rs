//! PostgreSQL reads: pooled connections, each call on a scoped thread
//! outside the tokio runtime (see `mod.rs`), the record queries (the SQL of
//! SQLite's, from `filter.rs` and `sql.rs`), and [`ReadBackend`] for the
//! store, which hands the status, history and alert calls to the files of
//! those names.

use super::{alerts, connect, db_err, history, off_runtime, status};
use crate::model::Record;
use crate::store::error::StoreError;
use crate::store::filter::{self, Param};
use crate::store::gateway::GatewayStatus;
use crate::store::reader::ReadBackend;
use crate::store::{row, sql, Filter};
use postgres::types::ToSql;
use postgres::Client;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Idle read connections kept for reuse.
const READ_POOL_IDLE: usize = 4;

/// Read connections to one database, opened on demand and kept for reuse.
pub(crate) struct PgReadPool {
    url: String,
    path: Arc<Path>,
    idle: Mutex<Vec<Client>>,
}

/// Boxes [`Param`]s for the `postgres` crate.
fn pg_params(params: Vec<Param>) -> Vec<Box<dyn ToSql + Sync + Send>> {
    params
        .into_iter()
        .map(|p| -> Box<dyn ToSql + Sync + Send> {
            match p {
                Param::Int(i) => Box::new(i),
                Param::Text(t) => Box::new(t),
            }
        })
        .collect()
}

impl PgReadPool {
    pub(super) fn new(url: String, path: Arc<Path>) -> PgReadPool {
        PgReadPool {
            url,
            path,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Opens one connection now, so `open` reports a read-side problem.
    pub(super) fn check(&self) -> Result<(), StoreError> {
        self.with_client("open", |_| Ok(()))
    }

    fn decode(&self, id: i64, json: &str) -> Result<Record, StoreError> {
        row::decode(&self.path, id, json)
    }

    /// Runs `f` with an idle connection (or a new one) on a thread outside
    /// the runtime, and keeps the connection unless `f` failed. A pooled
    /// connection the server has closed is replaced and `f` run again.
    pub(super) fn with_client<T: Send>(
        &self,
        op: &'static str,
        f: impl Fn(&mut Client) -> Result<T, postgres::Error> + Send + Sync,
    ) -> Result<T, StoreError> {
        let idle = match self.idle.lock() {
            Ok(mut pool) => pool.pop(),
            Err(poisoned) => poisoned.into_inner().pop(),
        };
        // A client is only ever dropped off the runtime (dropping one
        // blocks on its own runtime): a failed one inside the closure, a
        // surplus one in `off_runtime` below.
        let (result, client) = off_runtime(|| {
            let (mut client, reused) = match idle {
                Some(c) if !c.is_closed() => (c, true),
                _ => (connect(&self.url, &self.path)?, false),
            };
            let mut result = f(&mut client);
            if reused && result.is_err() && client.is_closed() {
                // The server dropped the idle connection (restart,
                // failover): once more on a fresh one.
                drop(client);
                client = connect(&self.url, &self.path)?;
                result = f(&mut client);
            }
            match result {
                Ok(v) => Ok::<_, StoreError>((v, Some(client))),
                Err(e) => {
                    let err = db_err(&self.path, op, e);
                    drop(client);
                    Err(err)
                }
            }
        })?;
        if let Some(client) = client {
            let surplus = match self.idle.lock() {
                Ok(mut pool) if pool.len() < READ_POOL_IDLE => {
                    pool.push(client);
                    None
                }
                _ => Some(client),
            };
            if let Some(client) = surplus {
                off_runtime(move || drop(client));
            }
        }
        Ok(result)
    }
}

impl ReadBackend for PgReadPool {
    fn name(&self) -> &'static str {
        "postgres"
    }

    fn is_local(&self) -> bool {
        false
    }

    fn query(&self, filter: &Filter) -> Result<Vec<Record>, StoreError> {
        let (sql, params) = filter::filter_sql(filter);
        let sql = sql::for_postgres(&sql);
        let params = pg_params(params);
        let rows = self.with_client("query", |c| {
            let refs: Vec<&(dyn ToSql + Sync)> = params
                .iter()
                .map(|p| p.as_ref() as &(dyn ToSql + Sync))
                .collect();
            let rows = c.query(sql.as_str(), &refs)?;
            Ok(rows
                .iter()
                .map(|r| (r.get::<_, i64>(0), r.get::<_, String>(1)))
                .collect::<Vec<_>>())
        })?;
        rows.into_iter()
            .map(|(id, json)| self.decode(id, &json))
            .collect()
    }

    fn get(&self, id: i64) -> Result<Option<Record>, StoreError> {
        let sql = sql::for_postgres(sql::GET_RECORD);
        let json = self.with_client("get", |c| {
            let row = c.query_opt(sql.as_str(), &[&id])?;
            Ok(row.map(|r| r.get::<_, String>(0)))
        })?;
        json.map(|j| self.decode(id, &j)).transpose()
    }

    fn count(&self) -> Result<u64, StoreError> {
        let n: i64 = self.with_client("count", |c| Ok(c.query_one(sql::COUNT, &[])?.get(0)))?;
        Ok(n.unsigned_abs())
    }

    super::super::reader::delegate_reads!();
}

impl Drop for PgReadPool {
    /// Closing a `postgres` connection blocks on its runtime: do it off the
    /// (possibly async) dropping thread.
    fn drop(&mut self) {
        let idle = match self.idle.get_mut() {
            Ok(pool) => std::mem::take(pool),
            Err(poisoned) => std::mem::take(poisoned.into_inner()),
        };
        if !idle.is_empty() {
            off_runtime(move || drop(idle));
        }
    }
}
