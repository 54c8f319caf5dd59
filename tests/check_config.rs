//! `authsense check-config`: a good file passes and says what would listen
//! where; a typo'd key, a wrong type, an unreadable TLS key and an
//! unwritable store directory each exit non-zero naming the problem.
//!
//! Permission checks mean nothing to root, so when the test runs as root the
//! binary is run as `nobody` through `setpriv` (util-linux), as a service
//! account would run it.

#[path = "common/tempdir.rs"]
mod tempdir;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use tempdir::TempDir;

/// A test's directory (open to `nobody`) with a `db/` store directory.
struct Dir(TempDir);

impl Dir {
    fn new(tag: &str) -> Dir {
        let p = TempDir::new(&format!("cc-{tag}"));
        std::fs::create_dir_all(p.join("db")).unwrap();
        for d in [p.to_path_buf(), p.join("db")] {
            std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777)).unwrap();
        }
        Dir(p)
    }
    fn write(&self, name: &str, text: &str, mode: u32) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }
}

impl Drop for Dir {
    /// `db/` writable again, so that the TempDir (dropped next) can empty it.
    fn drop(&mut self) {
        let _ = std::fs::set_permissions(self.0.join("db"), std::fs::Permissions::from_mode(0o755));
    }
}

/// Runs `authsense check-config -c FILE` (as nobody when we are root);
/// returns (exit code, stdout + stderr).
fn check(config: &Path) -> (i32, String) {
    let bin = Path::new(env!("CARGO_BIN_EXE_authsense"));
    let root = unsafe { libc::geteuid() } == 0;
    let mut cmd = if root {
        // The checkout may sit in a directory nobody cannot enter (a 0700
        // mktemp dir): run a link (or copy) of the binary from the test's dir.
        let dir = config.parent().expect("config in a dir");
        let local = dir.join("authsense");
        if std::fs::hard_link(bin, &local).is_err() {
            std::fs::copy(bin, &local).expect("copy the binary");
        }
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"]);
        c.arg(&local);
        c
    } else {
        Command::new(bin)
    };
    let out = cmd
        .args(["check-config", "-c"])
        .arg(config)
        .env("RUST_LOG", "error")
        .output()
        .expect("run authsense check-config");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// A certificate and key for the sensor's STARTTLS.
fn cert_and_key(dir: &Dir, key_mode: u32) -> (PathBuf, PathBuf) {
    let ck = rcgen::generate_simple_self_signed(vec!["sensor.example".to_string()]).unwrap();
    let cert = dir.write("cert.pem", &ck.cert.pem(), 0o644);
    let key = dir.write("key.pem", &ck.signing_key.serialize_pem(), key_mode);
    (cert, key)
}

fn config(dir: &Dir, extra: &str) -> PathBuf {
    let text = format!(
        "[milter]\nlisten = \"inet:127.0.0.1:18897\"\nauthserv_id = \"mx.example.test\"\n\
         [sensor]\nlisten = \"127.0.0.1:12526\"\n{extra}\n\
         [store]\npath = \"{}\"\n",
        dir.0.join("db/authsense.db").display()
    );
    dir.write("authsense.toml", &text, 0o644)
}

#[test]
fn a_good_file_passes_and_says_where_it_would_listen() {
    let dir = Dir::new("good");
    let (cert, key) = cert_and_key(&dir, 0o644);
    let tls = format!(
        "tls_cert = \"{}\"\ntls_key = \"{}\"",
        cert.display(),
        key.display()
    );
    let (code, out) = check(&config(&dir, &tls));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("syntax and keys ok"), "{out}");
    assert!(
        out.contains("would listen on inet:127.0.0.1:18897"),
        "{out}"
    );
    assert!(out.contains("would listen on 127.0.0.1:12526"), "{out}");
    assert!(out.contains("authserv-id mx.example.test"), "{out}");
    assert!(out.contains("can be opened for writing"), "{out}");
    assert!(
        !dir.0.join("db/authsense.db").exists(),
        "check-config created the store"
    );
}

#[test]
fn a_typo_in_a_key_is_named_with_its_line() {
    let dir = Dir::new("typo");
    let path = dir.write(
        "authsense.toml",
        "[milter]\nlisten = \"inet:127.0.0.1:18897\"\nmethodz = [\"spf\"]\n",
        0o644,
    );
    let (code, out) = check(&path);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("line 3") && out.contains("methodz"), "{out}");
}

#[test]
fn a_wrong_type_is_named_with_its_line() {
    let dir = Dir::new("type");
    let path = dir.write(
        "authsense.toml",
        "[milter]\n\nmax_connections = \"ten\"\n",
        0o644,
    );
    let (code, out) = check(&path);
    assert_ne!(code, 0, "{out}");
    assert!(
        out.contains("line 3") && out.contains("invalid type"),
        "{out}"
    );
}

#[test]
fn an_unreadable_tls_key_is_a_problem() {
    let dir = Dir::new("tls");
    let (cert, key) = cert_and_key(&dir, 0o000);
    let tls = format!(
        "tls_cert = \"{}\"\ntls_key = \"{}\"",
        cert.display(),
        key.display()
    );
    let (code, out) = check(&config(&dir, &tls));
    assert_ne!(code, 0, "{out}");
    assert!(
        out.contains("PROBLEM  [sensor] tls") && out.contains(&key.display().to_string()),
        "{out}"
    );
}

#[test]
fn an_unwritable_store_directory_is_a_problem() {
    let dir = Dir::new("store");
    std::fs::set_permissions(dir.0.join("db"), std::fs::Permissions::from_mode(0o555)).unwrap();
    let (code, out) = check(&config(&dir, ""));
    assert_ne!(code, 0, "{out}");
    assert!(
        out.contains("PROBLEM  [store]") && out.contains("is not writable"),
        "{out}"
    );
}
