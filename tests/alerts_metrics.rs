//! Alert counters through the `metrics` facade (its own test binary: the
//! recorder and the log subscriber are process-global):
//! `authsense_alerts_sent_total{kind}` for threat, health and digest mail,
//! `authsense_alerts_digested_total{kind}` for alerts over budget or
//! finding the queue full (which never makes `notify` wait, even when the
//! relay hangs), and, once the digest is full too,
//! `authsense_alerts_dropped_total{reason="digest_full"}` and
//! `authsense_alerts_malicious_lost_total` with an ERROR line naming each
//! lost malicious record's uid.

#[path = "alerts/capture.rs"]
mod capture;
mod common;

use authsense::alerts::{self, health, looptag::LoopKey, Context, Summary, Wiring};
use authsense::config::Config;
use authsense::model::{Gateway, Record, Verdict};
use authsense::store::{Store, StoreOptions};
use capture::Capture;
use metrics::{
    Counter, CounterFn, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit,
};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// Counters by name and labels, e.g. `authsense_alerts_sent_total{kind=threat}`.
#[derive(Default, Clone)]
struct Counters(Arc<Mutex<HashMap<String, Arc<Cell>>>>);

#[derive(Default)]
struct Cell(AtomicU64);

impl CounterFn for Cell {
    fn increment(&self, v: u64) {
        self.0.fetch_add(v, Ordering::SeqCst);
    }
    fn absolute(&self, v: u64) {
        self.0.store(v, Ordering::SeqCst);
    }
}

impl Counters {
    fn get(&self, name: &str) -> u64 {
        let map = self.0.lock().unwrap();
        map.get(name).map_or(0, |c| c.0.load(Ordering::SeqCst))
    }
}

impl Recorder for Counters {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        let labels: Vec<String> = key
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        let name = format!("{}{{{}}}", key.name(), labels.join(","));
        let cell = self.0.lock().unwrap().entry(name).or_default().clone();
        Counter::from_arc(cell)
    }
    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }
    fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::noop()
    }
}

fn config(relay: &str, extra: &str) -> Config {
    Config::parse(&format!(
        "[alerts]\nrelay = \"{relay}\"\nto = [\"admin@example.org\"]\n\
         threshold = \"suspicious\"\n{extra}"
    ))
    .unwrap()
}

fn wiring() -> Wiring {
    Wiring {
        org_domains: vec!["example.org".into()],
        loop_key: LoopKey::new(&[3u8; 32]).unwrap(),
    }
}

/// ERROR lines logged, for the lost-alert check.
use common::log::Log;

fn summary(i: usize) -> Summary {
    Summary {
        id: i as i64,
        uid: format!("m-{i}"),
        verdict: Some(Verdict::Malicious),
        score: Some(9),
        from_address: Some(format!("x{i}@evil.test")),
        subject: Some(format!("subject {i}")),
        ..Summary::default()
    }
}

#[tokio::test]
async fn alerts_are_counted_and_a_full_queue_never_waits() {
    let counters = Counters::default();
    metrics::set_global_recorder(counters.clone()).unwrap();
    let log = Log::default();
    let writer = log.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::ERROR)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();
    let dir = common::tempdir::TempDir::new("alerts-metrics");
    let store = Store::open(&dir.join("a.db"), StoreOptions::default()).unwrap();

    // Threat: one sent, one over the threat budget (half of max_per_hour
    // = 1), which goes out in the digest a second later.
    let cap = Capture::start().await;
    let cfg = config(
        &cap.relay(),
        "max_per_hour = 1\ngateway_silence = \"1h\"\ndigest_interval = \"1s\"\n",
    );
    let (a, _running) = alerts::start(&cfg.alerts, store.clone(), "s.test", wiring())
        .unwrap()
        .unwrap();
    a.notify(summary(1));
    a.notify(summary(2));
    cap.wait_for(2, Duration::from_secs(10)).await;
    let t = Instant::now();
    while counters.get("authsense_alerts_sent_total{kind=digest}") == 0
        && t.elapsed() < Duration::from_secs(10)
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(counters.get("authsense_alerts_sent_total{kind=threat}"), 1);
    assert_eq!(
        counters.get("authsense_alerts_digested_total{kind=threat}"),
        1
    );
    assert_eq!(counters.get("authsense_alerts_sent_total{kind=digest}"), 1);
    assert_eq!(
        counters.get("authsense_alerts_dropped_total{reason=rate_limit}"),
        0,
        "nothing over budget is dropped"
    );

    // Health: a gateway silent for two hours.
    let rec = Record {
        uid: "h-1".into(),
        ts: humantime::format_rfc3339_millis(SystemTime::now() - Duration::from_secs(7200))
            .to_string(),
        gateway: Gateway {
            ip: "192.0.2.9".into(),
            ..Gateway::default()
        },
        ..Record::default()
    };
    store.insert(rec).await.unwrap();
    let ctx = Context::new(&cfg.alerts, store.clone(), "s.test", &wiring()).unwrap();
    assert_eq!(health::check(&ctx, SystemTime::now()).await, 1);
    assert_eq!(counters.get("authsense_alerts_sent_total{kind=health}"), 1);

    full_queue_then_full_digest(&counters, &log, &store).await;
}

/// A relay that accepts and never answers: the worker hangs on the first
/// mail, the queue fills, then the digest, and notify still returns at once;
/// what the digest cannot list is counted and logged at ERROR by uid.
async fn full_queue_then_full_digest(counters: &Counters, log: &Log, store: &Store) {
    let hung = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let relay = hung.local_addr().unwrap().to_string();
    let held = tokio::spawn(async move {
        let mut conns = Vec::new();
        while let Ok((s, _)) = hung.accept().await {
            conns.push(s);
        }
    });
    let cfg = config(&relay, "max_per_hour = 1000\ngateway_silence = \"1h\"\n");
    let (a, running) = alerts::start(&cfg.alerts, store.clone(), "s.test", wiring())
        .unwrap()
        .unwrap();
    let t = Instant::now();
    for i in 1000..2000 {
        a.notify(summary(i));
    }
    assert!(
        t.elapsed() < Duration::from_millis(500),
        "notify waited {:?}",
        t.elapsed()
    );
    // The worker took at most one; 256 wait in the queue, 500 are listed
    // in the digest, the rest are counted and logged.
    let digested = counters.get("authsense_alerts_digested_total{kind=threat}") - 1;
    assert_eq!(digested, 500);
    let lost = counters.get("authsense_alerts_malicious_lost_total{}");
    assert!(
        (1000 - 500 - 257..=1000 - 500 - 256).contains(&lost),
        "lost {lost}"
    );
    assert_eq!(
        counters.get("authsense_alerts_dropped_total{reason=digest_full}"),
        lost
    );
    let text = log.text();
    let lines: Vec<&str> = text.lines().filter(|l| l.contains("MALICIOUS")).collect();
    assert_eq!(lines.len() as u64, lost, "{text}");
    assert!(lines.iter().all(|l| l.contains("ERROR")), "{lines:?}");
    assert!(lines.last().unwrap().contains("uid=m-1999"), "{lines:?}");
    drop(a);
    running.finish(Duration::from_millis(200)).await;
    held.abort();
}
