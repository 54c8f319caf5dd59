//! A minimal HTTP/1.1 client for the web tests (one request per
//! connection, bounded in time), and a web server over a test sensor's store.
#![allow(dead_code)] // each test binary uses part of it

use authsense::web::{self, WebState};
use std::{net::SocketAddr, sync::Arc, time::Duration};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A response: status code, lowercased header lines, body.
pub struct Resp {
    pub status: u16,
    pub headers: String,
    pub body: String,
}

impl Resp {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// `GET path` with an optional bearer token, to `Host: <addr>`.
pub async fn get(addr: SocketAddr, path: &str, token: Option<&str>) -> Resp {
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    raw(addr, &format!("Host: {addr}\r\n{auth}"), path).await
}

/// `GET path` with exactly the header lines `headers` (each ending in CRLF;
/// none added but `Connection: close`).
pub async fn raw(addr: SocketAddr, headers: &str, path: &str) -> Resp {
    let req = format!("GET {path} HTTP/1.1\r\n{headers}Connection: close\r\n\r\n");
    let io = async {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(req.as_bytes()).await.unwrap();
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await.unwrap();
        buf
    };
    let buf = tokio::time::timeout(Duration::from_secs(20), io)
        .await
        .expect("HTTP response within 20 s");
    let text = String::from_utf8(buf).expect("UTF-8 response");
    let (head, body) = text.split_once("\r\n\r\n").expect("header end");
    let status = head[9..12].parse().unwrap();
    let headers = head.to_lowercase();
    // Bodies of unknown length arrive chunked: undo that.
    let body = if headers.contains("transfer-encoding: chunked") {
        dechunk(body)
    } else {
        body.to_string()
    };
    Resp {
        status,
        headers,
        body,
    }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        s = &rest[n + 2..];
    }
    out
}

/// Serves the web UI for `store` on 127.0.0.1:0 until the returned sender
/// is dropped or fires.
pub async fn serve(
    store: authsense::store::Store,
    token: Option<&str>,
) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = WebState {
        store,
        access: Arc::new(authsense::swap::Swap::new(web::Access {
            token: token.map(Arc::from),
            hosts: web::host::HostCheck::new(&[], addr),
        })),
        metrics: authsense::metrics::install(),
        milter: false,
        exporter: None,
    };
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(web::serve(listener, state, async move {
        let _ = rx.await;
    }));
    (addr, tx)
}
