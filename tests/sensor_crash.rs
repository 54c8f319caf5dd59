//! Crash consistency: copies sent concurrently to a real `authsense sensor`
//! process that is killed with SIGKILL mid-stream; after a restart, every
//! copy that got a 250 is in the store, exactly once.

mod common;

use authsense::store::{Filter, Store, StoreOptions};
use common::sensor::{tempdir, Client};
use std::{
    collections::HashSet,
    net::SocketAddr,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start(db: &std::path::Path, port: u16) -> Child {
    let child = Command::new(env!("CARGO_BIN_EXE_authsense"))
        .args([
            "sensor",
            "--db",
            db.to_str().unwrap(),
            "--listen",
            &format!("127.0.0.1:{port}"),
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
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child
}

/// Sends copies until the connection fails; records every acknowledged uid.
async fn sender(addr: SocketAddr, worker: usize, acked: Arc<Mutex<Vec<String>>>) -> Option<()> {
    let stream = tokio::net::TcpStream::connect(addr).await.ok()?;
    let mut c = Client {
        io: tokio::io::BufReader::new(stream),
    };
    c.try_reply().await?;
    c.try_send("EHLO gw.example.com\r\n").await?;
    c.try_reply().await?;
    for i in 0..200 {
        c.try_send(&format!(
            "MAIL FROM:<bounce@gw.example.com>\r\nRCPT TO:<u{worker}@example.net>\r\nDATA\r\n"
        ))
        .await?;
        for _ in 0..3 {
            c.try_reply().await?;
        }
        c.try_send(&format!(
            "X-Agari-Authentication-Results: mx.example.com; spf=pass smtp.mailfrom=a@pass.example smtp.helo=h.example\r\nSubject: w{worker} m{i}\r\n\r\nbody\r\n.\r\n"
        ))
        .await?;
        let r = c.try_reply().await?;
        if let Some(uid) = r.strip_prefix("250 2.0.0 Ok: stored as ") {
            acked.lock().unwrap().push(uid.to_string());
        }
    }
    Some(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loses_nothing_acknowledged() {
    let dir = tempdir("crash");
    let db = dir.join("authsense.db");
    let port = free_port();
    let mut child = start(&db, port).await;
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let acked = Arc::new(Mutex::new(Vec::new()));
    let workers: Vec<_> = (0..16)
        .map(|w| tokio::spawn(sender(addr, w, acked.clone())))
        .collect();
    // Kill once a good number were acknowledged (bounded wait).
    let deadline = Instant::now() + Duration::from_secs(60);
    while acked.lock().unwrap().len() < 300 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    for w in workers {
        let _ = w.await;
    }
    let acked: Vec<String> = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= 300,
        "only {} acknowledged before the deadline",
        acked.len()
    );

    // Restart on the same database: it must open (WAL recovery) and serve.
    let mut child = start(&db, port).await;
    let mut c = Client::connect(addr).await;
    assert!(c.reply().await.starts_with("220"));
    c.cmd("QUIT").await;
    child.kill().unwrap();
    child.wait().unwrap();

    let store = Store::open(&db, StoreOptions::default()).unwrap();
    let recs = store
        .query(&Filter {
            limit: Some(1_000_000),
            ..Filter::default()
        })
        .unwrap();
    let stored: HashSet<&str> = recs.iter().map(|r| r.uid.as_str()).collect();
    assert_eq!(stored.len(), recs.len(), "duplicate uids");
    let missing: Vec<_> = acked
        .iter()
        .filter(|u| !stored.contains(u.as_str()))
        .collect();
    println!(
        "acknowledged {}, stored {}, missing {}",
        acked.len(),
        recs.len(),
        missing.len()
    );
    assert!(missing.is_empty(), "acknowledged but lost: {missing:?}");
    store.close().await.unwrap();
}
