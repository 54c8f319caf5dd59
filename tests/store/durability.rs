//! Group commit and durability: concurrent inserts share transactions,
//! acknowledged records survive close and `kill -9`, a full database is an
//! error (the sensor's 451), schema versions are enforced.

use super::fixtures::{record, skip_on_pg, TempDir};
use authsense::model::Record;
use authsense::store::{ErrorKind, Filter, Store, StoreOptions, SCHEMA_VERSION};
use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn group_commit_batches_concurrent_inserts() {
    const N: usize = 2000;
    let dir = TempDir::new("group");
    let store = Store::open_url(&dir.db(), StoreOptions::default()).expect("open");
    let records: Vec<Record> = (0..N).map(|i| record(&format!("g{i}"), 1)).collect();
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for rec in records {
        let store = store.clone();
        tasks.spawn(async move { store.insert(rec).await });
    }
    let mut ids = HashSet::new();
    while let Some(done) = tasks.join_next().await {
        ids.insert(done.expect("task").expect("insert"));
    }
    let elapsed = start.elapsed();
    let commits = store.commits();
    println!(
        "group commit: {N} inserts in {elapsed:?} = {:.0} inserts/s, {commits} commits",
        N as f64 / elapsed.as_secs_f64()
    );
    assert_eq!(ids.len(), N);
    assert_eq!(store.count().expect("count"), N as u64);
    assert!(
        commits <= (N / 10) as u64,
        "{commits} commits for {N} inserts"
    );
    store.close().await.expect("close");
}

#[tokio::test]
async fn close_flushes_and_reopen_finds_everything() {
    let dir = TempDir::new("reopen");
    let store = Store::open_url(&dir.db(), StoreOptions::default()).expect("open");
    let other = store.clone();
    let pending: Vec<_> = (0..50)
        .map(|i| {
            let s = store.clone();
            tokio::spawn(async move { s.insert(record(&format!("r{i}"), 1)).await })
        })
        .collect();
    let mut ids = Vec::new();
    for p in pending {
        ids.push(p.await.expect("task").expect("insert"));
    }
    store.close().await.expect("close");
    let err = other.insert(record("late", 1)).await.expect_err("closed");
    assert_eq!(err.kind(), ErrorKind::Closed);
    assert_eq!(other.count().expect("reads still work"), 50);
    drop(other);
    let store = Store::open_url(&dir.db(), StoreOptions::default()).expect("reopen");
    assert_eq!(store.count().expect("count"), 50);
    for id in ids {
        assert!(store.get(id).expect("get").is_some(), "{id}");
    }
}

/// Env var that turns `kill9_child_helper` into the inserting child.
const CHILD_ENV: &str = "AUTHSENSE_STORE_TEST_CHILD_DB";

/// Child mode of `acknowledged_inserts_survive_kill_9`: inserts from many
/// tasks forever and prints `ACK <id> <uid>` after each acknowledgement.
/// Without the env var it does nothing.
#[test]
fn kill9_child_helper() {
    let Ok(db) = std::env::var(CHILD_ENV) else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async move {
        let store = Store::open_url(&db, StoreOptions::default()).expect("open");
        let mut tasks = tokio::task::JoinSet::new();
        for t in 0..16 {
            let store = store.clone();
            tasks.spawn(async move {
                for n in 0.. {
                    let uid = format!("k{t}-{n}");
                    let id = store.insert(record(&uid, 0)).await.expect("insert");
                    let mut out = std::io::stdout().lock();
                    let _ = writeln!(out, "ACK {id} {uid}");
                    let _ = out.flush();
                }
            });
        }
        // Safety net if the parent never kills us.
        let _ = tokio::time::timeout(Duration::from_secs(60), tasks.join_next()).await;
        std::process::exit(3);
    });
}

#[test]
fn acknowledged_inserts_survive_kill_9() {
    let dir = TempDir::new("kill9");
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "durability::kill9_child_helper",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, dir.db())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut acked = Vec::new();
    let mut killed = false;
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("read child");
        if let Some(rest) = line.strip_prefix("ACK ") {
            let (id, uid) = rest.split_once(' ').expect("ACK id uid");
            acked.push((id.parse::<i64>().expect("id"), uid.to_string()));
        }
        if !killed && acked.len() >= 500 {
            child.kill().expect("kill -9"); // SIGKILL on Unix
            killed = true;
        }
    }
    let status = child.wait().expect("wait");
    assert!(
        killed,
        "child ended by itself: {status:?}, {} acks",
        acked.len()
    );
    assert_eq!(status.signal(), Some(9), "{status:?}");
    let store = Store::open_url(&dir.db(), StoreOptions::default()).expect("reopen after kill");
    for (id, uid) in &acked {
        let rec = store.get(*id).expect("get");
        assert_eq!(
            rec.map(|r| r.uid),
            Some(uid.clone()),
            "acknowledged id {id} lost"
        );
    }
    assert!(store.count().expect("count") >= acked.len() as u64);
    println!("kill -9: {} acknowledged ids all present", acked.len());
}

#[tokio::test]
async fn size_cap_fails_inserts_but_not_reads() {
    if skip_on_pg("the size cap (max_page_count)") {
        return;
    }
    let dir = TempDir::new("full");
    let opts = StoreOptions {
        max_db_bytes: Some(128 * 1024),
        ..Default::default()
    };
    let store = Store::open_url(&dir.db(), opts).expect("open");
    let big = |i: usize| {
        let mut r = record(&format!("f{i}"), 10);
        r.subject = Some(format!("{i} {}", "x".repeat(2000)));
        r
    };
    let mut stored = 0u64;
    let err = tokio::time::timeout(Duration::from_secs(60), async {
        for i in 0..1000 {
            match store.insert(big(i)).await {
                Ok(_) => stored += 1,
                Err(e) => return e,
            }
        }
        panic!("1000 records of 2 KB fitted in 128 KiB");
    })
    .await
    .expect("inserting into a full store must not hang");
    assert_eq!(err.kind(), ErrorKind::Full, "{err}");
    let text = err.to_string();
    assert!(
        text.contains("insert") && text.contains(&dir.db()),
        "{text}"
    );
    // Reads keep working, and the failed insert left nothing behind.
    assert_eq!(store.count().expect("count"), stored);
    assert_eq!(
        store.query(&Filter::default()).expect("query").len() as u64,
        stored
    );
    assert!(store.insert(big(5000)).await.is_err(), "still full");
    // Purging makes room again.
    store.purge_older_than(SystemTime::now()).expect("purge");
    store.insert(big(6000)).await.expect("insert after purge");
}

#[tokio::test]
async fn open_errors_are_clear() {
    if skip_on_pg("opening a missing or non-database file") {
        return;
    }
    let dir = TempDir::new("open-err");
    let missing = dir.0.join("no-such-dir").join("sensor.db");
    let err = Store::open(&missing, StoreOptions::default()).expect_err("missing dir");
    assert_eq!(err.kind(), ErrorKind::Open);
    assert!(
        err.to_string().contains(&missing.display().to_string()),
        "{err}"
    );
    assert!(err.to_string().contains("does not exist"), "{err}");
    let garbage = dir.0.join("garbage.db");
    std::fs::write(&garbage, vec![b'x'; 8192]).expect("write");
    let err = Store::open(&garbage, StoreOptions::default()).expect_err("not a database");
    assert!(err.to_string().contains("garbage.db"), "{err}");
}

// SQLite-specific: reads the schema through rusqlite directly.
#[tokio::test]
async fn migrations_are_versioned() {
    if skip_on_pg("reading user_version with rusqlite") {
        return;
    }
    let dir = TempDir::new("migrate");
    let store = Store::open_url(&dir.db(), StoreOptions::default()).expect("create");
    store.insert(record("m1", 1)).await.expect("insert");
    store.close().await.expect("close");
    let schema = || {
        let c = rusqlite::Connection::open(dir.db()).expect("sqlite");
        let v: u32 = c
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .expect("version");
        let mut st = c
            .prepare("SELECT sql FROM sqlite_schema ORDER BY name")
            .expect("prepare");
        let sql: Vec<Option<String>> = st
            .query_map([], |r| r.get(0))
            .expect("q")
            .map(|r| r.expect("row"))
            .collect();
        (v, sql)
    };
    let before = schema();
    assert_eq!(before.0, SCHEMA_VERSION);
    let store =
        Store::open_url(&dir.db(), StoreOptions::default()).expect("reopen at current version");
    assert_eq!(store.count().expect("count"), 1);
    store.close().await.expect("close");
    assert_eq!(schema(), before, "reopening changed the schema");

    let c = rusqlite::Connection::open(dir.db()).expect("sqlite");
    c.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .expect("bump");
    drop(c);
    let err = Store::open_url(&dir.db(), StoreOptions::default()).expect_err("newer schema");
    assert_eq!(err.kind(), ErrorKind::Schema);
    let text = err.to_string();
    assert!(
        text.contains("newer") && text.contains("sensor.db"),
        "{text}"
    );
}
