//! Load and abuse (issue 6, reliability point 3): at once, 1,000 concurrent
//! sessions kept alive with NOOPs, 100 silent ones, slowloris senders that
//! trickle a byte per second in a command and in DATA, stalled STARTTLS
//! handshakes, oversize messages, a pipelining flood read back in full and
//! one that never reads its replies, and a transaction with 10,000
//! recipients. Every abuser must be cut off (or served) within a bounded
//! time, and throughout a well-behaved probe client completes transaction
//! after transaction with bounded latency; every probe copy is stored.

mod common;

use authsense::config::Config;
use authsense::store::{Filter, StoreOptions};
use common::sensor::{Client, TestSensor};
use std::{
    net::{IpAddr, SocketAddr},
    sync::atomic::{AtomicBool, Ordering},
    sync::Arc,
    time::{Duration, Instant},
};
use tokio::{io::AsyncReadExt, net::TcpStream, task::JoinSet, time::sleep_until};

type Conn = Client<TcpStream>;

const IDLE: u64 = 3;
const SESSION: u64 = 8;
/// Slack for a cut-off on a loaded 2-core machine (debug build).
const SLACK: Duration = Duration::from_secs(3);
const CROWD: usize = 1000;
const XA: &str = "X-Agari-Authentication-Results: mx.example.com; spf=pass smtp.mailfrom=a@pass.example smtp.helo=h.example\r\n";

fn cfg() -> Config {
    let mut c = Config::default();
    let s = &mut c.sensor;
    (s.idle_timeout_secs, s.data_timeout_secs) = (IDLE, IDLE);
    s.session_timeout_secs = SESSION;
    s.min_data_rate = 500;
    // The crowd (200 per address, the default per-IP cap) and the rest fit.
    s.max_sessions = 1200;
    s.max_message_size = 1 << 20;
    s.max_recipients = 1000;
    c
}

/// The crowd and the abusers need ~2,300 descriptors in this one process.
fn raise_nofile(want: u64) {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid, initialised struct.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut r), 0);
        if r.rlim_cur < want {
            r.rlim_cur = want.min(r.rlim_max);
            assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &r), 0);
        }
    }
    assert!(
        r.rlim_cur >= want,
        "RLIMIT_NOFILE hard limit {} too low",
        r.rlim_max
    );
}

/// A session from loopback address 127.0.0.`host`, past the greeting.
async fn connect(addr: SocketAddr, host: u8) -> Conn {
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.bind(SocketAddr::new(IpAddr::from([127, 0, 0, host]), 0))
        .unwrap();
    let mut c = Client::new(sock.connect(addr).await.unwrap());
    let r = c.reply().await;
    assert!(r.starts_with("220"), "127.0.0.{host}: {r}");
    c
}

async fn ehlo(c: &mut Conn) {
    assert!(c.cmd("EHLO gw.example.com").await.starts_with("250"));
}

/// Waits (bounded) for the sensor to close: the last reply before EOF.
async fn last_words(c: &mut Conn) -> Option<String> {
    let mut last = None;
    while let Some(r) = c.try_reply().await {
        last = Some(r);
    }
    last
}

/// Asserts a cut-off `limit` after a moment the client knows only to lie
/// between `before` and `after` (the sensor's clock started in between):
/// not earlier, and not much later.
fn cut_within(what: &str, before: Instant, after: Instant, limit: u64) {
    let limit = Duration::from_secs(limit);
    let (most, least) = (before.elapsed(), after.elapsed());
    assert!(
        most >= limit && least <= limit + SLACK,
        "{what}: cut off {least:?}..{most:?} after start, limit {limit:?}"
    );
}

/// Spreads the idle sessions' connects over a second: a burst of 1,100
/// SYNs at once overflows the listen backlog (1,024), and with SYN cookies
/// the kernel silently loses such connections (the client never gets the
/// greeting): a property of the kernel, not of the sensor.
async fn ramp(i: usize) {
    tokio::time::sleep(Duration::from_micros(900 * i as u64)).await;
}

/// Kept alive with a NOOP a second, then cut at the session time limit.
async fn crowd_member(addr: SocketAddr, i: usize) -> Duration {
    ramp(i).await;
    let before = Instant::now();
    let mut c = connect(addr, 2 + (i / 200) as u8).await;
    let t0 = Instant::now();
    ehlo(&mut c).await;
    // The last NOOP goes 2 s before the limit: no race with the 421.
    for s in 1..SESSION - 1 {
        sleep_until((t0 + Duration::from_secs(s)).into()).await;
        assert_eq!(&c.cmd("NOOP").await[..3], "250");
    }
    let r = last_words(&mut c).await.unwrap_or_default();
    assert!(r.starts_with("421 4.4.2 Session time limit"), "{r}");
    cut_within("crowd", before, t0, SESSION);
    t0 - before
}

/// Connects and says nothing: cut at the idle timeout.
async fn silent(addr: SocketAddr, i: usize) -> Duration {
    ramp(i).await;
    let before = Instant::now();
    let mut c = connect(addr, 7).await;
    let t0 = Instant::now();
    let r = last_words(&mut c).await.unwrap_or_default();
    assert!(r.starts_with("421 4.4.2 Idle timeout"), "{r}");
    cut_within("silent", before, t0, IDLE);
    t0 - before
}

/// One byte a second, in a command line or (`in_data`) in the message.
async fn slowloris(addr: SocketAddr, in_data: bool) -> Duration {
    let mut c = connect(addr, 8).await;
    let mut before = Instant::now();
    ehlo(&mut c).await;
    if in_data {
        before = Instant::now();
        c.send("MAIL FROM:<s@gw.example.com>\r\nRCPT TO:<a@example.net>\r\nDATA\r\n")
            .await;
        for want in ["250", "250", "354"] {
            assert_eq!(&c.reply().await[..3], want);
        }
    }
    let t0 = Instant::now();
    let text = b"Subject: slow\r\n\r\nNOOP and more bytes than the limit allows\r\n";
    for b in text
        .iter()
        .take(IDLE as usize + SLACK.as_secs() as usize + 2)
    {
        if c.try_send(std::str::from_utf8(&[*b]).unwrap())
            .await
            .is_none()
        {
            break;
        }
        // Pacing of one byte a second; an early reply ends the loop.
        let mut buf = [0u8; 256];
        let read = c.io.read(&mut buf);
        if let Ok(r) = tokio::time::timeout(Duration::from_secs(1), read).await {
            let r = r.map(|n| String::from_utf8_lossy(&buf[..n]).into_owned());
            let want = if in_data {
                "421 4.4.2 Data timeout"
            } else {
                "421 4.4.2 Idle timeout"
            };
            assert!(r.as_ref().is_ok_and(|r| r.starts_with(want)), "{r:?}");
            cut_within("slowloris", before, t0, IDLE);
            return Duration::ZERO;
        }
    }
    panic!("slowloris (in_data {in_data}) never cut off");
}

/// STARTTLS, then a stalled handshake (nothing, or a partial ClientHello).
async fn tls_stall(addr: SocketAddr, partial: bool) -> Duration {
    let mut c = connect(addr, 9).await;
    ehlo(&mut c).await;
    let before = Instant::now();
    assert_eq!(&c.cmd("STARTTLS").await[..3], "220");
    let t0 = Instant::now();
    if partial {
        c.send_bytes(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01]).await;
    }
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(IDLE) + SLACK, c.io.read(&mut buf)).await;
    assert!(
        matches!(n, Ok(Ok(0)) | Ok(Err(_))),
        "handshake not cut: {n:?}"
    );
    cut_within("tls stall", before, t0, IDLE);
    Duration::ZERO
}

/// Copies twice the size cap (552, session goes on), then one that fits
/// (its Message-ID tagged: identical copies would be one retried message,
/// stored once).
async fn oversize(addr: SocketAddr, tag: &str) -> String {
    let mut c = connect(addr, 10).await;
    ehlo(&mut c).await;
    let r = c.cmd("MAIL FROM:<o@gw.example.com> SIZE=5000000").await;
    assert!(r.starts_with("552 5.3.4"), "{r}");
    let line = format!("{}\r\n", "o".repeat(998));
    let big = format!("Subject: big\r\n\r\n{}.\r\n", line.repeat(2 << 10));
    for _ in 0..3 {
        start_data(&mut c).await;
        c.send(&big).await;
        assert!(c.reply().await.starts_with("552 5.3.4"));
    }
    transaction(&mut c, &format!("after-oversize-{tag}")).await
}

async fn start_data(c: &mut Conn) {
    c.send("MAIL FROM:<b@gw.example.com>\r\nRCPT TO:<a@example.net>\r\nDATA\r\n")
        .await;
    for want in ["250", "250", "354"] {
        let r = c.reply().await;
        assert!(r.starts_with(want), "{r}");
    }
}

/// One whole copy on an open session; its uid.
async fn transaction(c: &mut Conn, id: &str) -> String {
    start_data(c).await;
    c.send(&format!(
        "{XA}Message-ID: <{id}@abuse.test>\r\nSubject: {id}\r\n\r\nhi\r\n.\r\n"
    ))
    .await;
    let r = c.reply().await;
    let uid = r.strip_prefix("250 2.0.0 Ok: stored as ");
    uid.unwrap_or_else(|| panic!("{id}: {r}")).to_string()
}

/// Thousands of commands in one write; every reply read back.
async fn flood_read(addr: SocketAddr) -> Duration {
    let mut c = connect(addr, 11).await;
    ehlo(&mut c).await;
    let n = 5000;
    c.send(&"NOOP\r\nRSET\r\nVRFY x\r\nBOGUS\r\n".repeat(n / 4))
        .await;
    for i in 0..n {
        let r = c.reply().await;
        let want = ["250", "250", "252", "500"][i % 4];
        assert_eq!(&r[..3], want, "flood reply {i}");
    }
    assert_eq!(&c.cmd("QUIT").await[..3], "221");
    Duration::ZERO
}

/// A million NOOPs and never a reply read: the blocked write times out.
async fn flood_unread(addr: SocketAddr) -> Duration {
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.bind(SocketAddr::from(([127, 0, 0, 12], 0))).unwrap();
    let mut s = sock.connect(addr).await.unwrap();
    let n = 1_000_000;
    let flood = "NOOP\r\n".repeat(n);
    let t0 = Instant::now();
    let (mut rd, mut wr) = s.split();
    let write = tokio::io::AsyncWriteExt::write_all(&mut wr, flood.as_bytes());
    // The write ends when the sensor closes (or, unlikely, all fits).
    let _ = tokio::time::timeout(Duration::from_secs(IDLE + 20), write).await;
    let mut replies = Vec::new();
    let read = rd.read_to_end(&mut replies);
    let _ = tokio::time::timeout(Duration::from_secs(20), read).await;
    let got = replies.iter().filter(|&&b| b == b'\n').count();
    println!(
        "unread flood: closed after {:?}, {got} replies",
        t0.elapsed()
    );
    assert!(got < n, "the sensor served a client that never reads");
    assert!(t0.elapsed() < Duration::from_secs(IDLE + 20));
    Duration::ZERO
}

/// 10,000 RCPT TO: the first 1,000 accepted, the rest 452; copy stored.
async fn many_rcpts(addr: SocketAddr) -> String {
    let mut c = connect(addr, 13).await;
    ehlo(&mut c).await;
    assert_eq!(&c.cmd("MAIL FROM:<m@gw.example.com>").await[..3], "250");
    let mut batch = String::new();
    for i in 0..10_000 {
        batch.push_str(&format!("RCPT TO:<user{i}@example.net>\r\n"));
    }
    c.send(&batch).await;
    for i in 0..10_000 {
        let r = c.reply().await;
        assert_eq!(&r[..3], if i < 1000 { "250" } else { "452" }, "rcpt {i}");
    }
    assert_eq!(&c.cmd("DATA").await[..3], "354");
    c.send(&format!("{XA}Subject: many\r\n\r\nx\r\n.\r\n"))
        .await;
    let r = c.reply().await;
    r.strip_prefix("250 2.0.0 Ok: stored as ")
        .expect(&r)
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abusers_are_cut_off_and_a_good_client_stays_served() {
    raise_nofile(4096);
    let s = TestSensor::with_store(cfg(), StoreOptions::default(), true).await;
    let addr = s.addr;
    let t0 = Instant::now();
    let mut abuse = JoinSet::new();
    for i in 0..CROWD {
        abuse.spawn(crowd_member(addr, i));
    }
    for i in 0..100 {
        abuse.spawn(silent(addr, CROWD + i));
    }
    for in_data in [false, false, true, true] {
        abuse.spawn(slowloris(addr, in_data));
    }
    abuse.spawn(tls_stall(addr, false));
    abuse.spawn(tls_stall(addr, true));
    abuse.spawn(flood_read(addr));
    abuse.spawn(flood_unread(addr));
    let stored = tokio::spawn(async move {
        let (a, b, c) = tokio::join!(oversize(addr, "a"), oversize(addr, "b"), many_rcpts(addr));
        vec![a, b, c]
    });
    // The probe: whole transactions on fresh sessions until the abuse ends.
    let abusing = Arc::new(AtomicBool::new(true));
    let probe = tokio::spawn({
        let abusing = abusing.clone();
        async move {
            let mut lat = Vec::new();
            let mut uids = Vec::new();
            while abusing.load(Ordering::Relaxed) && lat.len() < 10_000 {
                let t = Instant::now();
                let mut c = connect(addr, 1).await;
                ehlo(&mut c).await;
                uids.push(transaction(&mut c, &format!("probe{}", lat.len())).await);
                assert_eq!(&c.cmd("QUIT").await[..3], "221");
                lat.push(t.elapsed());
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            (lat, uids)
        }
    });
    // Abusers return how long their greeting took (0: not measured).
    let mut greeting = Duration::ZERO;
    while let Some(r) = abuse.join_next().await {
        greeting = greeting.max(r.unwrap()); // Err: an abuser's assertion failed
    }
    println!("slowest greeting among 1,100 idle sessions: {greeting:?}");
    let mut expected = stored.await.unwrap();
    abusing.store(false, Ordering::Relaxed);
    let (mut lat, uids) = probe.await.unwrap();
    let wall = t0.elapsed();
    lat.sort();
    let pct = |p: usize| lat[(lat.len() - 1) * p / 100];
    println!(
        "{} probes in {wall:?} under abuse: p50 {:?}, p99 {:?}, max {:?}",
        lat.len(),
        pct(50),
        pct(99),
        pct(100)
    );
    assert!(lat.len() >= 20, "too few probes: {}", lat.len());
    assert!(
        pct(100) < Duration::from_secs(2),
        "probe too slow: {:?}",
        pct(100)
    );
    assert!(
        pct(50) < Duration::from_millis(250),
        "probe p50 {:?}",
        pct(50)
    );
    expected.extend(uids);
    let store = s.stop().await;
    let filter = Filter {
        limit: Some(100_000),
        ..Filter::default()
    };
    let recs = store.query(&filter).unwrap();
    for uid in &expected {
        assert!(recs.iter().any(|r| &r.uid == uid), "{uid} not stored");
    }
    let many = recs.iter().find(|r| r.subject.as_deref() == Some("many"));
    assert_eq!(many.map(|r| r.rcptto.len()), Some(1000));
    // Only the acknowledged copies: nothing from slowloris or oversize.
    assert_eq!(recs.len(), expected.len());
}
