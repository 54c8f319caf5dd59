//! The binary: SIGHUP reloads the `--config` file (flags still win) instead
//! of ending the process; an invalid file is refused with one log line; the
//! settings that need a restart are named in `--help`.

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// The process's log so far.
fn log(path: &Path) -> String {
    let mut s = String::new();
    if let Ok(mut f) = std::fs::File::open(path) {
        let _ = f.read_to_string(&mut s);
    }
    s
}

/// Waits (at most 20 s) for `n` log lines containing `what`; returns the
/// last of them.
fn wait_line(path: &Path, what: &str, n: usize, child: &mut Child) -> String {
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        let text = log(path);
        let lines: Vec<&str> = text.lines().filter(|l| l.contains(what)).collect();
        if lines.len() >= n {
            return lines[n - 1].to_string();
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "authsense exited while waiting for {what:?}:\n{text}"
        );
        assert!(Instant::now() < end, "no {what:?} in the log:\n{text}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn signal(child: &Child, sig: libc::c_int) {
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    // SAFETY: a signal to our own child, by its pid.
    assert_eq!(unsafe { libc::kill(pid, sig) }, 0);
}

/// Kills the child if a test fails half-way.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn sighup_reloads_the_milter_and_refuses_a_bad_file() {
    let dir = super::common::tempdir::TempDir::new("reload-process");
    let file = super::ConfigFile::new("reload-process-conf", "[milter]\nmethods = [\"spf\"]\n");
    let port = free_port();
    let log_path = dir.join("milter.log");
    let child = Command::new(env!("CARGO_BIN_EXE_authsense"))
        .args(["milter", "--config"])
        .arg(&file.path)
        .args(["--listen", &format!("inet:127.0.0.1:{port}")])
        .args([
            "--nameserver",
            "127.0.0.1:9",
            "--authserv-id",
            "mx.example.com",
        ])
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    let mut g = Guard(child);
    wait_line(&log_path, "authsense milter started", 1, &mut g.0);

    // A typo'd key: refused in one line naming the key and the line.
    file.write("[milter]\nmethods = [\"spf\"]\ntrusted_netwroks = [\"10.0.0.0/8\"]\n");
    signal(&g.0, libc::SIGHUP);
    let refused = wait_line(&log_path, "configuration refused", 1, &mut g.0);
    assert!(
        refused.contains("line 3") && refused.contains("trusted_netwroks"),
        "{refused}"
    );
    assert!(refused.contains("ERROR"), "{refused}");
    std::net::TcpStream::connect(("127.0.0.1", port)).expect("still serving");

    // Valid: reloaded, the keys named; the file's listen is overridden by
    // --listen (not named), max_connections needs a restart (named).
    file.write(
        "[milter]\nmethods = [\"spf\", \"dkim\"]\ntrusted_networks = [\"10.0.0.0/8\"]\n\
         listen = \"inet:127.0.0.1:1\"\nmax_connections = 3\n",
    );
    signal(&g.0, libc::SIGHUP);
    let ok = wait_line(&log_path, "configuration reloaded", 1, &mut g.0);
    assert!(
        ok.contains("changed=milter.trusted_networks, milter.methods"),
        "{ok}"
    );
    let warn = wait_line(&log_path, "they need a restart", 1, &mut g.0);
    assert!(
        warn.contains("WARN") && warn.contains("milter.max_connections"),
        "{warn}"
    );
    assert!(
        !warn.contains("milter.listen"),
        "--listen wins over the file: {warn}"
    );
    std::net::TcpStream::connect(("127.0.0.1", port)).expect("still serving");

    stops_on_sigterm(g, &log_path);
}

/// SIGTERM ends the process with success (20 s at most).
fn stops_on_sigterm(mut g: Guard, log_path: &Path) {
    signal(&g.0, libc::SIGTERM);
    let end = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = g.0.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < end, "did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}\n{}", log(log_path));
}

/// The sensor's greeting to a new connection on `port`.
fn greeting(port: u16) -> String {
    let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).expect("sensor listening");
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = [0u8; 512];
    let n = c.read(&mut buf).unwrap_or(0);
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[test]
fn sighup_reloads_milter_and_sensor_of_run() {
    let dir = super::common::tempdir::TempDir::new("reload-run");
    let file = super::ConfigFile::new("reload-run-conf", "[sensor]\nallow = [\"127.0.0.2/32\"]\n");
    let (milter, smtp, web) = (free_port(), free_port(), free_port());
    let log_path = dir.join("run.log");
    let child = Command::new(env!("CARGO_BIN_EXE_authsense"))
        .args(["run", "--config"])
        .arg(&file.path)
        .args(["--milter-listen", &format!("inet:127.0.0.1:{milter}")])
        .args(["--sensor-listen", &format!("127.0.0.1:{smtp}")])
        .args(["--web", &format!("127.0.0.1:{web}"), "--db"])
        .arg(dir.join("run.db"))
        .args(["--nameserver", "127.0.0.1:9"])
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    let mut g = Guard(child);
    wait_line(&log_path, "authsense sensor started", 1, &mut g.0);
    assert!(
        greeting(smtp).starts_with("554"),
        "127.0.0.1 not allowed yet"
    );
    // Both halves reload from the one file; the --db flag still wins over
    // [store], a new max_sessions is named as needing a restart.
    file.write(
        "[sensor]\nallow = [\"127.0.0.1/32\"]\nmax_sessions = 5\n\
         [milter]\nmethods = [\"spf\", \"dkim\"]\n[store]\npath = \"/nonexistent/x.db\"\n",
    );
    signal(&g.0, libc::SIGHUP);
    let ok = wait_line(&log_path, "configuration reloaded", 1, &mut g.0);
    assert!(
        ok.contains("milter.methods") && ok.contains("sensor.allow"),
        "{ok}"
    );
    let warn = wait_line(&log_path, "they need a restart", 1, &mut g.0);
    assert!(
        warn.contains("sensor.max_sessions") && !warn.contains("store"),
        "{warn}"
    );
    assert!(greeting(smtp).starts_with("220"), "the new allow list");
    std::net::TcpStream::connect(("127.0.0.1", milter)).expect("milter still serving");
    stops_on_sigterm(g, &log_path);
}

#[test]
fn help_names_what_needs_a_restart() {
    for cmd in ["milter", "sensor", "run"] {
        let out = Command::new(env!("CARGO_BIN_EXE_authsense"))
            .args([cmd, "--help"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        for want in [
            "SIGHUP",
            "milter.listen",
            "sensor.listen",
            "[store]",
            "web.listen",
        ] {
            assert!(text.contains(want), "{cmd} --help lacks {want}:\n{text}");
        }
    }
}
