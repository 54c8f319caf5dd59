//! PostgreSQL reads: the same queries as SQLite's `ReadPool` (the SQL comes
//! from `filter.rs`), on pooled connections, each call on a scoped thread
//! outside the tokio runtime (see `pg.rs`).
//!
//! To port a new read query: build `(sql, Vec<Param>)` once in a shared
//! module, then add an `impl PgReadPool` method here (or in a new
//! `pg_<topic>.rs`) that runs it through [`PgReadPool::with_client`].

use super::error::StoreError;
use super::filter::{self, numbered, Param};
use super::pg::{connect, db_err, off_runtime};
use super::row;
use super::Filter;
use crate::sensor::record::Record;
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
pub(crate) fn pg_params(params: Vec<Param>) -> Vec<Box<dyn ToSql + Sync + Send>> {
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
    pub(crate) fn new(url: String, path: Arc<Path>) -> PgReadPool {
        PgReadPool {
            url,
            path,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Opens one connection now, so `open` reports a read-side problem.
    pub(crate) fn check(&self) -> Result<(), StoreError> {
        self.with_client("open", |_| Ok(()))
    }

    /// Records matching `filter`, newest first.
    pub fn query(&self, filter: &Filter) -> Result<Vec<Record>, StoreError> {
        let (sql, params) = filter::filter_sql(filter);
        let sql = numbered(&sql);
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

    /// The record with row id `id`.
    pub fn get(&self, id: i64) -> Result<Option<Record>, StoreError> {
        let json = self.with_client("get", |c| {
            let row = c.query_opt("SELECT record FROM messages WHERE id = $1", &[&id])?;
            Ok(row.map(|r| r.get::<_, String>(0)))
        })?;
        json.map(|j| self.decode(id, &j)).transpose()
    }

    /// Number of stored records.
    pub fn count(&self) -> Result<u64, StoreError> {
        let n: i64 = self.with_client("count", |c| {
            Ok(c.query_one("SELECT COUNT(*) FROM messages", &[])?.get(0))
        })?;
        Ok(n.unsigned_abs())
    }

    fn decode(&self, id: i64, json: &str) -> Result<Record, StoreError> {
        row::decode(&self.path, id, json)
    }

    /// Runs `f` with an idle connection (or a new one) on a thread outside
    /// the runtime, and keeps the connection unless `f` failed. A pooled
    /// connection the server has closed is replaced and `f` run again.
    pub(crate) fn with_client<T: Send>(
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
