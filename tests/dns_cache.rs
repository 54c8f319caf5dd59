//! The resolver's response cache is bounded (`[dns] cache_size`, an LRU that
//! honours TTLs) and its hit and miss counts are exposed through the
//! `metrics` facade (`hickory_resolver_cache_hit_total`,
//! `hickory_resolver_cache_miss_total`) for `/metrics`.

mod common;

use authsense::auth::{Authenticator, SpfRequest};
use common::{config_for, dns::FakeDns, spf_zone};
use metrics::{
    Counter, CounterFn, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit,
};
use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

/// A recorder that keeps counters in memory.
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
        self.0
            .lock()
            .unwrap()
            .get(name)
            .map_or(0, |c| c.0.load(Ordering::SeqCst))
    }
}

impl Recorder for Counters {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        let cell = self
            .0
            .lock()
            .unwrap()
            .entry(key.name().to_string())
            .or_default()
            .clone();
        Counter::from_arc(cell)
    }
    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }
    fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::noop()
    }
}

#[tokio::test]
async fn repeated_lookups_are_cache_hits_and_counted() {
    let counters = Counters::default();
    metrics::set_global_recorder(counters.clone()).unwrap();
    let dns = FakeDns::start(spf_zone()).await;
    let auth = Authenticator::new(&config_for(&dns).dns).unwrap();
    let req = SpfRequest {
        ip: [192, 0, 2, 10].into(),
        helo: "mail.pass.example",
        mail_from: "u@pass.example",
        receiver: "mx.example.com",
    };
    let first = auth.check_spf(&req, Duration::from_secs(5)).await;
    let queries = dns.queries.load(Ordering::SeqCst);
    let misses = counters.get("hickory_resolver_cache_miss_total");
    assert!(
        queries > 0 && misses > 0,
        "queries {queries}, misses {misses}"
    );
    let second = auth.check_spf(&req, Duration::from_secs(5)).await;
    assert_eq!(first, second);
    // Everything the second evaluation needed came from the cache.
    assert_eq!(
        dns.queries.load(Ordering::SeqCst),
        queries,
        "no new DNS queries"
    );
    let hits = counters.get("hickory_resolver_cache_hit_total");
    assert!(hits >= misses, "hits {hits} after misses {misses}");
    println!("cache: {misses} misses, then {hits} hits; {queries} DNS queries in all");
}
