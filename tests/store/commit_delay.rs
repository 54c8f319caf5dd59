//! The commit delay: a commit waits for copies in progress
//! (`Store::begin_copy`, until `Store::insert_in_progress` queues them) to
//! join it, for at most `commit_delay`, and stops waiting once none is
//! left; a lone copy is not delayed. Delays here are seconds long so that each timing assertion has a
//! wide margin on a loaded machine.

use super::fixtures::{record, TempDir};
use authsense::store::{Store, StoreOptions};
use std::time::{Duration, Instant};

fn open(dir: &TempDir, delay: Duration) -> Store {
    let opts = StoreOptions {
        commit_delay: delay,
        ..StoreOptions::default()
    };
    Store::open_url(&dir.db(), opts).expect("open")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_waits_for_the_other_copy_in_progress_and_shares_it() {
    let dir = TempDir::new("delay-join");
    let store = open(&dir, Duration::from_secs(10));
    let first_copy = store.begin_copy();
    let second_copy = store.begin_copy();
    let before = store.commits();

    let s = store.clone();
    let first =
        tokio::spawn(async move { s.insert_in_progress(record("cd-1", 1), first_copy).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !first.is_finished(),
        "the first copy was committed without waiting for the second one in progress"
    );
    assert_eq!(store.commits(), before, "nothing committed yet");

    let started = Instant::now();
    let second = store
        .insert_in_progress(record("cd-2", 1), second_copy)
        .await
        .expect("second insert");
    let first = first.await.expect("task").expect("first insert");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the commit waited {:?} although every copy in progress had joined it",
        started.elapsed()
    );
    assert_ne!(first.id, second.id);
    assert_eq!(
        store.commits(),
        before + 1,
        "both copies in one transaction"
    );
    assert_eq!(store.count().expect("count"), 2);
    store.close().await.expect("close");
}

#[tokio::test]
async fn a_lone_copy_is_not_delayed() {
    let dir = TempDir::new("delay-lone");
    let store = open(&dir, Duration::from_secs(10));
    let started = Instant::now();
    let copy = store.begin_copy();
    store
        .insert_in_progress(record("lone-1", 1), copy)
        .await
        .expect("insert");
    // An insert that never announced itself (no copy in progress at all).
    store.insert(record("lone-2", 1)).await.expect("insert");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "two lone inserts took {:?} with a 10 s commit delay",
        started.elapsed()
    );
    assert_eq!(store.count().expect("count"), 2);
    store.close().await.expect("close");
}

#[tokio::test]
async fn the_wait_is_bounded_by_the_commit_delay() {
    let dir = TempDir::new("delay-bound");
    let delay = Duration::from_millis(400);
    let store = open(&dir, delay);
    // A copy that is in progress but never arrives (a slow or stalled
    // gateway session).
    let _stalled = store.begin_copy();
    let copy = store.begin_copy();
    let started = Instant::now();
    store
        .insert_in_progress(record("bound-1", 1), copy)
        .await
        .expect("insert");
    let took = started.elapsed();
    assert!(
        took >= delay - Duration::from_millis(50),
        "committed after {took:?}, without waiting for the copy in progress"
    );
    assert!(
        took < Duration::from_secs(5),
        "committed after {took:?}: the wait is not bounded by {delay:?}"
    );
    assert_eq!(store.count().expect("count"), 1);
    store.close().await.expect("close");
}
