//! Opening a store: SQLite or PostgreSQL, read-write (with its writer
//! thread) or read-only, and the benchmark's discarding store.

#[cfg(feature = "bench-floor")]
use super::{discard, error::ErrorKind};
use super::{
    pg, readonly, seen, sqlite, writer, Inner, ReadBackend, Store, StoreError, StoreLocation,
    StoreOptions,
};
use std::path::Path;
use std::sync::Arc;

impl Store {
    /// Why a sensor could not open the store at `location` for writing, if
    /// anything visible from here would stop it (SQLite: the file and its
    /// directory); creates nothing. PostgreSQL is not contacted.
    pub fn check_location(location: &StoreLocation) -> Option<String> {
        match location {
            StoreLocation::Sqlite(path) => sqlite::check_writable(path),
            StoreLocation::Postgres(_) => None,
        }
    }

    /// Opens an existing SQLite store for reading only (the CLI's
    /// `messages`, `status`, `export --jsonl`): nothing is created, migrated
    /// or written, so a user who may only read the database can use it.
    /// PostgreSQL locations open as usual (access is the server's business).
    ///
    /// # Errors
    /// No database there, it cannot be read, or its schema is not the one
    /// this authsense writes (a running sensor migrates it).
    pub fn open_read_only(location: &StoreLocation) -> Result<Store, StoreError> {
        let path = match location {
            StoreLocation::Sqlite(path) => Arc::from(path.as_path()),
            StoreLocation::Postgres(_) => {
                return Store::open_location(location, StoreOptions::default())
            }
        };
        let readers = sqlite::open_read_only(&path)?;
        let backend = readonly::ReadOnly {
            path: Arc::clone(&path),
        };
        Store::start(path, backend, Box::new(readers), &StoreOptions::default())
    }

    /// Opens the SQLite database at `path`, creating the file (but not
    /// missing parent directories), enables WAL, migrates the schema to
    /// [`SCHEMA_VERSION`], runs the retention purge if configured, and
    /// starts the writer thread.
    ///
    /// # Errors
    /// [`ErrorKind::Open`] if the file cannot be opened or configured,
    /// [`ErrorKind::Schema`] if its schema is newer than this program's.
    pub fn open(path: &Path, opts: StoreOptions) -> Result<Store, StoreError> {
        let path: Arc<Path> = Arc::from(path);
        let (backend, readers) = sqlite::open(&path, &opts)?;
        Store::start(path, backend, Box::new(readers), &opts)
    }

    /// Benchmark floor only (`--features bench-floor`; see
    /// `examples/discard_sensor.rs`): the SQLite store at `location` for
    /// reads, with a writer thread that acknowledges every insert without
    /// writing it. **Nothing inserted is kept.** Also returns the number of
    /// rows acknowledged so far.
    ///
    /// # Errors
    /// As [`Store::open`]; [`ErrorKind::Open`] for a PostgreSQL location.
    #[cfg(feature = "bench-floor")]
    pub fn open_discarding_writes(
        location: &StoreLocation,
        opts: StoreOptions,
    ) -> Result<(Store, Arc<std::sync::atomic::AtomicU64>), StoreError> {
        let path: Arc<Path> = match location {
            StoreLocation::Sqlite(path) => Arc::from(path.as_path()),
            StoreLocation::Postgres(url) => {
                let path: Arc<Path> = Arc::from(Path::new(&crate::config::redact(url)));
                let detail = "the discarding store is SQLite only";
                return Err(StoreError::new(ErrorKind::Open, "open", &path, detail));
            }
        };
        let (writer, readers) = sqlite::open(&path, &opts)?;
        drop(writer);
        let rows = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let backend = discard::Discard {
            rows: Arc::clone(&rows),
        };
        let store = Store::start(path, backend, Box::new(readers), &opts)?;
        Ok((store, rows))
    }

    /// Starts the writer thread on `backend` and assembles the handle.
    fn start(
        path: Arc<Path>,
        backend: impl writer::WriteBackend,
        reader: Box<dyn ReadBackend>,
        opts: &StoreOptions,
    ) -> Result<Store, StoreError> {
        let writer = writer::Writer::spawn(
            Arc::clone(&path),
            backend,
            writer::Batching {
                max: opts.batch_max,
                delay: opts.commit_delay,
            },
            opts.retention_days,
        )?;
        Ok(Store {
            inner: Arc::new(Inner {
                path,
                writer,
                reader,
                seen: seen::SeenDomains::new(),
            }),
        })
    }

    /// Opens the store at `location`: [`Store::open`] for SQLite; for
    /// PostgreSQL, connects, migrates the schema (safely when several
    /// sensors start at once) and starts the writer thread.
    /// [`Store::path`] is then the URL without its password.
    ///
    /// # Errors
    /// As [`Store::open`]; a server that cannot be reached is
    /// [`ErrorKind::Open`].
    pub fn open_location(
        location: &StoreLocation,
        opts: StoreOptions,
    ) -> Result<Store, StoreError> {
        let url = match location {
            StoreLocation::Sqlite(path) => return Store::open(path, opts),
            StoreLocation::Postgres(url) => url,
        };
        let path: Arc<Path> = Arc::from(Path::new(&crate::config::redact(url)));
        let (backend, readers) = pg::open(url, &path, &opts)?;
        Store::start(path, backend, Box::new(readers), &opts)
    }

    /// [`Store::open_location`] of [`StoreLocation::parse`]`(location)`: a
    /// SQLite path or a `postgres://` URL, as `--db` takes it.
    pub fn open_url(location: &str, opts: StoreOptions) -> Result<Store, StoreError> {
        Store::open_location(&StoreLocation::parse(location), opts)
    }
}
