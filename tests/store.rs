//! The store's contract, through its public API only, so the same suite
//! can run against another backend: round trip, filters, order and paging,
//! idempotent uid, retention here; group commit, durability across close and
//! `kill -9`, the size cap, open errors and migrations in `store/durability.rs`;
//! the commit delay in `store/commit_delay.rs`.

#[path = "store/commit_delay.rs"]
mod commit_delay;
#[path = "store/durability.rs"]
mod durability;
#[path = "store/fixtures.rs"]
mod fixtures;
#[path = "store/migrate.rs"]
mod migrate;
#[path = "common/tempdir.rs"]
mod tempdir;
#[path = "store/visibility.rs"]
mod visibility;

use authsense::model::{AuthInfo, AuthSource, Record};
use authsense::store::{ErrorKind, Filter, Store, StoreOptions};
use fixtures::{filter, mailbox, method, record, s, uids, TempDir};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[test]
fn store_is_a_cheap_shared_handle() {
    fn check<T: Clone + Send + Sync + 'static>() {}
    check::<Store>();
}

#[tokio::test]
async fn round_trip() {
    let dir = TempDir::new("round-trip");
    let store = Store::open_url(&dir.db(), StoreOptions::default()).expect("open");
    let rec = record("rt-1", 5);
    let id = store.insert(rec.clone()).await.expect("insert");
    let got = store.get(id).expect("get").expect("present");
    assert_eq!(
        got,
        Record {
            id: Some(id),
            ..rec.clone()
        }
    );
    let all = store.query(&Filter::default()).expect("query");
    assert_eq!(all, vec![got]);
    assert_eq!(store.get(id + 1000).expect("get"), None);
    assert_eq!(store.count().expect("count"), 1);
    store.close().await.expect("close");
}

#[tokio::test]
async fn invalid_record_is_an_error_for_that_record_only() {
    let dir = TempDir::new("invalid");
    let store = Store::open_url(&dir.db(), StoreOptions::default()).expect("open");
    let mut bad = record("bad", 1);
    bad.ts = "yesterday".into();
    let err = store.insert(bad).await.expect_err("bad ts");
    assert_eq!(err.kind(), ErrorKind::InvalidRecord);
    assert!(store.insert(record("", 1)).await.is_err());
    store.insert(record("good", 1)).await.expect("good");
    assert_eq!(store.count().expect("count"), 1);
}

#[tokio::test]
async fn filters() {
    let dir = TempDir::new("filters");
    let store = Store::open_url(&dir.db(), StoreOptions::default()).expect("open");
    let a = record("a", 300);
    let mut b = record("b", 200);
    b.original.mailfrom = Some("Mallory@Evil.TEST".into());
    b.from = Some(mailbox("ceo@example.com"));
    b.subject = Some("Urgent: wire 100%_now".into());
    b.auth.spf = Some(method("fail"));
    b.auth.source = AuthSource::AuthenticationResults;
    b.rcptto = vec!["Finance@Example.com".into()];
    b.to = vec![];
    b.cc = vec![];
    let mut c = record("c", 100);
    c.original.mailfrom = None;
    c.from = Some(mailbox("news@list.example.org"));
    c.auth = AuthInfo::default();
    c.subject = None;
    c.rcptto = vec!["dave@example.net".into()];
    c.to = vec![mailbox("all@example.net")];
    c.cc = vec![];
    for r in [a, b, c] {
        store.insert(r).await.expect("insert");
    }
    let q = |f: Filter| uids(&store.query(&f).expect("query"));
    let now = SystemTime::now();
    assert_eq!(q(Filter::default()), ["c", "b", "a"]);
    let cases: Vec<(Filter, &[&str])> = vec![
        (
            filter(|f| f.since = Some(now - Duration::from_secs(250 * 60))),
            &["c", "b"],
        ),
        (
            filter(|f| f.until = Some(now - Duration::from_secs(150 * 60))),
            &["b", "a"],
        ),
        (filter(|f| f.sender = s("mallory@evil")), &["b"]),
        (filter(|f| f.sender = s("CEO@")), &["b"]),
        (filter(|f| f.sender = s("sender.EXAMPLE")), &["a"]),
        (filter(|f| f.sender_domain = s("evil.test")), &["b"]),
        (filter(|f| f.sender_domain = s("Example.com")), &["b"]),
        (filter(|f| f.sender_domain = s("list.example.org")), &["c"]),
        (filter(|f| f.sender_domain = s("example.org")), &[]),
        (filter(|f| f.recipient = s("finance@")), &["b"]),
        (filter(|f| f.recipient = s("ALL@example.net")), &["c"]),
        (filter(|f| f.recipient = s("carol")), &["a"]),
        (filter(|f| f.subject = s("quarterly")), &["a"]),
        (filter(|f| f.subject = s("100%_")), &["b"]),
        (filter(|f| f.subject = s("_")), &["b"]),
        (filter(|f| f.spf = s("fail")), &["b"]),
        (filter(|f| f.spf = s("PASS")), &["a"]),
        (filter(|f| f.auth_source = s("x-agari")), &["a"]),
        (
            filter(|f| f.auth_source = s("authentication-results")),
            &["b"],
        ),
        (filter(|f| f.auth_source = s("none")), &["c"]),
        (filter(|f| (f.sender, f.spf) = (s("alice"), s("fail"))), &[]),
        (filter(|f| f.limit = Some(1)), &["c"]),
    ];
    for (filter, want) in cases {
        assert_eq!(q(filter.clone()), want, "{filter:?}");
    }
}

#[tokio::test]
async fn newest_first_and_paging() {
    let dir = TempDir::new("paging");
    let store = Store::open_url(&dir.db(), StoreOptions::default()).expect("open");
    // Inserted in scrambled time order: the order must follow ts.
    let ages: Vec<u64> = (0..25).map(|i| (i * 7) % 25).collect();
    for age in &ages {
        store
            .insert(record(&format!("p{age}"), *age))
            .await
            .expect("insert");
    }
    let mut seen = Vec::new();
    let mut filter = Filter {
        limit: Some(10),
        ..Default::default()
    };
    loop {
        let page = store.query(&filter).expect("query");
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 10);
        filter.after_id = page.last().and_then(|r| r.id);
        seen.extend(uids(&page));
    }
    let want: Vec<String> = (0..25).map(|age| format!("p{age}")).collect();
    assert_eq!(seen, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_uid_is_idempotent() {
    let dir = TempDir::new("dup");
    let store = Store::open_url(&dir.db(), StoreOptions::default()).expect("open");
    let first = store.insert(record("same", 1)).await.expect("insert");
    let again = store.insert(record("same", 0)).await.expect("retry");
    assert_eq!(first, again);
    // Concurrent duplicates, likely in one batch.
    let (x, y) = tokio::join!(
        store.insert(record("twin", 1)),
        store.insert(record("twin", 1))
    );
    assert_eq!(x.expect("x"), y.expect("y"));
    assert_eq!(store.count().expect("count"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retried_copy_is_stored_once() {
    let dir = TempDir::new("retried");
    let store = Store::open_url(&dir.db(), StoreOptions::default()).expect("open");
    // Same Message-ID, original recipients and content: a retry, even with
    // a new uid (another sensor, or the same one after a lost 250).
    let copy = |uid: &str, rcpts: &[&str], body: &str| {
        let mut r = record(uid, 1);
        r.msg_id = Some("retry@sender.example".into());
        r.rcptto = rcpts.iter().map(|s| s.to_string()).collect();
        r.body_sha256 = Some(body.into());
        r
    };
    let first = store
        .insert(copy("r1", &["bob@example.com", "carol@example.com"], "aa"))
        .await
        .expect("insert");
    let again = store
        .insert(copy("r2", &["carol@example.com", "bob@example.com"], "aa"))
        .await
        .expect("retry");
    assert_eq!(first, again);
    let (x, y) = tokio::join!(
        store.insert(copy("r3", &["dave@example.com"], "aa")),
        store.insert(copy("r4", &["dave@example.com"], "aa"))
    );
    assert_eq!(x.expect("x"), y.expect("y"));
    // Other recipients or other content: another message.
    let other = store
        .insert(copy("r5", &["bob@example.com"], "bb"))
        .await
        .expect("other");
    assert_ne!(other, first);
    assert_eq!(store.count().expect("count"), 3);
    // The sensor's view: the retry is a duplicate of the first uid.
    let dup = store
        .insert_copy(copy("r6", &["bob@example.com", "carol@example.com"], "aa"))
        .await
        .expect("retry");
    assert_eq!(
        (dup.id, dup.uid.as_str(), dup.duplicate),
        (first, "r1", true)
    );
    let new = store
        .insert_copy(copy("r7", &["erin@example.com"], "cc"))
        .await
        .expect("new");
    assert_eq!((new.uid.as_str(), new.duplicate), ("r7", false));
    assert_eq!(store.get(first).expect("get").map(|r| r.uid), s("r1"));
}

#[tokio::test]
async fn retention_purges_only_older_records() {
    let dir = TempDir::new("retention");
    let store = Store::open_url(&dir.db(), StoreOptions::default()).expect("open");
    let day = 24 * 60;
    for (uid, age) in [("old", 10 * day), ("mid", 5 * day), ("new", 1)] {
        store.insert(record(uid, age)).await.expect("insert");
    }
    let cutoff = SystemTime::now() - Duration::from_secs(7 * 86_400);
    assert_eq!(store.purge_older_than(cutoff).expect("purge"), 1);
    assert_eq!(
        uids(&store.query(&Filter::default()).expect("q")),
        ["new", "mid"]
    );
    // Recipients of purged records go too: no dangling match.
    assert!(store
        .query(&Filter {
            recipient: Some("bob".into()),
            ..Default::default()
        })
        .expect("q")
        .iter()
        .all(|r| r.uid != "old"));
    store.close().await.expect("close");

    let opts = StoreOptions {
        retention_days: Some(3),
        ..Default::default()
    };
    let store = Store::open_url(&dir.db(), opts).expect("reopen with retention");
    assert_eq!(uids(&store.query(&Filter::default()).expect("q")), ["new"]);
    assert_eq!(
        store.purge_older_than(UNIX_EPOCH).expect("purge nothing"),
        0
    );
}

/// Two sensors of a fleet writing to one database at once, each receiving a
/// copy of every message (a retry to the other sensor): stored once each.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_writers_share_one_database() {
    const N: usize = 200;
    let dir = TempDir::new("two-writers");
    let a = Store::open_url(&dir.db(), StoreOptions::default()).expect("open a");
    let b = Store::open_url(&dir.db(), StoreOptions::default()).expect("open b");
    let copy = |sensor: &str, i: usize| {
        let mut r = record(&format!("{sensor}-{i}"), 1);
        r.msg_id = Some(format!("m{i}@sender.example"));
        r.body_sha256 = Some(format!("{i:064x}"));
        r
    };
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..N {
        for (sensor, store) in [("a", a.clone()), ("b", b.clone())] {
            let rec = copy(sensor, i);
            tasks.spawn(async move { (i, store.insert(rec).await.expect("insert")) });
        }
    }
    let mut ids = vec![Vec::new(); N];
    while let Some(done) = tasks.join_next().await {
        let (i, id) = done.expect("task");
        ids[i].push(id);
    }
    for (i, pair) in ids.iter().enumerate() {
        assert_eq!(pair.len(), 2);
        assert_eq!(pair[0], pair[1], "message {i} stored twice");
    }
    assert_eq!(a.count().expect("count"), N as u64);
    assert_eq!(b.count().expect("count"), N as u64);
    a.close().await.expect("close a");
    b.close().await.expect("close b");
}

/// PostgreSQL restarts or fails over: the copy in flight fails (451, the
/// gateway retries), the next insert reconnects, reads reconnect too.
#[tokio::test]
async fn reconnects_after_the_server_dropped_the_connections() {
    let dir = TempDir::new("reconnect");
    let store = Store::open_url(&dir.db(), StoreOptions::default()).expect("open");
    store.insert(record("before", 1)).await.expect("insert");
    assert_eq!(store.count().expect("count"), 1);
    if !dir.drop_connections() {
        println!("skipped on SQLite: no server connection to lose");
        return;
    }
    let mut stored = false;
    for _ in 0..3 {
        if store.insert(record("after", 1)).await.is_ok() {
            stored = true;
            break;
        }
    }
    assert!(stored, "no reconnect within 3 inserts");
    assert_eq!(store.count().expect("count after reconnect"), 2);
    store.close().await.expect("close");
}

/// `authsense export --jsonl`: every record once, as one JSON object per
/// line, across pages (1,000 per query).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dump_jsonl_writes_every_record_once() {
    const N: usize = 1200;
    let dir = TempDir::new("jsonl");
    let store = Store::open_url(&dir.db(), StoreOptions::default()).expect("open");
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..N {
        let store = store.clone();
        tasks.spawn(async move { store.insert(record(&format!("j{i}"), 1)).await });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("task").expect("insert");
    }
    let mut out = Vec::new();
    let n = authsense::export::consume::dump_jsonl(&store, &mut out).expect("dump");
    assert_eq!(n, N as u64);
    let text = String::from_utf8(out).expect("utf-8");
    let uids: std::collections::HashSet<String> = text
        .lines()
        .map(|l| {
            let r: Record = serde_json::from_str(l).expect("a record per line");
            assert!(r.id.is_some());
            r.uid
        })
        .collect();
    assert_eq!(uids.len(), N);
    store.close().await.expect("close");
}
