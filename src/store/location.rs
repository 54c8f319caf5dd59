//! Where a store lives, as `--db` and `[store] url`/`path` name it.

use super::pg;
use std::fmt;
use std::path::PathBuf;

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
            StoreLocation::Postgres(url) => f.write_str(&pg::redact(url)),
        }
    }
}
