//! Crash consistency at scale: at least 10,000 copies sent by concurrent
//! clients to a real `authsense sensor` process that is SIGKILLed at random
//! moments (a seeded, printed schedule) and restarted on the same database
//! each time; the clients reconnect and go on. At the end every copy that got
//! a 250 is in the store exactly once, under the uid it was acknowledged
//! with, and no copy (by Message-ID) is stored twice.
//!
//! `AUTHSENSE_CRASH_SEED=N` replays a kill schedule.

mod common;

use authsense::store::{Filter, Store, StoreOptions};
use common::sensor::Client;
use common::tempdir::TempDir;
use std::{
    collections::{HashMap, HashSet},
    net::SocketAddr,
    path::Path,
    process::{Child, Command, Stdio},
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

/// Copies that must be acknowledged before the run ends.
const TARGET_ACKED: usize = 10_000;
/// Kills that must have happened before the run ends.
const MIN_KILLS: usize = 8;
/// Time between kills, drawn uniformly (milliseconds).
const KILL_EVERY_MS: (u64, u64) = (300, 1500);
/// Concurrent clients.
const CLIENTS: usize = 16;

/// splitmix64: a small seeded generator (no dependency for one test).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn range(&mut self, (lo, hi): (u64, u64)) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

/// A port below the ephemeral range, so that a client reconnecting while
/// the sensor is down can never self-connect on it and steal it (26160..26190:
/// clear of postfix-test/e2e-milter-kill's ports).
fn low_port() -> u16 {
    (26160..26190)
        .find(|p| std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok())
        .expect("a free port in 26160..26190")
}

async fn start(db: &Path, port: u16) -> Child {
    let child = Command::new(env!("CARGO_BIN_EXE_authsense"))
        .args([
            "sensor",
            "--db",
            db.to_str().unwrap(),
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--web",
            "127.0.0.1:0",
        ])
        .args(["--trusted-authserv-id", "mx.example.com"])
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "warn")
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "sensor did not start");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child
}

/// What the clients saw.
#[derive(Default)]
struct Seen {
    /// Acknowledged copies: Message-ID → uid from the 250.
    acked: Mutex<HashMap<String, String>>,
    /// Copies whose final reply never came (the sensor died): either stored
    /// or not, never twice.
    unanswered: AtomicUsize,
    /// Sessions opened.
    sessions: AtomicUsize,
    stop: AtomicBool,
}

/// One session: sends copies until told to stop or the connection fails.
/// Every copy has a fresh Message-ID; nothing is resent.
async fn session(addr: SocketAddr, worker: usize, seq: &mut u64, seen: &Seen) -> Option<()> {
    let stream = tokio::net::TcpStream::connect(addr).await.ok()?;
    seen.sessions.fetch_add(1, Ordering::Relaxed);
    let mut c = Client {
        io: tokio::io::BufReader::new(stream),
    };
    c.try_reply().await?;
    c.try_send("EHLO gw.example.com\r\n").await?;
    c.try_reply().await?;
    while !seen.stop.load(Ordering::Relaxed) {
        *seq += 1;
        let id = format!("w{worker}.{seq}@crash.test");
        c.try_send(&format!(
            "MAIL FROM:<bounce@gw.example.com>\r\nRCPT TO:<u{worker}@example.net>\r\nDATA\r\n"
        ))
        .await?;
        for want in ["250", "250", "354"] {
            let r = c.try_reply().await?;
            assert!(r.starts_with(want), "{r}");
        }
        c.try_send(&format!(
            "X-Agari-Authentication-Results: mx.example.com; spf=pass smtp.mailfrom=a@pass.example smtp.helo=h.example\r\nMessage-ID: <{id}>\r\nSubject: crash\r\n\r\nbody\r\n.\r\n"
        ))
        .await?;
        let Some(r) = c.try_reply().await else {
            seen.unanswered.fetch_add(1, Ordering::Relaxed);
            return None;
        };
        let uid = r.strip_prefix("250 2.0.0 Ok: stored as ");
        let uid = uid.unwrap_or_else(|| panic!("copy {id} refused: {r}"));
        seen.acked.lock().unwrap().insert(id, uid.to_string());
    }
    Some(())
}

/// A gateway: sessions one after another until stopped (bounded in time).
async fn client(addr: SocketAddr, worker: usize, seen: Arc<Seen>, until: Instant) {
    let mut seq = 0;
    while !seen.stop.load(Ordering::Relaxed) && Instant::now() < until {
        if session(addr, worker, &mut seq, &seen).await.is_none() {
            // The sensor is down: retry soon, as a gateway would (faster).
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_kill_9_loses_and_duplicates_nothing() {
    let seed = std::env::var("AUTHSENSE_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    println!("kill schedule seed {seed} (AUTHSENSE_CRASH_SEED={seed} replays it)");
    let mut rng = Rng(seed);
    let dir = TempDir::new("crash");
    let db = dir.join("authsense.db");
    let port = low_port();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let t0 = Instant::now();
    let until = t0 + Duration::from_secs(180);
    let mut child = start(&db, port).await;
    let seen = Arc::new(Seen::default());
    let clients: Vec<_> = (0..CLIENTS)
        .map(|w| tokio::spawn(client(addr, w, seen.clone(), until)))
        .collect();
    let done =
        |kills: usize| kills >= MIN_KILLS && seen.acked.lock().unwrap().len() >= TARGET_ACKED;
    let mut kills = 0;
    while !done(kills) {
        let at = Instant::now() + Duration::from_millis(rng.range(KILL_EVERY_MS));
        while Instant::now() < at && !done(kills) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(
            Instant::now() < until,
            "deadline: {} acked, {kills} kills",
            seen.acked.lock().unwrap().len()
        );
        if done(kills) {
            break;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        kills += 1;
        child = start(&db, port).await;
    }
    seen.stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.await.unwrap();
    }
    // The last instance dies the same way; a restart must open the database
    // (WAL recovery) and serve.
    child.kill().unwrap();
    child.wait().unwrap();
    kills += 1;
    let mut child = start(&db, port).await;
    let mut c = Client::connect(addr).await;
    assert!(c.reply().await.starts_with("220"));
    c.cmd("QUIT").await;
    child.kill().unwrap();
    child.wait().unwrap();

    let store = Store::open(&db, StoreOptions::default()).unwrap();
    let recs = store
        .query(&Filter {
            limit: Some(10_000_000),
            ..Filter::default()
        })
        .unwrap();
    let mut by_id: HashMap<&str, Vec<&str>> = HashMap::new();
    for r in &recs {
        let id = r.msg_id.as_deref().expect("every copy has a Message-ID");
        by_id.entry(id).or_default().push(&r.uid);
    }
    let uids: HashSet<&str> = recs.iter().map(|r| r.uid.as_str()).collect();
    let acked = std::mem::take(&mut *seen.acked.lock().unwrap());
    println!(
        "{} acked, {} stored, {} unanswered at a kill, {kills} kills, {} sessions, {:.1} s",
        acked.len(),
        recs.len(),
        seen.unanswered.load(Ordering::Relaxed),
        seen.sessions.load(Ordering::Relaxed),
        t0.elapsed().as_secs_f64()
    );
    assert!(acked.len() >= TARGET_ACKED && kills > MIN_KILLS);
    assert_eq!(uids.len(), recs.len(), "a uid stored twice");
    let twice: Vec<_> = by_id.iter().filter(|(_, u)| u.len() > 1).collect();
    assert!(twice.is_empty(), "copies stored twice: {twice:?}");
    let lost: Vec<_> = acked
        .iter()
        .filter(|(id, uid)| by_id.get(id.as_str()) != Some(&vec![uid.as_str()]))
        .collect();
    assert!(
        lost.is_empty(),
        "acknowledged but not stored as acked: {lost:?}"
    );
    // Stored but unacknowledged copies can only be the unanswered ones.
    let extra = recs.len() - acked.len();
    assert!(
        extra <= seen.unanswered.load(Ordering::Relaxed),
        "{extra} stored copies were never sent"
    );
    store.close().await.unwrap();
}

/// The real binary listens with a queue of pending connections as deep as
/// `max_sessions` (1000 by default; tokio's default is 1024 at most, mio's
/// 128 on some versions): a burst of gateways connecting at once is queued,
/// not dropped. `ss` shows a listening socket's queue limit as Send-Q.
#[tokio::test]
async fn listen_queue_is_as_deep_as_max_sessions() {
    let dir = TempDir::new("listen-queue");
    // An ephemeral port, never one of low_port()'s: this test runs beside the
    // kill test, which must own its port (a sensor of ours on it would take
    // its copies into another database).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap();
    let mut child = start(&dir.join("s.db"), port).await;
    let out = Command::new("ss")
        .args(["-Hltn", &format!("sport = :{port}")])
        .output()
        .expect("ss (iproute2) runs");
    let _ = child.kill();
    let _ = child.wait();
    let text = String::from_utf8_lossy(&out.stdout);
    let send_q: u32 = text
        .split_whitespace()
        .nth(2)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("cannot read Send-Q from ss: {text:?}"));
    let somaxconn: u32 = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .map_or(4096, |s| s.trim().parse().unwrap_or(4096));
    assert!(
        send_q >= 1024.min(somaxconn),
        "listen queue {send_q}, want >= min(1024, somaxconn {somaxconn})"
    );
}
