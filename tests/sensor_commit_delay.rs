//! The sensor tells the store which copies are in progress (from MAIL until
//! the copy is answered, or RSET / QUIT / a dropped connection), so a commit
//! waits for another session's copy under way, and is released as soon as
//! that copy is abandoned.

mod common;

use authsense::config::Config;
use authsense::store::StoreOptions;
use common::sensor::{message, Client, TestSensor};
use std::time::{Duration, Instant};

const XA: &str = "X-Agari-Authentication-Results: mx.example.com; spf=pass smtp.mailfrom=alice@pass.example smtp.helo=mail.pass.example\r\n";

/// Long enough that a commit held for the full delay cannot be mistaken for
/// a prompt one, even on a loaded machine.
const DELAY: Duration = Duration::from_secs(20);

async fn client(s: &TestSensor) -> Client<tokio::net::TcpStream> {
    let mut c = Client::connect(s.addr).await;
    assert!(c.reply().await.starts_with("220"));
    assert!(c.cmd("EHLO gw.example.com").await.starts_with("250"));
    c
}

async fn sensor() -> TestSensor {
    let mut cfg = Config::default();
    cfg.sensor.trusted_authserv_ids = vec!["mx.example.com".into()];
    let opts = StoreOptions {
        commit_delay: DELAY,
        ..StoreOptions::default()
    };
    TestSensor::with_store(cfg, opts, false).await
}

/// Sends a whole copy on `c` up to its final dot; the reply is left unread.
async fn send_copy(c: &mut Client<tokio::net::TcpStream>, subject: &str) {
    assert_eq!(&c.cmd("MAIL FROM:<b@gw.example.com>").await[..3], "250");
    assert_eq!(&c.cmd("RCPT TO:<a@example.net>").await[..3], "250");
    assert_eq!(&c.cmd("DATA").await[..3], "354");
    c.send(&format!("{}.\r\n", message(XA, subject))).await;
}

/// Sends a copy on `b` and checks that it is held back (no reply within
/// 0.5 s) while another session's copy is in progress.
async fn send_copy_held_back(b: &mut Client<tokio::net::TcpStream>, subject: &str) {
    send_copy(b, subject).await;
    let early = tokio::time::timeout(Duration::from_millis(500), b.reply()).await;
    assert!(
        early.is_err(),
        "answered {early:?} while another copy was in progress"
    );
}

/// Waits for `b`'s 250 and checks it came well before the commit delay
/// ran out, counting from `released`.
async fn answered_promptly(b: &mut Client<tokio::net::TcpStream>, released: Instant, after: &str) {
    assert_eq!(&b.reply().await[..3], "250");
    assert!(
        released.elapsed() < DELAY / 4,
        "B answered {:?} after {after}",
        released.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_waits_for_another_in_progress_until_it_is_abandoned() {
    let s = sensor().await;
    let mut a = client(&s).await;
    let mut b = client(&s).await;

    // Alone, a copy is answered at once.
    let started = Instant::now();
    send_copy(&mut b, "alone").await;
    assert_eq!(&b.reply().await[..3], "250");
    assert!(started.elapsed() < DELAY / 4, "{:?}", started.elapsed());

    // A opens a transaction: B's copy now waits for A's.
    assert_eq!(&a.cmd("MAIL FROM:<b@gw.example.com>").await[..3], "250");
    send_copy_held_back(&mut b, "waits").await;

    // A gives up its transaction: B's commit goes ahead without the delay.
    let released = Instant::now();
    assert_eq!(&a.cmd("RSET").await[..3], "250");
    answered_promptly(&mut b, released, "A's RSET").await;

    // Same when A's connection is simply dropped mid-transaction.
    assert_eq!(&a.cmd("MAIL FROM:<b@gw.example.com>").await[..3], "250");
    assert_eq!(&a.cmd("RCPT TO:<a@example.net>").await[..3], "250");
    send_copy_held_back(&mut b, "dropped").await;
    let released = Instant::now();
    drop(a);
    answered_promptly(&mut b, released, "A disconnected").await;
    b.cmd("QUIT").await;
    let store = s.stop().await;
    assert_eq!(store.count().expect("count"), 3);
}
