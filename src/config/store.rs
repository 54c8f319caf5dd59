//! `[store]`: where the sensor keeps its records (a SQLite file, or a
//! PostgreSQL database shared by a fleet).

use serde::{Deserialize, Deserializer};
use std::fmt;
use std::path::PathBuf;

/// `[store]` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// SQLite database file (unless `url` is set).
    pub path: std::path::PathBuf,
    /// PostgreSQL database shared by a fleet of sensors,
    /// `postgres://user:password@host:port/dbname`; when set, `path` is
    /// not used.
    #[serde(deserialize_with = "de_pg_url")]
    pub url: Option<String>,
    /// Delete records older than this many days (0: keep everything).
    pub retention_days: u32,
    /// Cap on the database size in MiB (0: none); when full, copies are
    /// answered 451 and the gateway retries.
    pub max_size_mb: u64,
    /// Longest a commit waits, in microseconds, for other copies being
    /// received to join its transaction (0 to 100000; 0: never wait). A
    /// lone copy is never delayed; under load fewer, larger commits cost
    /// less per copy (see BENCHMARKS.md).
    #[serde(deserialize_with = "de_commit_delay")]
    pub commit_delay_us: u64,
}

/// Upper bound of `commit_delay_us`: 0.1 s.
const MAX_COMMIT_DELAY_US: u64 = 100_000;

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            path: "authsense.db".into(),
            url: None,
            retention_days: 0,
            max_size_mb: 0,
            commit_delay_us: 500,
        }
    }
}

impl StoreConfig {
    /// The store to open: `url` if set, else `path`.
    pub fn location(&self) -> StoreLocation {
        match &self.url {
            Some(url) => StoreLocation::Postgres(url.clone()),
            None => StoreLocation::Sqlite(self.path.clone()),
        }
    }

    /// Applies a `--db` flag: a `postgres://` URL sets `url`, anything else
    /// is a SQLite path (and clears `url`).
    pub fn set_db(&mut self, db: &str) {
        match StoreLocation::parse(db) {
            StoreLocation::Postgres(url) => self.url = Some(url),
            StoreLocation::Sqlite(path) => {
                self.path = path;
                self.url = None;
            }
        }
    }
}

fn de_commit_delay<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let us = u64::deserialize(d)?;
    if us > MAX_COMMIT_DELAY_US {
        return Err(serde::de::Error::custom(format!(
            "commit_delay_us = {us} is too long: at most {MAX_COMMIT_DELAY_US} (0.1 s); \
             a few hundred microseconds is enough"
        )));
    }
    Ok(us)
}

fn de_pg_url<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let url = String::deserialize(d)?;
    match StoreLocation::parse(&url) {
        StoreLocation::Postgres(u) => Ok(Some(u)),
        StoreLocation::Sqlite(_) => Err(serde::de::Error::custom(format!(
            "invalid store url {url:?}: want postgres://user@host:port/dbname \
             (for SQLite use `path`)"
        ))),
    }
}

/// Where a store lives: a SQLite file, or a PostgreSQL database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// An SQLite database file (created if missing).
    Sqlite(PathBuf),
    /// A `postgres://` (or `postgresql://`) connection URL, in the syntax
    /// of libpq (`postgres://user:password@host:port/dbname?options`).
    Postgres(String),
}

impl StoreLocation {
    /// A `postgres://` or `postgresql://` URL selects PostgreSQL; anything
    /// else is a SQLite path.
    pub fn parse(s: &str) -> StoreLocation {
        let lower = s.get(..13).unwrap_or(s).to_ascii_lowercase();
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            StoreLocation::Postgres(s.to_string())
        } else {
            StoreLocation::Sqlite(PathBuf::from(s))
        }
    }
}

impl fmt::Display for StoreLocation {
    /// The path, or the URL with its password hidden.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreLocation::Sqlite(p) => write!(f, "{}", p.display()),
            StoreLocation::Postgres(url) => f.write_str(&redact(url)),
        }
    }
}

/// `url` with any password replaced by `***`, for logs and errors.
pub fn redact(url: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::redact;

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
