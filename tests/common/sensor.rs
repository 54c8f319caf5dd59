//! A sensor on 127.0.0.1:0 with its store in a fresh temporary directory,
//! and a minimal line-based SMTP client for tests.
#![allow(dead_code)]

use super::tempdir::TempDir;
use authsense::{
    config::Config,
    ingest::extract::ExtractOptions,
    sensor::{self, setup, tls, Sensor},
    store::{Store, StoreOptions},
};
use std::{net::SocketAddr, sync::Arc, time::Duration};
use tokio::{
    io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader},
    net::TcpStream,
    sync::oneshot,
    task::JoinHandle,
};

pub struct TestSensor {
    pub addr: SocketAddr,
    pub store: Store,
    pub cert_pem: Option<String>,
    /// The store's directory, removed when the sensor is dropped.
    pub dir: TempDir,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestSensor {
    /// A sensor built from `cfg` (store path forced into a temp dir).
    pub async fn spawn(mut cfg: Config) -> TestSensor {
        let dir = TempDir::new("sensor");
        cfg.store.path = dir.join("authsense.db");
        let built = setup::build(&cfg).unwrap();
        Self::start(built.sensor, built.self_signed_pem, dir).await
    }

    /// A sensor over an explicitly opened store (e.g. with a tiny size cap).
    pub async fn with_store(cfg: Config, opts: StoreOptions, self_signed: bool) -> TestSensor {
        let dir = TempDir::new("sensor");
        let store = Store::open(&dir.join("authsense.db"), opts).unwrap();
        let (acceptor, pem) = if self_signed {
            let (a, p) = tls::self_signed("sensor.test").unwrap();
            (Some(a), Some(p))
        } else {
            (None, None)
        };
        let extract = ExtractOptions {
            trusted_authserv_ids: vec!["mx.example.com".into()],
            ..ExtractOptions::default()
        };
        let s = Arc::new(Sensor::new(
            cfg.sensor.clone(),
            "sensor.test".into(),
            acceptor,
            store,
            extract,
        ));
        Self::start(s, pem, dir).await
    }

    async fn start(s: Arc<Sensor>, cert_pem: Option<String>, dir: TempDir) -> TestSensor {
        // A deep accept queue: the abuse test connects 1,100 sessions within
        // a second (tokio's default backlog is 1,024).
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(([127, 0, 0, 1], 0).into()).unwrap();
        let listener = socket.listen(4096).unwrap();
        let addr = listener.local_addr().unwrap();
        let store = s.store.clone();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(sensor::run(listener, s, async move {
            let _ = rx.await;
        }));
        TestSensor {
            addr,
            store,
            cert_pem,
            dir,
            stop: Some(tx),
            task: Some(task),
        }
    }

    /// Stops the sensor; its store (and directory) stay for the checks.
    pub async fn stop(mut self) -> Stopped {
        let _ = self.stop.take().unwrap().send(());
        self.task.take().unwrap().await.unwrap().unwrap();
        Stopped {
            store: self.store.clone(),
            dir: self.dir,
        }
    }
}

/// A stopped [`TestSensor`]'s store, used as a [`Store`]; its directory
/// is removed when this is dropped.
pub struct Stopped {
    pub store: Store,
    pub dir: TempDir,
}

impl std::ops::Deref for Stopped {
    type Target = Store;

    fn deref(&self) -> &Store {
        &self.store
    }
}

/// A test SMTP client: writes raw bytes, reads replies (multi-line aware).
pub struct Client<S> {
    pub io: BufReader<S>,
}

impl Client<TcpStream> {
    pub async fn connect(addr: SocketAddr) -> Client<TcpStream> {
        Client {
            io: BufReader::new(TcpStream::connect(addr).await.unwrap()),
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Client<S> {
    pub fn new(io: S) -> Self {
        Client {
            io: BufReader::new(io),
        }
    }

    pub async fn send(&mut self, bytes: &str) {
        self.io.get_mut().write_all(bytes.as_bytes()).await.unwrap();
    }

    pub async fn send_bytes(&mut self, bytes: &[u8]) {
        self.io.get_mut().write_all(bytes).await.unwrap();
    }

    /// One complete reply (all its lines), e.g. "250-a\r\n250 b".
    pub async fn reply(&mut self) -> String {
        self.try_reply()
            .await
            .expect("connection closed or timed out")
    }

    /// A reply, or None if the connection ended (or 20 s passed).
    pub async fn try_reply(&mut self) -> Option<String> {
        let mut all = String::new();
        loop {
            let mut line = String::new();
            let n = tokio::time::timeout(Duration::from_secs(20), self.io.read_line(&mut line))
                .await
                .ok()?
                .ok()?;
            if n == 0 {
                return None;
            }
            all.push_str(&line);
            if line.len() < 4 || line.as_bytes()[3] != b'-' {
                return Some(all.trim_end().to_string());
            }
        }
    }

    /// Writes, or None if the connection is gone.
    pub async fn try_send(&mut self, bytes: &str) -> Option<()> {
        self.io.get_mut().write_all(bytes.as_bytes()).await.ok()
    }

    /// Sends a command and returns the reply code.
    pub async fn cmd(&mut self, line: &str) -> String {
        self.send(&format!("{line}\r\n")).await;
        self.reply().await
    }

    pub fn into_inner(self) -> S {
        self.io.into_inner()
    }
}

/// A small message with the given extra headers.
pub fn message(headers: &str, subject: &str) -> String {
    format!(
        "{headers}Received: from mail.pass.example (mail.pass.example [192.0.2.10])\r\n\tby mx.example.com (Postfix) with ESMTP id ABC\r\n\tfor <rcpt@example.net>; Fri, 27 Nov 2026 10:00:00 +0000\r\nFrom: Alice <alice@pass.example>\r\nTo: rcpt@example.net\r\nSubject: {subject}\r\nMessage-ID: <{subject}@pass.example>\r\nDate: Fri, 27 Nov 2026 10:00:00 +0000\r\n\r\nHello.\r\n.. a dot-stuffed line\r\n"
    )
}
