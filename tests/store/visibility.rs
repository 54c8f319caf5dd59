//! The queries issue 7 added (search by verdict/score/DKIM/DMARC/gateway,
//! the analysis's sender-domain history, the status page's per-gateway
//! counts, the alerts' shared dedup state and health queries), on whichever
//! backend the suite runs against: fleet sensors on PostgreSQL must see the
//! same answers as one sensor on SQLite.

use super::fixtures::{filter, method, record, uids, TempDir};
use authsense::model::{AuthSource, Verdict};
use authsense::store::{Store, StoreOptions};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

async fn seeded(dir: &TempDir) -> Store {
    let store = Store::open_url(&dir.db(), StoreOptions::default()).expect("open");
    let mut a = record("v-a", 3);
    a.verdict = Some(Verdict::Malicious);
    a.score = Some(8);
    a.auth.dkim = vec![method("fail"), method("pass")];
    a.auth.dmarc = Some(method("fail"));
    let mut b = record("v-b", 2);
    b.verdict = Some(Verdict::Suspicious);
    b.score = Some(4);
    b.auth.dkim = vec![method("fail")];
    b.gateway.ip = "192.0.2.26".into();
    b.gateway.helo = "GW2.Example.COM".into();
    b.gateway.tls = false;
    b.auth.source = AuthSource::None;
    b.auth.spf = None;
    b.original.mailfrom = Some("eve@other.example".into());
    let mut c = record("v-c", 1);
    c.verdict = Some(Verdict::Trusted);
    c.score = Some(0);
    c.auth.dmarc = Some(method("pass"));
    for r in [a, b, c] {
        store.insert(r).await.expect("insert");
    }
    store
}

#[tokio::test]
async fn new_filters_match_on_every_backend() {
    let dir = TempDir::new("vis-filters");
    let store = seeded(&dir).await;
    let q = |f| uids(&store.query(&f).expect("query"));
    assert_eq!(q(filter(|f| f.verdict = Some(Verdict::Malicious))), ["v-a"]);
    assert_eq!(q(filter(|f| f.min_score = Some(4))), ["v-b", "v-a"]);
    assert_eq!(q(filter(|f| f.dkim = Some("pass".into()))), ["v-c", "v-a"]);
    assert_eq!(q(filter(|f| f.dkim = Some("FAIL".into()))), ["v-b"]);
    assert_eq!(q(filter(|f| f.dmarc = Some("fail".into()))), ["v-a"]);
    assert_eq!(
        q(filter(|f| f.gateway = Some("192.0.2.26".into()))),
        ["v-b"]
    );
    store.close().await.expect("close");
}

#[tokio::test]
async fn sender_domain_history_is_in_the_store() {
    let dir = TempDir::new("vis-history");
    let store = seeded(&dir).await;
    assert!(store.seen_sender_domain("sender.example").expect("seen"));
    assert!(store.seen_sender_domain("Other.Example.").expect("seen"));
    assert!(!store.seen_sender_domain("never.example").expect("seen"));
    store.close().await.expect("close");
}

/// A domain found stored is remembered: not asked again, until this
/// store's own purge deletes records (then it is asked again and found
/// gone). Another handle's purge (another sensor of a fleet) is not seen
/// by that memory; it expires within the hour (`src/store/seen.rs`).
#[tokio::test]
async fn sender_domain_memory_is_forgotten_at_a_purge() {
    let dir = TempDir::new("vis-history-purge");
    let store = seeded(&dir).await;
    assert!(store.seen_sender_domain("sender.example").expect("seen"));
    let other = Store::open_url(&dir.db(), StoreOptions::default()).expect("second handle");
    let later = SystemTime::now() + Duration::from_secs(60);
    assert_eq!(other.purge_older_than(later).expect("purge"), 3);
    other.close().await.expect("close other");
    assert!(
        store.seen_sender_domain("sender.example").expect("seen"),
        "remembered, not asked again"
    );
    assert!(!store.seen_sender_domain("other.example").expect("seen"));
    assert_eq!(store.purge_older_than(later).expect("purge"), 0);
    assert!(
        store.seen_sender_domain("sender.example").expect("seen"),
        "a purge that deleted nothing keeps the memory"
    );
    let mut d = record("v-d", 0);
    d.original.mailfrom = Some("x@third.example".into());
    store.insert(d).await.expect("insert");
    assert!(store.seen_sender_domain("third.example").expect("seen"));
    assert_eq!(store.purge_older_than(later).expect("purge"), 1);
    assert!(!store.seen_sender_domain("sender.example").expect("seen"));
    assert!(!store.seen_sender_domain("third.example").expect("seen"));
    store.close().await.expect("close");
}

#[tokio::test]
async fn gateway_status_counts_per_gateway() {
    let dir = TempDir::new("vis-status");
    let store = seeded(&dir).await;
    let st = store.gateway_status(now_ms(), 60).expect("status");
    let ips: Vec<&str> = st.iter().map(|g| g.gateway_ip.as_str()).collect();
    assert_eq!(ips, ["192.0.2.25", "192.0.2.26"]);
    let (one, two) = (&st[0], &st[1]);
    assert_eq!((one.total, one.x_agari, one.broken, one.tls), (2, 2, 0, 2));
    assert_eq!((two.total, two.x_agari, two.broken, two.tls), (1, 0, 1, 0));
    assert_eq!(two.helo.as_deref(), Some("gw2.example.com"));
    assert_eq!(one.per_minute.len(), 60);
    assert_eq!(one.per_minute.iter().sum::<u64>(), 2);
    let (n, broken) = store
        .untrusted_share(SystemTime::now() - Duration::from_secs(3600))
        .expect("share");
    assert_eq!((n, broken), (3, 1));
    let seen = store
        .gateways_last_seen(SystemTime::now() - Duration::from_secs(3600))
        .expect("last seen");
    assert_eq!(seen.len(), 2);
    assert!(seen[0].1 > seen[1].1 - 10 * 60_000);
    store.close().await.expect("close");
}

#[tokio::test]
async fn tampered_copies_are_counted_per_gateway() {
    let dir = TempDir::new("vis-tampered");
    let store = seeded(&dir).await;
    let mut t = record("v-t", 0);
    t.auth.source = AuthSource::Tampered;
    t.auth.spf = Some(method("unknown"));
    t.auth.tamper = Some("stamp from mx.example.com without a valid seal: no seal".into());
    store.insert(t).await.expect("insert");
    let st = store.gateway_status(now_ms(), 60).expect("status");
    let one = &st[0];
    assert_eq!(one.gateway_ip, "192.0.2.25");
    assert_eq!(
        (one.total, one.x_agari, one.broken, one.tampered),
        (3, 2, 1, 1),
        "a tampered copy is broken and counted as tampered"
    );
    assert_eq!(st[1].tampered, 0);
    let back = store
        .query(&filter(|f| f.auth_source = Some("tampered".into())))
        .expect("query");
    assert_eq!(uids(&back), ["v-t"]);
    assert!(back[0].auth.tamper.as_deref().unwrap().contains("no seal"));
    store.close().await.expect("close");
}

#[tokio::test]
async fn alert_claims_are_shared_between_handles() {
    let dir = TempDir::new("vis-alerts");
    let one = Store::open_url(&dir.db(), StoreOptions::default()).expect("open");
    let two = Store::open_url(&dir.db(), StoreOptions::default()).expect("open 2");
    let hour = Duration::from_secs(3600);
    let t0 = SystemTime::now();
    assert!(one.claim_alert("k", "threat", t0, hour).expect("claim"));
    assert!(!two
        .claim_alert("k", "threat", t0 + Duration::from_secs(1), hour)
        .expect("again"));
    assert!(
        two.claim_alert("k", "threat", t0 + hour + Duration::from_secs(2), hour)
            .expect("next window"),
        "a new window alerts again"
    );
    assert!(two.release_alert("k").expect("release"));
    assert!(!one.release_alert("k").expect("release twice"));
    assert!(one.claim_alert("k", "threat", t0, hour).expect("re-armed"));
    assert_eq!(
        one.prune_alerts(t0 + Duration::from_secs(5))
            .expect("prune"),
        1
    );
    assert!(two.claim_alert("k", "threat", t0, hour).expect("pruned"));
    one.close().await.expect("close");
    two.close().await.expect("close 2");
}
