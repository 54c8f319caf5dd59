//! The web server as the binary runs it (`authsense sensor --web`, `[web]
//! enabled = false`, stopped with the sensor by SIGTERM), and the CLI's
//! `status` and `messages` filters, which share the web search's code.

mod common;
#[path = "web/http.rs"]
mod http;

use authsense::config::Config;
use authsense::model::{AuthSource, MethodInfo, Record, Verdict};
use common::sensor::TestSensor;
use common::tempdir::TempDir;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

fn rec(n: u64, sender: &str, spf: &str, verdict: Option<Verdict>, score: Option<u8>) -> Record {
    Record {
        ts: humantime::format_rfc3339_millis(SystemTime::now() - Duration::from_secs(100 - n))
            .to_string(),
        uid: format!("web-cli-{n}"),
        gateway: authsense::model::Gateway {
            ip: if n % 2 == 0 { "192.0.2.1" } else { "192.0.2.2" }.into(),
            helo: "gw.example".into(),
            ..Default::default()
        },
        rcptto: vec![format!("user{n}@example.net")],
        original: authsense::model::Original {
            mailfrom: Some(sender.into()),
            ..Default::default()
        },
        auth: authsense::model::AuthInfo {
            source: AuthSource::XAgari,
            spf: Some(MethodInfo {
                result: spf.into(),
                ..Default::default()
            }),
            ..Default::default()
        },
        subject: Some(format!("Subject number {n}")),
        verdict,
        score,
        ..Default::default()
    }
}

/// `authsense sensor` on ephemeral ports with `extra` arguments; returns the
/// child and its log lines up to "authsense sensor started" (bounded).
/// The caller waits for the child ([`sigterm_and_wait`]).
#[allow(clippy::zombie_processes)]
fn spawn_sensor(dir: &std::path::Path, extra: &[&str]) -> (Child, Vec<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_authsense"))
        .args(["sensor", "--listen", "127.0.0.1:0", "--db"])
        .arg(dir.join("s.db"))
        .args(extra)
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        // Keep draining after the test stops listening: a closed stderr
        // would make the sensor's last log lines fail.
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut lines = Vec::new();
    while let Ok(line) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        let done = line.contains("authsense sensor started");
        lines.push(line);
        if done {
            return (child, lines);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("sensor did not start: {lines:?}");
}

fn sigterm_and_wait(mut child: Child) -> Option<i32> {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("sensor ignored SIGTERM for 20 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test]
async fn sensor_serves_the_web_on_the_flag_address_and_stops_with_it() {
    let dir = TempDir::new("web-cli");
    let (child, lines) = spawn_sensor(&dir, &["--web", "127.0.0.1:0"]);
    let line = lines
        .iter()
        .find(|l| l.contains("web UI started"))
        .unwrap_or_else(|| panic!("no web start line: {lines:?}"));
    let addr: std::net::SocketAddr = line
        .split("listen=")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap();
    assert_ne!(addr.port(), 0);
    let r = http::get(addr, "/api/status", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["records"], 0);
    assert_eq!(sigterm_and_wait(child), Some(0));
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "web still listening after the sensor stopped"
    );

    // [web] enabled = false: no web server.
    let cfg = dir.join("noweb.toml");
    std::fs::write(&cfg, "[web]\nenabled = false\nlisten = \"127.0.0.1:0\"\n").unwrap();
    let (child, lines) = spawn_sensor(&dir, &["--config", cfg.to_str().unwrap()]);
    assert!(!lines.iter().any(|l| l.contains("web UI")), "{lines:?}");
    assert_eq!(sigterm_and_wait(child), Some(0));
}

#[test]
fn web_config_keys_are_checked() {
    let e = Config::parse("[web]\nlisten = \"nowhere\"\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("listen"), "{e}");
    let e = Config::parse("[web]\ntokn = \"x\"\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("tokn"), "{e}");
    let e = Config::parse("[web]\ntoken = \"\"\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("token") && e.contains("non-empty"), "{e}");
    let c = Config::parse("[web]\ntoken = \"s3cret\"\nlisten = \"127.0.0.1:9000\"\n").unwrap();
    assert_eq!(c.web.token.as_deref(), Some("s3cret"));
    assert_eq!(c.web.listen.port(), 9000);
}

async fn sensor() -> TestSensor {
    let mut c = Config::default();
    c.sensor.trusted_authserv_ids = vec!["mx.example.com".into()];
    TestSensor::spawn(c).await
}

#[tokio::test]
async fn cli_status_and_messages_filters_match_the_web() {
    let s = sensor().await;
    for r in [
        rec(
            1,
            "alice@pass.example",
            "pass",
            Some(Verdict::Trusted),
            Some(0),
        ),
        rec(
            2,
            "bob@fail.example",
            "fail",
            Some(Verdict::Malicious),
            Some(9),
        ),
        rec(3, "carol@pass.example", "pass", None, None),
    ] {
        s.store.insert(r).await.unwrap();
    }
    let db = s.dir.join("authsense.db");
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_authsense"))
            .args(args)
            .args(["--db", db.to_str().unwrap()])
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        let err = String::from_utf8(out.stderr).unwrap();
        (out.status.code(), text, err)
    };
    let (code, text, err) = run(&["status"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(text.contains("gateway 192.0.2.1 helo=gw.example"), "{text}");
    assert!(text.contains("gateway 192.0.2.2 helo=gw.example"), "{text}");
    assert!(text.contains("3 records stored"), "{text}");
    assert!(text.contains("rule: "), "{text}");
    let (_, json, _) = run(&["status", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["gateways"].as_array().unwrap().len(), 2);
    for (args, want) in [
        (
            vec!["messages", "--verdict", "malicious"],
            vec!["Subject number 2"],
        ),
        (
            vec!["messages", "--domain", "pass.example"],
            vec!["Subject number 3", "Subject number 1"],
        ),
        (
            vec!["messages", "--min-score", "0", "--gateway", "192.0.2.2"],
            vec!["Subject number 1"],
        ),
        (vec!["messages", "--auth-source", "none"], vec![]),
    ] {
        let (code, text, err) = run(&args);
        assert_eq!(code, Some(0), "{args:?}: {err}");
        let got: Vec<&str> = text
            .lines()
            .map(|l| l.rsplit_once("subject=").unwrap().1)
            .collect();
        assert_eq!(got, want, "{args:?}");
    }
    let (code, _, err) = run(&["messages", "--min-score", "eleven"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--min-score"), "{err}");
}
