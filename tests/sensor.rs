//! The sensor over real SMTP: pipelining, STARTTLS with a Rust client and
//! with swaks, require_tls, the allowlist, size limits, odd input, many
//! recipients, bad commands, and store failure → 451. Every accepted copy is
//! checked in the store.

mod common;

use authsense::config::Config;
use authsense::store::{Filter, StoreOptions};
use common::sensor::{message, Client, TestSensor};
use std::{process::Command, sync::Arc};
use tokio_rustls::rustls;

const XA: &str = "X-Agari-Authentication-Results: mx.example.com; spf=pass smtp.mailfrom=alice@pass.example smtp.helo=mail.pass.example\r\n";

fn cfg() -> Config {
    let mut c = Config::default();
    c.sensor.trusted_authserv_ids = vec!["mx.example.com".into()];
    c
}

fn all(store: &authsense::store::Store) -> Vec<authsense::model::Record> {
    store
        .query(&Filter {
            limit: Some(100_000),
            ..Filter::default()
        })
        .unwrap()
}

/// A sensor from `c0` and a client past the greeting and EHLO.
async fn open(c0: Config) -> (TestSensor, Client<tokio::net::TcpStream>) {
    let s = TestSensor::spawn(c0).await;
    let mut c = Client::connect(s.addr).await;
    c.reply().await;
    ehlo(&mut c).await;
    (s, c)
}

/// MAIL, RCPT and DATA for one recipient, expecting the 354.
async fn start_data(c: &mut Client<tokio::net::TcpStream>) {
    assert_eq!(&c.cmd("MAIL FROM:<b@gw.example.com>").await[..3], "250");
    assert_eq!(&c.cmd("RCPT TO:<a@example.net>").await[..3], "250");
    assert_eq!(&c.cmd("DATA").await[..3], "354");
}

async fn ehlo<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    c: &mut Client<S>,
) -> String {
    let r = c.cmd("EHLO gw.example.com").await;
    assert!(r.starts_with("250-"), "{r}");
    r
}

#[tokio::test]
async fn ehlo_advertises_the_extensions() {
    let s = TestSensor::spawn(cfg()).await;
    let mut c = Client::connect(s.addr).await;
    assert!(c.reply().await.starts_with("220 "));
    let r = ehlo(&mut c).await;
    for ext in [
        "PIPELINING",
        "SIZE 67108864",
        "8BITMIME",
        "SMTPUTF8",
        "ENHANCEDSTATUSCODES",
    ] {
        assert!(r.contains(ext), "{ext} missing: {r}");
    }
    assert!(!r.contains("STARTTLS") && !r.contains("AUTH"), "{r}");
    assert_eq!(&c.cmd("QUIT").await[..3], "221");
    s.stop().await;
}

#[tokio::test]
async fn pipelined_transactions_are_all_stored() {
    let (s, mut c) = open(cfg()).await;
    // RFC 2920: MAIL, RCPT, RCPT, DATA in one write.
    c.send("MAIL FROM:<bounce@gw.example.com>\r\nRCPT TO:<a@example.net>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n").await;
    for want in ["250", "250", "250", "354"] {
        assert_eq!(&c.reply().await[..3], want);
    }
    // The message, its end, and the whole next transaction in one write.
    let m2 = message(XA, "second");
    c.send(&format!(
        "{}.\r\nMAIL FROM:<bounce@gw.example.com>\r\nRCPT TO:<c@example.net>\r\nDATA\r\n",
        message(XA, "first")
    ))
    .await;
    for want in ["250", "250", "250", "354"] {
        assert_eq!(&c.reply().await[..3], want);
    }
    c.send(&format!("{m2}.\r\nQUIT\r\n")).await;
    assert_eq!(&c.reply().await[..3], "250");
    assert_eq!(&c.reply().await[..3], "221");
    let store = s.stop().await;
    let mut recs = all(&store);
    recs.sort_by_key(|r| r.id);
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0].rcptto, ["a@example.net", "b@example.net"]);
    assert_eq!(recs[0].subject.as_deref(), Some("first"));
    assert_eq!(recs[1].rcptto, ["c@example.net"]);
    assert_eq!(recs[0].mailfrom, "bounce@gw.example.com");
    assert_eq!(recs[0].auth.spf.as_ref().unwrap().result, "pass");
    assert_eq!(
        recs[0].original.mailfrom.as_deref(),
        Some("alice@pass.example")
    );
}

fn client_config(pem: &str) -> Arc<rustls::ClientConfig> {
    use rustls_pki_types::{pem::PemObject, CertificateDer};
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(pem.as_bytes()).unwrap())
        .unwrap();
    Arc::new(
        rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

#[tokio::test]
async fn starttls_then_mail() {
    let mut c0 = cfg();
    c0.sensor.self_signed = true;
    c0.sensor.hostname = Some("sensor.test".into());
    let s = TestSensor::spawn(c0).await;
    let mut c = Client::connect(s.addr).await;
    c.reply().await;
    assert!(ehlo(&mut c).await.contains("STARTTLS"));
    // Plaintext pipelined after STARTTLS must be discarded (RFC 3207 §4.2).
    c.send("STARTTLS\r\nMAIL FROM:<injected@evil.example>\r\n")
        .await;
    assert_eq!(&c.reply().await[..3], "220");
    let connector = tokio_rustls::TlsConnector::from(client_config(s.cert_pem.as_ref().unwrap()));
    let name = rustls_pki_types::ServerName::try_from("sensor.test").unwrap();
    let tls = connector.connect(name, c.into_inner()).await.unwrap();
    let mut c = Client::new(tls);
    let r = ehlo(&mut c).await;
    assert!(!r.contains("STARTTLS"), "not offered twice: {r}");
    // The injected MAIL was not acted on: this MAIL is not "nested".
    assert_eq!(
        &c.cmd("MAIL FROM:<bounce@gw.example.com>").await[..3],
        "250"
    );
    assert_eq!(&c.cmd("RCPT TO:<a@example.net>").await[..3], "250");
    assert_eq!(&c.cmd("DATA").await[..3], "354");
    c.send(&format!("{}.\r\n", message(XA, "tls"))).await;
    assert_eq!(&c.reply().await[..3], "250");
    assert_eq!(&c.cmd("STARTTLS").await[..3], "503");
    c.cmd("QUIT").await;
    let store = s.stop().await;
    let recs = all(&store);
    assert_eq!(recs.len(), 1);
    assert!(recs[0].gateway.tls);
    assert!(recs[0]
        .gateway
        .tls_version
        .as_deref()
        .unwrap()
        .starts_with("TLSv1_"));
    assert!(recs[0].gateway.tls_cipher.is_some());
}

#[tokio::test]
async fn require_tls_refuses_plaintext_mail() {
    let mut c0 = cfg();
    c0.sensor.self_signed = true;
    c0.sensor.require_tls = true;
    let (s, mut c) = open(c0).await;
    let r = c.cmd("MAIL FROM:<bounce@gw.example.com>").await;
    assert!(r.starts_with("530 5.7.0"), "{r}");
    c.cmd("QUIT").await;
    assert!(all(&s.stop().await.store).is_empty());
}

#[tokio::test]
async fn allowlist_refuses_other_gateways() {
    let mut c0 = cfg();
    c0.sensor.allow = vec!["192.0.2.0/24".parse().unwrap()];
    let s = TestSensor::spawn(c0).await;
    let mut c = Client::connect(s.addr).await;
    let r = c.reply().await;
    assert!(r.starts_with("554 5.7.1 127.0.0.1 is not allowed"), "{r}");
    s.stop().await;
}

use common::log::Log;

#[tokio::test]
async fn refused_connections_are_logged_once_per_address_per_interval() {
    // The test runtime has one thread: every task logs to this subscriber.
    let log = Log::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let mut c0 = cfg();
    c0.sensor.allow = vec!["192.0.2.0/24".parse().unwrap()];
    let s = TestSensor::spawn(c0).await;
    for _ in 0..25 {
        let mut c = Client::connect(s.addr).await;
        assert!(c.reply().await.starts_with("554 5.7.1"));
    }
    s.stop().await;
    let text = log.text();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("connection refused"))
        .collect();
    assert_eq!(lines.len(), 1, "{text}");
    assert!(
        lines[0].contains("ip=127.0.0.1") && lines[0].contains("refusals=1"),
        "{}",
        lines[0]
    );
}

#[tokio::test]
async fn oversize_is_refused_without_ending_the_session() {
    let mut c0 = cfg();
    c0.sensor.max_message_size = 2000;
    let (s, mut c) = open(c0).await;
    assert!(c
        .cmd("MAIL FROM:<b@gw.example.com> SIZE=5000")
        .await
        .starts_with("552 5.3.4"));
    assert_eq!(&c.cmd("MAIL FROM:<b@gw.example.com>").await[..3], "250");
    c.cmd("RCPT TO:<a@example.net>").await;
    assert_eq!(&c.cmd("DATA").await[..3], "354");
    let body = format!(
        "Subject: big\r\n\r\n{}",
        format!("{}\r\n", "y".repeat(70)).repeat(100)
    );
    c.send(&format!("{body}.\r\n")).await;
    assert!(c.reply().await.starts_with("552 5.3.4"));
    // Same session, a message that fits.
    start_data(&mut c).await;
    c.send("Subject: small\r\n\r\nok\r\n.\r\n").await;
    assert_eq!(&c.reply().await[..3], "250");
    c.cmd("QUIT").await;
    let recs = all(&s.stop().await.store);
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].subject.as_deref(), Some("small"));
}

#[tokio::test]
async fn bare_lf_nul_and_8bit_are_tolerated_and_counted() {
    let (s, mut c) = open(cfg()).await;
    start_data(&mut c).await;
    let mut m = Vec::new();
    m.extend_from_slice(b"Subject: odd\nX-Name: J\xc3\xbcrgen \xff\r\nFrom: a@example.org\r\n\r\nline with NUL \0 here\nbare lf line\r\n.\nnot the end\r\n");
    m.extend_from_slice(b".\r\n");
    c.send_bytes(&m).await;
    let r = c.reply().await;
    assert_eq!(&r[..3], "250", "{r}");
    c.cmd("QUIT").await;
    let recs = all(&s.stop().await.store);
    assert_eq!(recs.len(), 1);
    let a = &recs[0].anomalies;
    assert!(a.bare_lf >= 3, "{a:?}");
    assert_eq!(a.nul, 1, "{a:?}");
    assert!(a.eight_bit_headers >= 1, "{a:?}");
}

#[tokio::test]
async fn many_recipients_and_the_cap() {
    let mut c0 = cfg();
    c0.sensor.max_recipients = 150;
    let (s, mut c) = open(c0).await;
    c.cmd("MAIL FROM:<b@gw.example.com>").await;
    let mut batch = String::new();
    for i in 0..151 {
        batch.push_str(&format!("RCPT TO:<user{i}@example.net>\r\n"));
    }
    c.send(&batch).await;
    for i in 0..151 {
        let r = c.reply().await;
        let want = if i < 150 { "250" } else { "452" };
        assert_eq!(&r[..3], want, "rcpt {i}: {r}");
    }
    c.cmd("DATA").await;
    c.send(&format!("{}.\r\n", message(XA, "many"))).await;
    assert_eq!(&c.reply().await[..3], "250");
    c.cmd("QUIT").await;
    let recs = all(&s.stop().await.store);
    assert_eq!(recs[0].rcptto.len(), 150);
}

#[tokio::test]
async fn bad_commands_get_5xx_and_the_session_goes_on() {
    let s = TestSensor::spawn(cfg()).await;
    let mut c = Client::connect(s.addr).await;
    c.reply().await;
    assert!(
        c.cmd("MAIL FROM:<a@b.example>").await.starts_with("503"),
        "MAIL before EHLO"
    );
    ehlo(&mut c).await;
    assert!(c.cmd("FROB").await.starts_with("500"));
    assert!(c.cmd("RCPT TO:<a@example.net>").await.starts_with("503"));
    assert!(c.cmd("DATA").await.starts_with("503"));
    assert!(c.cmd("MAIL FROM:no-brackets here").await.starts_with("501"));
    assert!(c
        .cmd(&format!("NOOP {}", "x".repeat(600)))
        .await
        .starts_with("500 5.5.2 Line too long"));
    assert!(c
        .cmd("AUTH PLAIN AGJvYgBzZWNyZXQ=")
        .await
        .starts_with("502"));
    assert_eq!(&c.cmd("MAIL FROM:<>").await[..3], "250");
    assert!(
        c.cmd("MAIL FROM:<>").await.starts_with("503"),
        "nested MAIL"
    );
    assert!(c.cmd("DATA").await.starts_with("554"), "no recipients");
    assert_eq!(&c.cmd("RSET").await[..3], "250");
    assert_eq!(&c.cmd("NOOP").await[..3], "250");
    assert_eq!(&c.cmd("VRFY postmaster").await[..3], "252");
    assert_eq!(&c.cmd("QUIT").await[..3], "221");
    s.stop().await;
}

#[tokio::test]
async fn store_failure_answers_451_and_never_5xx() {
    let opts = StoreOptions {
        max_db_bytes: Some(64 * 1024),
        ..StoreOptions::default()
    };
    let s = TestSensor::with_store(cfg(), opts, false).await;
    let mut c = Client::connect(s.addr).await;
    c.reply().await;
    ehlo(&mut c).await;
    let filler = "z".repeat(900);
    let mut stored = 0;
    let mut refused = 0;
    for i in 0..400 {
        start_data(&mut c).await;
        c.send(&format!("{XA}Subject: fill {i} {filler}\r\n\r\nx\r\n.\r\n"))
            .await;
        let r = c.reply().await;
        match &r[..3] {
            "250" => stored += 1,
            "451" => {
                assert!(r.starts_with("451 4.3.0"), "{r}");
                refused += 1;
                if refused == 3 {
                    break;
                }
            }
            _ => panic!("unexpected reply {r}"),
        }
    }
    assert!(refused == 3, "the store never filled up ({stored} stored)");
    // The session is still usable.
    assert_eq!(&c.cmd("NOOP").await[..3], "250");
    c.cmd("QUIT").await;
    assert_eq!(all(&s.stop().await.store).len(), stored);
}

#[tokio::test]
async fn swaks_plain_pipelined_and_tls() {
    let mut c0 = cfg();
    c0.sensor.self_signed = true;
    let s = TestSensor::spawn(c0).await;
    let port = s.addr.port().to_string();
    let runs: [&[&str]; 3] = [&[], &["--pipeline"], &["--tls"]];
    for extra in runs {
        let port = port.clone();
        let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        let args = extra.clone();
        let out = tokio::task::spawn_blocking(move || {
            Command::new("swaks")
                .args(["--server", "127.0.0.1", "--port", &port, "--helo", "gw.example.com"])
                .args(["--from", "bounce@gw.example.com", "--to", "a@example.net,b@example.net"])
                .args(["--header", "X-Agari-Authentication-Results: mx.example.com; spf=softfail smtp.mailfrom=x@softfail.example smtp.helo=h.example"])
                .args(["--header", "Subject: swaks"])
                .args(&args)
                .output()
                .expect("swaks (postfix-test/install-deps installs it)")
        })
        .await
        .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "swaks {extra:?} failed: {text}");
    }
    let recs = all(&s.stop().await.store);
    assert_eq!(recs.len(), 3);
    assert_eq!(recs.iter().filter(|r| r.gateway.tls).count(), 1);
    for r in &recs {
        assert_eq!(r.rcptto, ["a@example.net", "b@example.net"]);
        assert_eq!(r.auth.spf.as_ref().unwrap().result, "softfail");
        assert_eq!(r.original.mailfrom.as_deref(), Some("x@softfail.example"));
    }
}

#[tokio::test]
async fn full_spool_defers_with_452_and_recovers() {
    // The spool is shared by all sessions; a copy larger than the spool
    // itself cannot be configured (setup refuses it), so fill it from two.
    let mut c0 = cfg();
    c0.sensor.spool_mb = 1;
    c0.sensor.max_message_size = 1 << 20;
    let (s, mut a) = open(c0).await;
    // A declares 900 kB: reserved at MAIL.
    assert_eq!(
        &a.cmd("MAIL FROM:<b@gw.example.com> SIZE=900000").await[..3],
        "250"
    );
    // B declares nothing and streams 300 kB: the spool runs out mid-copy.
    let mut b = Client::connect(s.addr).await;
    b.reply().await;
    ehlo(&mut b).await;
    start_data(&mut b).await;
    let line = format!("{}\r\n", "q".repeat(998));
    b.send(&format!("Subject: big\r\n\r\n{}.\r\n", line.repeat(300)))
        .await;
    let r = b.reply().await;
    assert!(r.starts_with("452 4.3.1"), "{r}");
    // A gives its reservation back: B's next copy goes through.
    assert_eq!(&a.cmd("RSET").await[..3], "250");
    start_data(&mut b).await;
    b.send("Subject: small\r\n\r\nok\r\n.\r\n").await;
    assert_eq!(&b.reply().await[..3], "250");
    b.cmd("QUIT").await;
    a.cmd("QUIT").await;
    assert_eq!(all(&s.stop().await.store).len(), 1);
}

#[tokio::test]
async fn per_ip_session_cap() {
    let mut c0 = cfg();
    c0.sensor.max_sessions_per_ip = 2;
    let s = TestSensor::spawn(c0).await;
    let mut a = Client::connect(s.addr).await;
    let mut b = Client::connect(s.addr).await;
    assert!(a.reply().await.starts_with("220"));
    assert!(b.reply().await.starts_with("220"));
    let mut third = Client::connect(s.addr).await;
    assert!(third.reply().await.starts_with("421 4.7.0"));
    a.cmd("QUIT").await;
    drop(a);
    // The slot is released when a session ends (bounded wait).
    let mut ok = false;
    for _ in 0..50 {
        let mut d = Client::connect(s.addr).await;
        if d.reply().await.starts_with("220") {
            ok = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(ok, "slot never released");
    b.cmd("QUIT").await;
    s.stop().await;
}
