//! The event stream against a real `nats-server -js` (Debian's; installed by
//! postfix-test/install-deps): with `required = false` a NATS outage never
//! stops the sensor — copies are answered 250 and their events spooled on
//! disk — and the backlog is delivered, once each, when NATS comes back;
//! with `required = true` the 250 waits for JetStream's acknowledgement and
//! NATS down means 451. Also: a retried copy is one record and one event.

mod common;

use authsense::config::Config;
use authsense::export::consume::{from_stream, StreamSource};
use common::sensor::{message, Client, TestSensor};
use common::tempdir::TempDir;
use std::collections::HashSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const NATS: &str = "/usr/sbin/nats-server";
const XA: &str =
    "X-Agari-Authentication-Results: mx.example.com; spf=pass smtp.mailfrom=alice@pass.example\r\n";

/// A free loopback port (bound and released: NATS binds it later).
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// A running nats-server, killed on drop.
struct Nats(Child);

impl Nats {
    /// Starts `nats-server -js` on `port` with its store in `dir`, and waits
    /// (at most 10 s) until it accepts connections.
    fn start(port: u16, dir: &Path) -> Nats {
        let child = Command::new(NATS)
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(dir.join("js"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nats-server");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "nats-server not listening");
            std::thread::sleep(Duration::from_millis(50));
        }
        Nats(child)
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn have_nats() -> bool {
    let ok = Path::new(NATS).exists();
    if !ok {
        println!("skipped: {NATS} missing (postfix-test/install-deps installs it)");
    }
    ok
}

fn cfg(port: u16, dir: &Path, required: bool) -> Config {
    let mut c = Config::default();
    c.sensor.trusted_authserv_ids = vec!["mx.example.com".into()];
    c.export.nats = Some(format!("nats://127.0.0.1:{port}"));
    c.export.required = required;
    c.export.spool_dir = dir.join("spool");
    c.export.ack_timeout_secs = 1;
    c
}

/// Sends one copy; returns the reply to the end of data.
async fn send(s: &TestSensor, subject: &str) -> String {
    let mut c = Client::connect(s.addr).await;
    c.reply().await;
    assert_eq!(&c.cmd("EHLO gw.example.com").await[..3], "250");
    assert_eq!(&c.cmd("MAIL FROM:<b@gw.example.com>").await[..3], "250");
    assert_eq!(&c.cmd("RCPT TO:<a@example.net>").await[..3], "250");
    assert_eq!(&c.cmd("DATA").await[..3], "354");
    c.cmd(&format!("{}.", message(XA, subject))).await
}

fn spooled(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("spool"))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.path().extension().is_some_and(|x| x == "event"))
                .count()
        })
        .unwrap_or(0)
}

/// Every event in the stream (ephemeral consumer from the start), as the
/// uids of their records.
async fn consume_all(port: u16) -> Vec<String> {
    let src = StreamSource {
        url: format!("nats://127.0.0.1:{port}"),
        stream: "AUTHSENSE".into(),
        durable: None,
        count: None,
        idle_timeout: Some(Duration::from_secs(2)),
    };
    let mut out = Vec::new();
    from_stream(&src, &mut out).await.expect("consume");
    String::from_utf8(out)
        .expect("utf-8")
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("one JSON object per line");
            assert!(v["id"].is_i64(), "event carries the store id: {l}");
            v["uid"].as_str().expect("uid").to_string()
        })
        .collect()
}

fn dir(tag: &str) -> TempDir {
    TempDir::new(tag)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_down_spools_then_delivers_the_backlog() {
    if !have_nats() {
        return;
    }
    const N: usize = 25;
    let d = dir("export-spool");
    let port = free_port();
    let s = TestSensor::spawn(cfg(port, &d, false)).await;
    // NATS is down: every copy is still accepted, and its event spooled.
    let mut uids = Vec::new();
    for i in 0..N {
        let r = send(&s, &format!("spool{i}")).await;
        let uid = r.strip_prefix("250 2.0.0 Ok: stored as ");
        uids.push(uid.unwrap_or_else(|| panic!("copy {i}: {r}")).to_string());
    }
    assert_eq!(spooled(&d), N, "every event waits in the spool");
    assert_eq!(s.store.count().expect("count"), N as u64);

    let _nats = Nats::start(port, &d);
    let deadline = Instant::now() + Duration::from_secs(30);
    while spooled(&d) > 0 {
        assert!(
            Instant::now() < deadline,
            "backlog not drained: {} left",
            spooled(&d)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // One more copy with NATS up goes straight through the (empty) spool.
    let r = send(&s, "after").await;
    uids.push(
        r.strip_prefix("250 2.0.0 Ok: stored as ")
            .expect("250")
            .to_string(),
    );
    while spooled(&d) > 0 {
        assert!(Instant::now() < deadline, "last event not drained");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let events = consume_all(port).await;
    assert_eq!(events.len(), N + 1, "each event once: {events:?}");
    assert_eq!(
        events.iter().collect::<HashSet<_>>(),
        uids.iter().collect::<HashSet<_>>()
    );
    // The backlog kept its order.
    assert_eq!(events, uids);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn required_export_answers_451_until_nats_acknowledges() {
    if !have_nats() {
        return;
    }
    let d = dir("export-required");
    let port = free_port();
    let s = TestSensor::spawn(cfg(port, &d, true)).await;
    let r = send(&s, "early").await;
    assert!(r.starts_with("451 4.3.0"), "NATS down, required: {r}");
    let _nats = Nats::start(port, &d);
    // The gateway's retry of the same copy: 250 now, still one record.
    let mut reply = String::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !reply.starts_with("250") {
        assert!(Instant::now() < deadline, "never acknowledged: {reply}");
        tokio::time::sleep(Duration::from_millis(200)).await;
        reply = send(&s, "early").await;
    }
    let r2 = send(&s, "second").await;
    assert!(r2.starts_with("250"), "{r2}");
    assert_eq!(
        s.store.count().expect("count"),
        2,
        "the retried copy is one record"
    );
    let events = consume_all(port).await;
    assert_eq!(events.len(), 2, "one event per record: {events:?}");
    assert!(spooled(&d) == 0, "required mode does not spool");
    s.stop().await;
}

/// Without export too: the gateway's retry of a copy (same Message-ID,
/// recipients and content, e.g. after a lost 250) is answered 250 with the
/// uid it is stored under and stays one record; a different copy is another.
#[tokio::test]
async fn retried_copy_is_answered_250_and_stored_once() {
    let mut c = Config::default();
    c.sensor.trusted_authserv_ids = vec!["mx.example.com".into()];
    let s = TestSensor::spawn(c).await;
    let mut replies = Vec::new();
    for subject in ["retried", "retried", "other"] {
        let r = send(&s, subject).await;
        assert!(r.starts_with("250 2.0.0 Ok: stored as "), "{subject}: {r}");
        replies.push(r);
    }
    assert_eq!(
        replies[0], replies[1],
        "the retry is answered with the stored uid"
    );
    assert_ne!(replies[0], replies[2]);
    assert_eq!(s.store.count().expect("count"), 2);
    s.stop().await;
}
