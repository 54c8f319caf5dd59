//! The sensor and its web UI across reloads: the allow list and trusted
//! authserv-ids (a copy in progress finishes with the settings it started
//! with, the session is not dropped), a renewed TLS certificate seen by the
//! next STARTTLS, the web token, and invalid files refused.

use super::common::sensor::{message, Client};
use super::ConfigFile;
use authsense::model::Record;
use authsense::reload::{Reloader, Targets};
use authsense::sensor::{self, setup};
use authsense::store::{Filter, Store};
use std::{net::SocketAddr, path::Path, sync::Arc};
use tokio::net::{TcpSocket, TcpStream};
use tokio_rustls::rustls;

const XA: &str = "X-Agari-Authentication-Results: mx.example.com; spf=pass smtp.mailfrom=alice@pass.example smtp.helo=mail.pass.example\r\n";

/// A sensor (and web UI) on 127.0.0.1:0 built from `file`, and its
/// reloader.
pub struct LiveSensor {
    pub addr: SocketAddr,
    web: Option<SocketAddr>,
    pub store: Store,
    pub reloader: Reloader,
    pub stop: tokio::sync::watch::Sender<bool>,
}

pub async fn live_sensor(file: &ConfigFile) -> LiveSensor {
    let db = file.path.with_file_name("authsense.db");
    let load = file.loader(move |c| {
        c.store.path = db.clone();
        c.sensor.listen = "127.0.0.1:0".parse().unwrap();
        c.web.listen = "127.0.0.1:0".parse().unwrap();
    });
    let cfg = load().unwrap();
    let built = setup::build(&cfg).unwrap();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let web_listener = authsense::web::bind(&cfg.web).await.unwrap();
    let web = authsense::web::spawn(
        &cfg.web,
        web_listener,
        built.sensor.store.clone(),
        false,
        None,
        stopped.clone(),
    )
    .await;
    let listener = sensor::listen(cfg.sensor.listen, 16).unwrap();
    let addr = listener.local_addr().unwrap();
    let targets = Targets {
        sensor: Some(built.sensor.clone()),
        web: web.as_ref().map(|w| (w.access.clone(), w.addr)),
        ..Targets::default()
    };
    let mut until = stopped;
    tokio::spawn(sensor::run(listener, built.sensor.clone(), async move {
        let _ = until.wait_for(|v| *v).await;
    }));
    LiveSensor {
        addr,
        web: web.map(|w| w.addr),
        store: built.sensor.store.clone(),
        reloader: Reloader::new(load, cfg, targets, built.alerts),
        stop,
    }
}

/// A client connected from `from` (a loopback address), past the greeting
/// or with the refusal.
pub async fn connect_from(addr: SocketAddr, from: [u8; 4]) -> (Client<TcpStream>, String) {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind((from, 0).into()).unwrap();
    let mut c = Client::new(socket.connect(addr).await.unwrap());
    let greeting = c.reply().await;
    (c, greeting)
}

/// EHLO, MAIL, RCPT, DATA.
pub async fn start_copy<S>(c: &mut Client<S>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    assert!(c.cmd("EHLO gw.example.com").await.starts_with("250"));
    start_transaction(c).await;
}

pub async fn start_transaction<S>(c: &mut Client<S>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    assert_eq!(&c.cmd("MAIL FROM:<b@gw.example.com>").await[..3], "250");
    assert_eq!(&c.cmd("RCPT TO:<a@example.net>").await[..3], "250");
    assert_eq!(&c.cmd("DATA").await[..3], "354");
}

pub fn record(store: &Store, subject: &str) -> Record {
    let all = store.query(&Filter::default()).unwrap();
    let mine: Vec<Record> = all
        .into_iter()
        .filter(|r| r.subject.as_deref() == Some(subject))
        .collect();
    assert_eq!(mine.len(), 1, "one record with subject {subject}");
    mine.into_iter().next().unwrap()
}

const ALLOW_2: &str =
    "[sensor]\nallow = [\"127.0.0.2/32\"]\ntrusted_authserv_ids = [\"mx.example.com\"]\n";
const ALLOW_1: &str =
    "[sensor]\nallow = [\"127.0.0.1/32\"]\ntrusted_authserv_ids = [\"other.example\"]\n";

#[tokio::test]
async fn sensor_allow_list_and_trust_change_without_dropping_a_copy() {
    let file = ConfigFile::new("reload-sensor", ALLOW_2);
    let mut s = live_sensor(&file).await;
    let (mut a, greeting) = connect_from(s.addr, [127, 0, 0, 2]).await;
    assert!(greeting.starts_with("220"), "{greeting}");
    let (_, refused) = connect_from(s.addr, [127, 0, 0, 1]).await;
    assert!(refused.starts_with("554"), "{refused}");
    // A copy in progress: the first half of its data.
    start_copy(&mut a).await;
    let text = message(XA, "in-progress");
    let (head, tail) = text.split_at(text.len() / 2);
    a.send(head).await;
    file.write(ALLOW_1);
    let mut report = s.reloader.reload().unwrap();
    report.changed.sort();
    assert_eq!(
        report.changed,
        ["sensor.allow", "sensor.trusted_authserv_ids"]
    );
    a.send(&format!("{tail}.\r\n")).await;
    assert!(a.reply().await.starts_with("250 2.0.0 Ok: stored as"));
    let r = record(&s.store, "in-progress");
    assert_eq!(r.auth.source.as_str(), "x-agari", "old trust: {:?}", r.auth);
    // The same session goes on (not dropped); its next copy is judged
    // with the new settings: mx.example.com is no longer trusted.
    start_transaction(&mut a).await;
    a.send(&format!("{}.\r\n", message(XA, "after"))).await;
    assert!(a.reply().await.starts_with("250 2.0.0 Ok: stored as"));
    let r = record(&s.store, "after");
    assert_eq!(r.auth.source.as_str(), "none", "{:?}", r.auth);
    assert_eq!(r.auth.untrusted_ids, ["mx.example.com"]);
    // New connections: the new allow list.
    let (_, greeting) = connect_from(s.addr, [127, 0, 0, 1]).await;
    assert!(greeting.starts_with("220"), "{greeting}");
    let (_, refused) = connect_from(s.addr, [127, 0, 0, 2]).await;
    assert!(refused.starts_with("554"), "{refused}");
    // An invalid file is refused; the allow list in force stays.
    file.write("[sensor]\nallow = [\"127.0.0.1/32\"]\nsealed_gateways = [\"127.0.0.1/32\"]\n");
    let e = s.reloader.reload().unwrap_err();
    assert!(e.contains("sealed_gateways needs [seal] key_file"), "{e}");
    file.write("[sensor]\nallow = \"127.0.0.2\"\n");
    let e = s.reloader.reload().unwrap_err();
    assert!(e.contains("allow") && e.contains("line 2"), "{e}");
    let (_, greeting) = connect_from(s.addr, [127, 0, 0, 1]).await;
    assert!(greeting.starts_with("220"), "still in force: {greeting}");
    assert!(a.cmd("QUIT").await.starts_with("221"));
    let _ = s.stop.send(true);
}

/// A certificate and key for `sensor.test`, written to `dir`; the DER.
fn write_cert(dir: &Path) -> Vec<u8> {
    let ck = rcgen::generate_simple_self_signed(vec!["sensor.test".to_string()]).unwrap();
    std::fs::write(dir.join("cert.pem"), ck.cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), ck.signing_key.serialize_pem()).unwrap();
    ck.cert.der().to_vec()
}

/// STARTTLS accepting any of `roots`; the certificate the server showed,
/// and the TLS client.
async fn starttls(
    addr: SocketAddr,
    roots: &[Vec<u8>],
) -> (Vec<u8>, Client<tokio_rustls::client::TlsStream<TcpStream>>) {
    let (mut c, greeting) = connect_from(addr, [127, 0, 0, 1]).await;
    assert!(greeting.starts_with("220"));
    assert!(c.cmd("EHLO gw.example.com").await.contains("STARTTLS"));
    assert!(c.cmd("STARTTLS").await.starts_with("220"));
    let mut store = rustls::RootCertStore::empty();
    for der in roots {
        store.add(der.clone().into()).unwrap();
    }
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(store)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let name = rustls_pki_types::ServerName::try_from("sensor.test").unwrap();
    let tls = connector.connect(name, c.into_inner()).await.unwrap();
    let seen = tls.get_ref().1.peer_certificates().unwrap()[0].to_vec();
    (seen, Client::new(tls))
}

#[tokio::test]
async fn sensor_renewed_certificate_is_used_by_new_sessions() {
    let dir = super::common::tempdir::TempDir::new("reload-tls");
    let one = write_cert(&dir);
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let text = format!(
        "[sensor]\nallow = [\"127.0.0.1/32\"]\ntrusted_authserv_ids = [\"mx.example.com\"]\n\
         tls_cert = {:?}\ntls_key = {:?}\n",
        cert.display().to_string(),
        key.display().to_string()
    );
    let file = ConfigFile::new("reload-tls-conf", &text);
    let mut s = live_sensor(&file).await;
    let (seen, mut before) = starttls(s.addr, std::slice::from_ref(&one)).await;
    assert_eq!(seen, one);
    // The certificate is renewed on disk, then SIGHUP.
    let two = write_cert(&dir);
    assert_ne!(one, two);
    let report = s.reloader.reload().unwrap();
    assert_eq!(
        report.changed,
        [
            "sensor.tls_cert (file contents)",
            "sensor.tls_key (file contents)"
        ]
    );
    let (seen, mut after) = starttls(s.addr, &[one.clone(), two.clone()]).await;
    assert_eq!(seen, two, "a new STARTTLS session sees the new certificate");
    // The session that began with the old certificate is not dropped.
    for (c, subject) in [(&mut before, "old-tls"), (&mut after, "new-tls")] {
        assert!(c.cmd("EHLO gw.example.com").await.starts_with("250"));
        start_transaction(c).await;
        c.send(&format!("{}.\r\n", message(XA, subject))).await;
        assert!(c.reply().await.starts_with("250 2.0.0 Ok: stored as"));
        assert!(record(&s.store, subject).gateway.tls);
    }
    // A broken key file is refused; the certificate in force stays.
    std::fs::write(&key, "not a key\n").unwrap();
    let e = s.reloader.reload().unwrap_err();
    assert!(e.contains(&key.display().to_string()), "{e}");
    let (seen, _) = starttls(s.addr, &[one, two.clone()]).await;
    assert_eq!(seen, two);
    let _ = s.stop.send(true);
}

#[tokio::test]
async fn web_token_changes_for_the_next_request() {
    let file = ConfigFile::new("reload-web", "[web]\ntoken = \"first-token\"\n");
    let mut s = live_sensor(&file).await;
    let web = s.web.expect("web UI started");
    let get = |t: &'static str| super::http::get(web, "/api/status", Some(t));
    assert_eq!(get("first-token").await.status, 200);
    file.write("[web]\ntoken = \"second-token\"\n");
    assert_eq!(s.reloader.reload().unwrap().changed, ["web.token"]);
    assert_eq!(get("first-token").await.status, 401);
    assert_eq!(get("second-token").await.status, 200);
    // Turning the web UI off needs a restart: named, not applied.
    file.write("[web]\ntoken = \"second-token\"\nenabled = false\n");
    let report = s.reloader.reload().unwrap();
    assert!(report.changed.is_empty(), "{report:?}");
    assert_eq!(report.restart_needed, ["web.enabled"]);
    assert_eq!(get("second-token").await.status, 200);
    let _ = s.stop.send(true);
}
