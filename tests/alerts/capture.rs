//! A capture SMTP server on 127.0.0.1:0 for alert tests: accepts every
//! message (EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT) and keeps it in
//! memory. Sessions end after 30 s; a test waits a bounded time for mail.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// One captured message.
#[derive(Debug, Clone, Default)]
pub struct Mail {
    pub from: String,
    pub rcpts: Vec<String>,
    /// Headers and body, dot-unstuffed, CRLF line ends.
    pub data: String,
}

impl Mail {
    /// The header as received and the body decoded from quoted-printable
    /// when it is so encoded (lettre picks it for lines over 76 octets).
    pub fn text(&self) -> String {
        let (head, body) = self.data.split_once("\r\n\r\n").unwrap_or((&self.data, ""));
        if !head
            .to_ascii_lowercase()
            .contains("content-transfer-encoding: quoted-printable")
        {
            return self.data.clone();
        }
        let soft = body.replace("=\r\n", "");
        let b = soft.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok());
            match (b[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
                (b'=', Some(v)) => {
                    out.push(v);
                    i += 3;
                }
                (c, _) => {
                    out.push(c);
                    i += 1;
                }
            }
        }
        format!("{head}\r\n\r\n{}", String::from_utf8_lossy(&out))
    }

    /// The decoded `Subject:` header (unfolded; lettre encodes non-ASCII).
    pub fn subject(&self) -> String {
        let head = self.data.split("\r\n\r\n").next().unwrap_or("");
        let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
        unfolded
            .lines()
            .find_map(|l| l.strip_prefix("Subject: "))
            .unwrap_or("")
            .to_string()
    }
}

pub struct Capture {
    pub addr: SocketAddr,
    pub mails: Arc<Mutex<Vec<Mail>>>,
    task: JoinHandle<()>,
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Capture {
    pub async fn start() -> Capture {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mails = Arc::new(Mutex::new(Vec::new()));
        let m = mails.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let m = m.clone();
                tokio::spawn(async move {
                    let _ = tokio::time::timeout(Duration::from_secs(30), session(stream, m)).await;
                });
            }
        });
        Capture { addr, mails, task }
    }

    /// `relay` value for `[alerts]`.
    pub fn relay(&self) -> String {
        self.addr.to_string()
    }

    pub fn all(&self) -> Vec<Mail> {
        self.mails.lock().unwrap().clone()
    }

    /// Waits (at most `limit`) until `n` mails arrived; returns them all.
    pub async fn wait_for(&self, n: usize, limit: Duration) -> Vec<Mail> {
        let start = tokio::time::Instant::now();
        while self.all().len() < n && start.elapsed() < limit {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.all()
    }
}

async fn session(stream: TcpStream, mails: Arc<Mutex<Vec<Mail>>>) -> std::io::Result<()> {
    let mut io = BufReader::new(stream);
    io.get_mut()
        .write_all(b"220 capture.test ESMTP\r\n")
        .await?;
    let mut cur = Mail::default();
    let mut line = String::new();
    loop {
        line.clear();
        if io.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let cmd = line.trim_end().to_ascii_uppercase();
        let reply: &[u8] = if cmd.starts_with("EHLO") {
            b"250-capture.test\r\n250 8BITMIME\r\n"
        } else if cmd.starts_with("MAIL FROM:") {
            cur = Mail {
                from: line.trim_end()[10..].to_string(),
                ..Mail::default()
            };
            b"250 ok\r\n"
        } else if cmd.starts_with("RCPT TO:") {
            cur.rcpts.push(line.trim_end()[8..].to_string());
            b"250 ok\r\n"
        } else if cmd == "DATA" {
            io.get_mut().write_all(b"354 go\r\n").await?;
            loop {
                line.clear();
                if io.read_line(&mut line).await? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" || line == ".\n" {
                    break;
                }
                let l = line.strip_prefix('.').unwrap_or(&line);
                cur.data.push_str(l);
            }
            mails.lock().unwrap().push(std::mem::take(&mut cur));
            b"250 queued\r\n"
        } else if cmd == "QUIT" {
            io.get_mut().write_all(b"221 bye\r\n").await?;
            return Ok(());
        } else {
            b"250 ok\r\n"
        };
        io.get_mut().write_all(reply).await?;
    }
}
