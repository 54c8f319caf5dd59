//! The tests' temporary directories (`tests/common/tempdir.rs`) remove
//! themselves: after a test, nothing of it is left in the temp directory,
//! also when the test panicked.

#[path = "common/tempdir.rs"]
mod tempdir;

use std::path::PathBuf;
use tempdir::{TempDir, KEEP_ENV};

/// `true` (after saying so) when `LAB_KEEP=1` asks to keep the directories.
fn kept() -> bool {
    let keep = std::env::var(KEEP_ENV).is_ok_and(|v| v == "1");
    if keep {
        println!("skipped: {KEEP_ENV}=1 keeps temp dirs");
    }
    keep
}

#[test]
fn removed_on_drop_with_its_content() {
    if kept() {
        return;
    }
    let dir = TempDir::new("tempdir-drop");
    let path = dir.path().to_path_buf();
    assert!(path.starts_with(std::env::temp_dir()), "{}", path.display());
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(dir.join("sub/a.db"), b"x").unwrap();
    assert!(path.join("sub/a.db").is_file());
    drop(dir);
    assert!(!path.exists(), "{} left behind", path.display());
}

#[test]
fn removed_when_the_test_panics() {
    if kept() {
        return;
    }
    let seen = std::sync::Mutex::new(PathBuf::new());
    let r = std::panic::catch_unwind(|| {
        let dir = TempDir::new("tempdir-panic");
        std::fs::write(dir.join("f"), b"x").unwrap();
        *seen.lock().unwrap() = dir.path().to_path_buf();
        panic!("a failing test");
    });
    assert!(r.is_err());
    let path = seen.into_inner().unwrap();
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let pid = std::process::id();
    assert!(
        name.starts_with(&format!("authsense-test-{pid}-tempdir-panic-")),
        "{name}"
    );
    assert!(!path.exists(), "{} left behind", path.display());
}

#[test]
fn each_directory_is_fresh_and_distinct() {
    if kept() {
        return;
    }
    let a = TempDir::new("tempdir-fresh");
    let b = TempDir::new("tempdir-fresh");
    assert_ne!(a.path(), b.path());
    assert_eq!(std::fs::read_dir(a.path()).unwrap().count(), 0);
}
