//! Email alerts against a capture SMTP server on an ephemeral port: threat
//! alerts (one per flagged record, none for a clean copy through the real
//! sensor, deduplication through the store, the kind budget and its
//! digest, no body, recipient warnings) here; budgets per sender domain and
//! warning recipients in `alerts/budget.rs`, the loop tag in
//! `alerts/looptag.rs`, health alerts in `alerts/health.rs`.
//!
//! Records carry their verdict and score directly (the analysis sets them
//! in production); the flagged record itself comes from the real
//! extraction of a message whose body holds a marker that must never reach
//! an alert.

#[path = "alerts/budget.rs"]
mod budget;
#[path = "alerts/capture.rs"]
mod capture;
mod common;
#[path = "alerts/health.rs"]
mod health;
#[path = "alerts/looptag.rs"]
mod looptag;

use authsense::alerts::{self, looptag::LoopKey, Summary, Wiring};
use authsense::config::Config;
use authsense::ingest::extract::{extract, Envelope, ExtractOptions};
use authsense::model::{Gateway, Reason, Record, Verdict};
use authsense::sensor::{self as sensor_mod, setup};
use authsense::store::{Store, StoreOptions};
use capture::Capture;
use common::sensor::{message, Client};
use common::tempdir::TempDir;
use std::time::{Duration, SystemTime};

/// In the body only: an alert containing it leaked the body.
const MARKER: &str = "BODYMARKER7f3a";

/// A config with `[alerts]` sending to `cap`, plus `extra` alert keys.
fn config(cap: &Capture, extra: &str) -> Config {
    Config::parse(&format!(
        "[alerts]\nrelay = \"{}\"\nfrom = \"authsense@sensor.test\"\n\
         to = [\"admin@example.org\"]\nthreshold = \"suspicious\"\n{extra}",
        cap.relay()
    ))
    .expect("test config parses")
}

/// The alerter's wiring: organisation `example.com`, a fixed loop key.
fn wiring() -> Wiring {
    Wiring {
        org_domains: vec!["example.com".into()],
        loop_key: LoopKey::new(&[1u8; 32]).unwrap(),
    }
}

/// Starts the alert tasks for `cfg`.
fn start(cfg: &Config, store: &Store) -> (alerts::Alerts, alerts::Running) {
    alerts::start(&cfg.alerts, store.clone(), "sensor.test", wiring())
        .unwrap()
        .expect("enabled")
}

/// A store in a fresh directory (removed when the [`TempDir`] is dropped:
/// keep it as long as the store).
fn store() -> (TempDir, Store) {
    let dir = TempDir::new("alerts");
    let store = Store::open(&dir.join("a.db"), StoreOptions::default()).unwrap();
    (dir, store)
}

/// A record extracted from a lookalike-domain message, then flagged.
fn flagged(uid: &str, subject: &str) -> Record {
    let raw = format!(
        "From: The Boss <ceo@examp1e.com>\r\nTo: bob@example.com\r\nSubject: {subject}\r\n\
         Message-ID: <{uid}@examp1e.com>\r\nDate: Fri, 27 Nov 2026 10:00:00 +0000\r\n\r\n\
         Please wire the money today. {MARKER}\r\nhttps://{MARKER}.example/pay\r\n"
    );
    let env = Envelope {
        uid: uid.into(),
        received_at: SystemTime::now(),
        gateway: Gateway {
            ip: "192.0.2.25".into(),
            helo: "mx.example.com".into(),
            ..Gateway::default()
        },
        mailfrom: "bounce@blackhole.test".into(),
        rcptto: vec!["bob@example.com".into(), "carol@example.com".into()],
    };
    let mut r = extract(raw.as_bytes(), env, &ExtractOptions::default());
    r.verdict = Some(Verdict::Malicious);
    r.score = Some(8);
    r.reasons = vec![Reason {
        rule: "lookalike-domain".into(),
        points: 5,
        detail: "examp1e.com looks like example.com".into(),
    }];
    r
}

/// Stores `r` and queues its summary.
async fn stored(store: &Store, a: &alerts::Alerts, r: Record) -> i64 {
    assert!(a.wants(&r), "a flagged record meets the threshold");
    let id = store.insert(r.clone()).await.unwrap();
    a.notify(Summary::of(&r, id));
    id
}

/// Waits for `n` mails, then a little longer to catch extra ones.
async fn exactly(cap: &Capture, n: usize) -> Vec<capture::Mail> {
    cap.wait_for(n, Duration::from_secs(15)).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    let all = cap.all();
    assert_eq!(all.len(), n, "mails: {all:#?}");
    all
}

#[tokio::test]
async fn flagged_record_alerts_once_without_the_body() {
    let cap = Capture::start().await;
    let (_dir, store) = store();
    let (a, _running) = start(&config(&cap, ""), &store);
    let id = stored(&store, &a, flagged("u-1", "Urgent wire transfer")).await;
    let mail = exactly(&cap, 1).await.remove(0);
    assert_eq!(mail.rcpts, ["<admin@example.org>"]);
    assert_eq!(mail.from, "<authsense@sensor.test>");
    assert!(
        mail.subject()
            .contains("malicious message from ceo@examp1e.com"),
        "{}",
        mail.subject()
    );
    for want in [
        "malicious (score 8/10)",
        "lookalike-domain (+5): examp1e.com looks like example.com",
        "The Boss <ceo@examp1e.com>",
        "Urgent wire transfer",
        "bob@example.com, carol@example.com",
        "192.0.2.25 (HELO mx.example.com)",
        &format!("/messages/{id}"),
        "uid u-1",
        "Auto-Submitted: auto-generated",
        "X-Authsense-Alert: ",
    ] {
        assert!(
            mail.data.contains(want),
            "{want:?} missing from\n{}",
            mail.data
        );
    }
    assert!(
        !mail.data.contains(MARKER),
        "the body leaked:\n{}",
        mail.data
    );
    assert!(!mail.data.contains("wire the money"), "the body leaked");
}

#[tokio::test]
async fn sensor_sends_nothing_for_a_clean_copy() {
    let cap = Capture::start().await;
    let mut cfg = config(&cap, "");
    let dir = TempDir::new("alerts-sensor");
    cfg.store.path = dir.join("a.db");
    let built = setup::build(&cfg).unwrap();
    let sensor = built.sensor.clone();
    assert!(
        sensor.settings().alerts.is_some(),
        "[alerts] wires the sensor's alerter"
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(sensor_mod::run(listener, sensor.clone(), async move {
        let _ = stopped.await;
    }));
    let mut c = Client::connect(addr).await;
    assert!(c.reply().await.starts_with("220"));
    for cmd in [
        "EHLO gw.test",
        "MAIL FROM:<b@blackhole.test>",
        "RCPT TO:<rcpt@example.net>",
    ] {
        assert!(c.cmd(cmd).await.starts_with("250"), "{cmd}");
    }
    assert!(c.cmd("DATA").await.starts_with("354"));
    c.send(&message("", "clean")).await;
    assert!(c.cmd(".").await.starts_with("250 2.0.0 Ok: stored as"));
    assert!(c.cmd("QUIT").await.starts_with("221"));
    drop(c);
    assert_eq!(sensor.store.count().unwrap(), 1);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        cap.all().is_empty(),
        "no alert for a clean copy: {:#?}",
        cap.all()
    );
    // The sensor's own alerter does deliver a flagged summary.
    let r = flagged("u-2", "Invoice");
    let id = sensor.store.insert(r.clone()).await.unwrap();
    sensor
        .settings()
        .alerts
        .as_ref()
        .unwrap()
        .notify(Summary::of(&r, id));
    exactly(&cap, 1).await;
    let _ = stop.send(());
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn same_key_alerts_once() {
    let cap = Capture::start().await;
    let (_dir, store) = store();
    let (a, _running) = start(&config(&cap, ""), &store);
    // The same message stored twice and two more copies of the campaign
    // (same sender, From and subject): one alert.
    let r = flagged("u-10", "Payroll update");
    let id = stored(&store, &a, r.clone()).await;
    a.notify(Summary::of(&r, id));
    for uid in ["u-11", "u-12"] {
        stored(&store, &a, flagged(uid, "Payroll update")).await;
    }
    exactly(&cap, 1).await;
    // Another subject is another alert.
    stored(&store, &a, flagged("u-13", "Gift cards")).await;
    let all = exactly(&cap, 2).await;
    assert!(all[1].data.contains("Gift cards"));
}

#[tokio::test]
async fn over_the_kind_budget_alerts_go_into_one_digest() {
    let cap = Capture::start().await;
    let (_dir, store) = store();
    // An old config's only key still caps everything: max_per_hour = 4
    // leaves threats half of it.
    let cfg = config(&cap, "max_per_hour = 4\ndigest_interval = \"3s\"\n");
    assert_eq!(cfg.alerts.budgets().threat, 2);
    let (a, _running) = start(&cfg, &store);
    let mut ids = Vec::new();
    for i in 0..5 {
        let r = flagged(&format!("u-2{i}"), &format!("subject {i}"));
        ids.push(stored(&store, &a, r).await);
    }
    let all = exactly(&cap, 2).await;
    assert!(all[0].data.contains("subject 0") && all[1].data.contains("subject 1"));
    // Within the digest interval the other three arrive in one digest.
    let all = cap.wait_for(3, Duration::from_secs(10)).await;
    let digest = &all[2];
    assert_eq!(
        digest.subject(),
        "[authsense] digest: 3 threat alerts held back"
    );
    assert_eq!(digest.rcpts, ["<admin@example.org>"]);
    for (i, id) in ids.iter().enumerate().skip(2) {
        let want = format!(
            "id {id} uid u-2{i}: malicious score 8/10, from examp1e.com, subject \"subject {i}\" \
             (threat_per_hour reached; /messages/{id})"
        );
        assert!(
            digest.text().contains(&want),
            "{want:?} missing:\n{}",
            digest.text()
        );
    }
    assert!(digest
        .text()
        .contains(&format!("  {:<40} 3", "examp1e.com")));
    assert!(!digest.text().contains(MARKER), "the body leaked");
    exactly(&cap, 3).await;
}

#[tokio::test]
async fn recipients_are_warned_one_by_one() {
    let cap = Capture::start().await;
    let (_dir, store) = store();
    let cfg = config(&cap, "notify_recipient = true\n");
    let (a, _running) = start(&cfg, &store);
    stored(&store, &a, flagged("u-30", "Shared document")).await;
    let all = exactly(&cap, 3).await;
    let to: Vec<_> = all.iter().map(|m| m.rcpts.join(",")).collect();
    assert_eq!(
        to,
        [
            "<admin@example.org>",
            "<bob@example.com>",
            "<carol@example.com>"
        ]
    );
    let bob = &all[1].data;
    assert!(
        bob.contains("Caution") && bob.contains("Shared document"),
        "{bob}"
    );
    assert!(
        !bob.contains("carol@example.com"),
        "other recipients stay private"
    );
    assert!(!bob.contains(MARKER));
}

#[tokio::test]
async fn disabled_without_relay_or_admin() {
    let (_dir, store) = store();
    for text in [
        "",
        "[alerts]\nrelay = \"127.0.0.1:25\"\n",
        "[alerts]\nto = [\"a@b.test\"]\n",
    ] {
        let cfg = Config::parse(text).unwrap();
        assert!(
            alerts::start(&cfg.alerts, store.clone(), "s.test", wiring())
                .unwrap()
                .is_none()
        );
    }
}

#[test]
fn dedup_claim_is_atomic_across_handles() {
    // Two handles on one file stand for two sensor processes of a fleet.
    let dir = TempDir::new("alerts-claim");
    let a = Store::open(&dir.join("a.db"), StoreOptions::default()).unwrap();
    let b = Store::open(&dir.join("a.db"), StoreOptions::default()).unwrap();
    let now = SystemTime::now();
    let hour = Duration::from_secs(3600);
    let wins: usize = std::thread::scope(|s| {
        let hs: Vec<_> = (0..8)
            .map(|i| {
                let st = if i % 2 == 0 { a.clone() } else { b.clone() };
                s.spawn(move || st.claim_alert("k", "threat", now, hour).unwrap() as usize)
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(wins, 1, "exactly one claimant sends");
    assert!(!b.claim_alert("k", "threat", now + hour / 2, hour).unwrap());
    assert!(
        a.claim_alert("k", "threat", now + hour * 2, hour).unwrap(),
        "window over"
    );
    assert!(b.release_alert("k").unwrap());
    assert!(
        a.claim_alert("k", "threat", now + hour * 2, hour).unwrap(),
        "released"
    );
    assert_eq!(a.prune_alerts(now + hour * 3).unwrap(), 1);
}
