//! The `authsense` binary as an admin uses it: `check` prints the stamp,
//! flags override the config file, bad configuration is reported with key and
//! line, and `milter` serves a unix socket (stale socket replaced, mode set).

mod common;

use common::{dns::FakeDns, spf_zone, tempdir::TempDir};
use std::{
    io::Write,
    os::unix::fs::{FileTypeExt, PermissionsExt},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

fn authsense() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_authsense"));
    c.env("NO_COLOR", "1");
    c
}

fn tmp(name: &str) -> TempDir {
    TempDir::new(&format!("cli-{name}"))
}

#[tokio::test]
async fn check_prints_the_stamp() {
    let dns = FakeDns::start(spf_zone()).await;
    let ns = dns.addr.to_string();
    // The stamp, then the standard Authentication-Results (on by default)
    // with each SPF identity's own result and the other methods: no message,
    // so no DKIM signature, no ARC set, and no From field, which DMARC
    // reports as permerror (RFC 7489 §6.6.1); no PTR for the client.
    let others = |ip: &str| {
        format!("dkim=none; dmarc=permerror; arc=none smtp.remote-ip={ip}; iprev=permerror policy.iprev={ip}")
    };
    let v4 = others("192.0.2.10");
    let cases = [
        ("192.0.2.10", "user@pass.example", format!("X-Agari-Authentication-Results: mx.example.com; spf=pass smtp.mailfrom=user@pass.example smtp.helo=mail.pass.example\nAuthentication-Results: mx.example.com; spf=pass smtp.mailfrom=user@pass.example; spf=pass smtp.helo=mail.pass.example; {v4}")),
        ("192.0.2.10", "<>", format!("X-Agari-Authentication-Results: mx.example.com; spf=pass smtp.mailfrom=postmaster@mail.pass.example smtp.helo=mail.pass.example\nAuthentication-Results: mx.example.com; spf=pass smtp.mailfrom=postmaster@mail.pass.example; spf=pass smtp.helo=mail.pass.example; {v4}")),
        ("192.0.2.10", "user@softfail.example", format!("X-Agari-Authentication-Results: mx.example.com; spf=softfail smtp.mailfrom=user@softfail.example smtp.helo=mail.pass.example\nAuthentication-Results: mx.example.com; spf=softfail smtp.mailfrom=user@softfail.example; spf=pass smtp.helo=mail.pass.example; {v4}")),
        // An IPv6 address is quoted in the standard header (":" is not a token character).
        ("2001:db8::10", "a@pass.example", format!("X-Agari-Authentication-Results: mx.example.com; spf=pass smtp.mailfrom=a@pass.example smtp.helo=mail.pass.example\nAuthentication-Results: mx.example.com; spf=pass smtp.mailfrom=a@pass.example; spf=pass smtp.helo=mail.pass.example; {}", others("\"2001:db8::10\""))),
    ];
    for (ip, from, want) in cases {
        let out = tokio::task::spawn_blocking({
            let ns = ns.clone();
            move || {
                authsense()
                    .args([
                        "check",
                        "--ip",
                        ip,
                        "--helo",
                        "mail.pass.example",
                        "--authserv-id",
                        "mx.example.com",
                        "--nameserver",
                        &ns,
                    ])
                    .args(["--from", from])
                    .output()
                    .unwrap()
            }
        })
        .await
        .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8(out.stdout).unwrap().trim_end(), want);
    }
}

#[tokio::test]
async fn flags_override_the_config_file() {
    let dns = FakeDns::start(spf_zone()).await;
    let dir = tmp("override");
    let cfg = dir.join("authsense.toml");
    std::fs::write(
        &cfg,
        "[milter]\nauthserv_id = \"from-file.example\"\nadd_authentication_results = false\n[dns]\nnameservers = [\"127.0.0.1:9\"]\ntimeout_ms = 300\n",
    )
    .unwrap();
    let ns = dns.addr.to_string();
    let out = tokio::task::spawn_blocking(move || {
        authsense()
            .args([
                "check",
                "--config",
                cfg.to_str().unwrap(),
                "--nameserver",
                &ns,
            ])
            .args([
                "--ip",
                "2001:db8::10",
                "--helo",
                "mail.pass.example",
                "--from",
                "a@pass.example",
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    // authserv-id from the file, nameserver from the flag, and the file's
    // add_authentication_results = false turns the default standard header off.
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        ["X-Agari-Authentication-Results: from-file.example; spf=pass smtp.mailfrom=a@pass.example smtp.helo=mail.pass.example"]
    );
}

#[test]
fn bad_config_names_key_and_line() {
    let dir = tmp("badcfg");
    let cfg = dir.join("bad.toml");
    std::fs::write(
        &cfg,
        "[milter]\nmode = \"perimeter\"\ntrusted_networks = [\"10.0.0.0/99\"]\n",
    )
    .unwrap();
    let out = authsense()
        .args(["milter", "--config", cfg.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("bad.toml") && err.contains("line 3") && err.contains("trusted_networks"),
        "{err}"
    );

    let out = authsense()
        .args(["milter", "--config", "/nonexistent/authsense.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8(out.stderr)
        .unwrap()
        .contains("cannot read /nonexistent/authsense.toml"));

    let out = authsense()
        .args(["milter", "--listen", "tcp:25"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "clap usage error");
    assert!(String::from_utf8(out.stderr)
        .unwrap()
        .contains("inet:HOST:PORT"));

    // A spool smaller than the largest accepted copy: refused at start.
    let small = dir.join("small-spool.toml");
    std::fs::write(&small, "[sensor]\nspool_mb = 10\n").unwrap();
    let out = authsense()
        .args(["sensor", "--config", small.to_str().unwrap()])
        .args([
            "--listen",
            "127.0.0.1:0",
            "--db",
            dir.join("s.db").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("spool_mb = 10") && err.contains("max_message_size"),
        "{err}"
    );
}

#[tokio::test]
async fn milter_on_unix_socket_replaces_stale_socket_and_sets_mode() {
    let dns = FakeDns::start(spf_zone()).await;
    let dir = tmp("unix");
    let sock = dir.join("milter.sock");
    // A stale socket left by a crashed instance.
    drop(std::os::unix::net::UnixListener::bind(&sock).unwrap());
    let cfg = dir.join("a.toml");
    let mut f = std::fs::File::create(&cfg).unwrap();
    writeln!(
        f,
        "[milter]\nsocket_mode = \"0666\"\nauthserv_id = \"mx.example.com\""
    )
    .unwrap();
    let mut child = authsense()
        .args([
            "milter",
            "--config",
            cfg.to_str().unwrap(),
            "--listen",
            &format!("unix:{}", sock.display()),
        ])
        .args(["--nameserver", &dns.addr.to_string()])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut conn = loop {
        if let Ok(c) = open_unix(&sock).await {
            break c;
        }
        assert!(Instant::now() < deadline, "milter did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let meta = std::fs::metadata(&sock).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o666);
    conn.connect("c", ([192, 0, 2, 10], 1000)).await.unwrap();
    conn.helo("mail.pass.example").await.unwrap();
    conn.mail(["<u@pass.example>"]).await.unwrap();
    conn.close().await.unwrap();
    // SIGTERM: clean exit, socket removed.
    send_sigterm(child.id());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert!(!sock.exists(), "socket file left behind");
}

fn send_sigterm(pid: u32) {
    Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status()
        .unwrap();
}

async fn open_unix(
    p: &std::path::Path,
) -> indymilter_test::TestResult<indymilter_test::TestConnection> {
    indymilter_test::TestConnection::configure()
        .read_timeout(Duration::from_secs(10))
        .open_unix(p)
        .await
}

/// A daemon whose stderr pipe is gone (its supervisor's log reader died)
/// keeps running and shuts down cleanly: log writes that fail are dropped,
/// never a panic (tracing-subscriber reports a failed write with a
/// panicking `eprintln!`).
#[test]
fn closed_stderr_does_not_crash_the_sensor() {
    let dir = tmp("closed-stderr");
    let sensor_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = authsense()
        .args(["sensor", "--web", "127.0.0.1:0", "--listen"])
        .arg(format!("127.0.0.1:{sensor_port}"))
        .arg("--db")
        .arg(dir.join("s.db"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until it accepts SMTP, then close our end of its stderr.
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", sensor_port)).is_err() {
        assert!(Instant::now() < deadline, "sensor never listened");
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(child.stderr.take());
    // A session makes it log; then SIGTERM makes it log again on the way out.
    let mut s = std::net::TcpStream::connect(("127.0.0.1", sensor_port)).unwrap();
    let _ = s.write_all(b"QUIT\r\n");
    drop(s);
    std::thread::sleep(Duration::from_millis(200));
    send_sigterm(child.id());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        assert!(Instant::now() < deadline, "sensor did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit {status:?} (101 = panic on EPIPE)");
}
