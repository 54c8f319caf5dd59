//! Temporary directories for tests, removed when dropped.
//!
//! [`TempDir::new`] makes a fresh `authsense-test-<pid>-<tag>-<n>` under the
//! system temp directory (`TMPDIR`); dropping the [`TempDir`] removes it with
//! everything in it, also when the test panics (unwinding drops it). Hold the
//! value for as long as anything uses the directory: a temporary
//! `TempDir::new("x").join("a.db")` is gone at the end of its statement.
//!
//! `LAB_KEEP=1` (as for the shell harnesses in `postfix-test/`) keeps every
//! directory for debugging; its path is printed when it is dropped.
#![allow(dead_code)]

use std::{
    ops::Deref,
    path::{Path, PathBuf},
    sync::atomic::{AtomicUsize, Ordering},
};

/// The environment variable that keeps the directories (`1`).
pub const KEEP_ENV: &str = "LAB_KEEP";

/// A fresh directory, removed (unless [`KEEP_ENV`] is `1`) on drop.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Makes `authsense-test-<pid>-<tag>-<n>` (n counts up per process),
    /// empty: a leftover of an earlier process with the same pid is removed.
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let path =
            std::env::temp_dir().join(format!("authsense-test-{}-{tag}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
        TempDir { path }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Deref for TempDir {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.path
    }
}

impl AsRef<Path> for TempDir {
    fn as_ref(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::env::var(KEEP_ENV).is_ok_and(|v| v == "1") {
            eprintln!("{KEEP_ENV}=1: kept {}", self.path.display());
        } else if let Err(e) = std::fs::remove_dir_all(&self.path) {
            if e.kind() != std::io::ErrorKind::NotFound {
                eprintln!("cannot remove {}: {e}", self.path.display());
            }
        }
    }
}
