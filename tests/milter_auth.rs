//! DKIM, ARC and iprev through the milter protocol: a message signed here
//! with a fresh ed25519 key (published in the in-process DNS) is stamped
//! `dkim=pass`, the same message with its body altered `dkim=fail`; iprev
//! passes for a forward-confirmed PTR and fails otherwise; ARC is `none`
//! without a chain and `fail` for a broken one; the size cap gives
//! `neutral`; and the default X-Agari stays the guide's SPF-only header byte
//! for byte next to the full Authentication-Results.

mod common;

use authsense::config::{Config, Method};
use common::{config_for, dns::FakeDns, dns::Rec, spf_zone, tempdir::TempDir, TestMilter};
use indymilter_test::{
    Actions, EomAction, EomActions, MacroStage, ProtoOpts, Status, TestConnection,
};
use mail_auth::common::crypto::Ed25519Key;
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dkim::DkimSigner;
use std::{net::IpAddr, time::Duration};

const XA: &str = "X-Agari-Authentication-Results";
const AR: &str = "Authentication-Results";

fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in bytes.chunks(3) {
        let n = c
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            out.push(if i <= c.len() {
                A[(n >> (18 - 6 * i) & 63) as usize] as char
            } else {
                '='
            });
        }
    }
    out
}

const MESSAGE: &str = "From: Alice <alice@pass.example>\r\nTo: bob@example.net\r\nSubject: signed\r\nDate: Fri, 27 Nov 2026 10:00:00 +0000\r\nMessage-ID: <s1@pass.example>\r\n\r\nHello Bob,\r\nthis body is signed.\r\n";

/// A zone with SPF records, a DKIM key for `sel._domainkey.pass.example`,
/// and PTR/A records for iprev; returns the zone and the signed message.
fn signed() -> (common::dns::Zone, String) {
    let pkcs8 = Ed25519Key::generate_pkcs8().unwrap();
    let key = Ed25519Key::from_pkcs8_der(&pkcs8).unwrap();
    let record = format!("v=DKIM1; k=ed25519; p={}", base64(&key.public_key()));
    let sig = DkimSigner::from_key(key)
        .domain("pass.example")
        .selector("sel")
        .headers(["From", "To", "Subject", "Date", "Message-ID"])
        .sign(MESSAGE.as_bytes())
        .unwrap();
    let mut z = spf_zone();
    z.add("sel._domainkey.pass.example", Rec::txt(&record));
    z.add(
        "10.2.0.192.in-addr.arpa",
        Rec::Ptr("mail.pass.example".into()),
    );
    z.add(
        "99.2.0.192.in-addr.arpa",
        Rec::Ptr("liar.pass.example".into()),
    );
    z.add("liar.pass.example", Rec::A([198, 51, 100, 1].into()));
    (z, format!("{}{MESSAGE}", sig.to_header()))
}

fn full_config(dns: &FakeDns) -> Config {
    let mut c = config_for(dns);
    c.milter.methods = vec![
        Method::Spf,
        Method::Dkim,
        Method::Dmarc,
        Method::Arc,
        Method::Iprev,
    ];
    c.milter.add_authentication_results = true;
    c
}

async fn open(milter: &TestMilter) -> TestConnection {
    TestConnection::configure()
        .read_timeout(Duration::from_secs(30))
        .available_actions(Actions::ADD_HEADER | Actions::CHANGE_HEADER)
        .exact_leading_space(true)
        .open_tcp(milter.addr)
        .await
        .unwrap()
}

/// Sends `raw` (a CRLF message) from `ip` and returns the end-of-message actions.
async fn send(conn: &mut TestConnection, ip: IpAddr, raw: &str) -> (EomActions, Status) {
    let leading = conn.negotiated_opts().contains(ProtoOpts::LEADING_SPACE);
    conn.connect("client.example", (ip, 4000)).await.unwrap();
    conn.helo("mail.pass.example").await.unwrap();
    conn.macros(MacroStage::Mail, [("i", "Q1")]).await.unwrap();
    conn.mail(["<alice@pass.example>"]).await.unwrap();
    common::rcpt_data(conn, "<bob@example.net>").await;
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    // Unfold into (name, value) pairs the way an MTA passes them: folded
    // continuation lines joined with LF, the value as after the colon.
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            let last = headers.last_mut().unwrap();
            last.1.push('\n');
            last.1.push_str(line);
        } else {
            let (n, v) = line.split_once(':').unwrap();
            headers.push((n.to_string(), v.to_string()));
        }
    }
    for (n, v) in &headers {
        let v = if leading {
            v.clone()
        } else {
            v.trim_start().to_string()
        };
        conn.header(n.as_str(), v.as_str()).await.unwrap();
    }
    if !conn.negotiated_opts().contains(ProtoOpts::NO_EOH) {
        conn.eoh().await.unwrap();
    }
    // The body is needed here (DKIM): the milter must not opt out of it.
    assert!(!conn.negotiated_opts().contains(ProtoOpts::NO_BODY));
    conn.body(body.to_string()).await.unwrap();
    conn.eom().await.unwrap()
}

fn inserted(actions: &EomActions, want: &str) -> String {
    actions
        .actions
        .iter()
        .find_map(|a| match a {
            EomAction::InsertHeader { name, value, .. } if name.to_bytes() == want.as_bytes() => {
                Some(value.to_str().unwrap().trim_start().to_string())
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("no {want}: {actions:?}"))
}

#[tokio::test]
async fn dkim_pass_and_body_tampered_fail() {
    let (zone, raw) = signed();
    let dns = FakeDns::start(zone).await;
    let milter = TestMilter::spawn(full_config(&dns)).await;
    let mut conn = open(&milter).await;
    let (actions, status) = send(&mut conn, [192, 0, 2, 10].into(), &raw).await;
    assert_eq!(status, Status::Accept);
    let xa = inserted(&actions, XA);
    assert!(xa.starts_with("mx.example.com; spf=pass smtp.mailfrom=alice@pass.example smtp.helo=mail.pass.example; dkim=pass header.d=pass.example header.s=sel header.b="), "{xa}");
    assert!(
        xa.contains("; arc=none smtp.remote-ip=192.0.2.10; iprev=pass policy.iprev=192.0.2.10"),
        "{xa}"
    );
    let ar = inserted(&actions, AR);
    assert!(
        ar.contains("; dkim=pass header.d=pass.example header.s=sel"),
        "{ar}"
    );

    let tampered = raw.replace("this body is signed.", "this body was altered");
    let mut conn = open(&milter).await;
    let (actions, _) = send(&mut conn, [192, 0, 2, 10].into(), &tampered).await;
    let xa = inserted(&actions, XA);
    assert!(xa.contains("; dkim=fail reason="), "{xa}");
    assert!(xa.contains(" header.d=pass.example header.s=sel"), "{xa}");
    milter.stop().await;
}

#[tokio::test]
async fn iprev_pass_fail_and_arc_broken_chain() {
    let (zone, raw) = signed();
    let dns = FakeDns::start(zone).await;
    let milter = TestMilter::spawn(full_config(&dns)).await;
    // PTR points at a name whose A record is another address: fail.
    let mut conn = open(&milter).await;
    let (actions, _) = send(&mut conn, [192, 0, 2, 99].into(), &raw).await;
    assert!(inserted(&actions, XA).contains("; iprev=fail policy.iprev=192.0.2.99"));
    // No PTR at all: permerror (RFC 8601 §3).
    let mut conn = open(&milter).await;
    let (actions, _) = send(&mut conn, [192, 0, 2, 77].into(), &raw).await;
    assert!(inserted(&actions, XA).contains("; iprev=permerror policy.iprev=192.0.2.77"));
    // An ARC set that does not verify.
    let broken = format!(
        "ARC-Seal: i=1; a=rsa-sha256; cv=none; d=pass.example; s=arc; t=1700000000; b=AAAA\r\nARC-Message-Signature: i=1; a=rsa-sha256; c=relaxed/relaxed; d=pass.example; s=arc; t=1700000000; h=from:to; bh=AAAA; b=AAAA\r\nARC-Authentication-Results: i=1; pass.example; spf=pass\r\n{raw}"
    );
    let mut conn = open(&milter).await;
    let (actions, _) = send(&mut conn, [192, 0, 2, 10].into(), &broken).await;
    assert!(
        inserted(&actions, XA).contains("; arc=fail smtp.remote-ip=192.0.2.10"),
        "{actions:?}"
    );
    milter.stop().await;
}

#[tokio::test]
async fn over_the_size_cap_dkim_is_neutral() {
    let (zone, raw) = signed();
    let dns = FakeDns::start(zone).await;
    let mut cfg = full_config(&dns);
    cfg.milter.max_message_bytes = 200;
    let milter = TestMilter::spawn(cfg).await;
    let mut conn = open(&milter).await;
    let (actions, status) = send(&mut conn, [192, 0, 2, 10].into(), &raw).await;
    assert_eq!(status, Status::Accept);
    let xa = inserted(&actions, XA);
    assert!(xa.contains("; dkim=neutral reason=\"message over the size cap, not verified\" header.d=pass.example header.s=sel"), "{xa}");
    milter.stop().await;
}

#[tokio::test]
async fn default_x_agari_is_the_guides_header_next_to_the_full_ar() {
    let (zone, raw) = signed();
    let dns = FakeDns::start(zone).await;
    let mut cfg = config_for(&dns);
    cfg.milter.add_authentication_results = true;
    let milter = TestMilter::spawn(cfg).await;
    let mut conn = open(&milter).await;
    let (actions, _) = send(&mut conn, [192, 0, 2, 10].into(), &raw).await;
    assert_eq!(
        inserted(&actions, XA),
        "mx.example.com; spf=pass smtp.mailfrom=alice@pass.example smtp.helo=mail.pass.example"
    );
    let ar = inserted(&actions, AR);
    assert!(ar.starts_with("mx.example.com; spf=pass smtp.mailfrom=alice@pass.example; spf=pass smtp.helo=mail.pass.example; dkim=pass header.d=pass.example header.s=sel header.b="), "{ar}");
    assert!(
        ar.ends_with("; arc=none smtp.remote-ip=192.0.2.10; iprev=pass policy.iprev=192.0.2.10"),
        "{ar}"
    );
    // X-Agari goes on top, the standard header right below it.
    let order: Vec<&str> = actions
        .actions
        .iter()
        .filter_map(|a| match a {
            EomAction::InsertHeader { name, .. } => name.to_str().ok(),
            _ => None,
        })
        .collect();
    assert_eq!(
        order,
        [AR, XA],
        "inserted at index 0 in this order, so X-Agari ends on top"
    );
    milter.stop().await;
}

#[tokio::test]
async fn check_message_prints_the_full_stamp() {
    let (zone, raw) = signed();
    let dns = FakeDns::start(zone).await;
    let dir = TempDir::new("check");
    let eml = dir.join("signed.eml");
    // Stored with LF line endings, as files usually are.
    std::fs::write(&eml, raw.replace("\r\n", "\n")).unwrap();
    let ns = dns.addr.to_string();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_authsense"))
            .args(["check", "--ip", "192.0.2.10", "--helo", "mail.pass.example"])
            .args([
                "--from",
                "alice@pass.example",
                "--authserv-id",
                "mx.example.com",
            ])
            .args(["--nameserver", &ns, "--methods", "spf,dkim,iprev"])
            .arg("--message")
            .arg(&eml)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("X-Agari-Authentication-Results: mx.example.com; spf=pass smtp.mailfrom=alice@pass.example smtp.helo=mail.pass.example; dkim=pass header.d=pass.example header.s=sel header.b="), "{text}");
    assert!(
        lines[0].ends_with("; iprev=pass policy.iprev=192.0.2.10"),
        "{text}"
    );
    assert!(
        lines[1].starts_with("Authentication-Results: mx.example.com; spf=pass"),
        "{text}"
    );
    assert!(
        lines[1].contains("; arc=none smtp.remote-ip=192.0.2.10"),
        "{text}"
    );
}

#[tokio::test]
async fn dmarc_pass_fail_and_none() {
    let (mut zone, raw) = signed();
    zone.add("_dmarc.pass.example", Rec::txt("v=DMARC1; p=reject"));
    zone.add(
        "_dmarc.other.example",
        Rec::txt("v=DMARC1; p=quarantine; sp=none"),
    );
    let dns = FakeDns::start(zone).await;
    let milter = TestMilter::spawn(full_config(&dns)).await;
    let ip: IpAddr = [192, 0, 2, 10].into();
    let dmarc_of = |actions: &EomActions| {
        let xa = inserted(actions, XA);
        let part = xa
            .split("; ")
            .find(|p| p.starts_with("dmarc="))
            .unwrap_or("")
            .to_string();
        part
    };
    // Aligned DKIM and SPF.
    let mut conn = open(&milter).await;
    let (actions, _) = send(&mut conn, ip, &raw).await;
    assert_eq!(
        dmarc_of(&actions),
        "dmarc=pass header.from=pass.example policy.dmarc=reject"
    );
    // Aligned by SPF alone (unsigned message, MAIL FROM in the From domain).
    let unsigned = MESSAGE.to_string();
    let mut conn = open(&milter).await;
    let (actions, _) = send(&mut conn, ip, &unsigned).await;
    assert_eq!(
        dmarc_of(&actions),
        "dmarc=pass header.from=pass.example policy.dmarc=reject"
    );
    // Unaligned: From another domain, SPF and DKIM for pass.example only.
    let unaligned = raw.replace(
        "From: Alice <alice@pass.example>",
        "From: Alice <alice@other.example>",
    );
    let mut conn = open(&milter).await;
    let (actions, _) = send(&mut conn, ip, &unaligned).await;
    let xa = inserted(&actions, XA);
    assert!(
        xa.contains("; dkim=fail"),
        "From is signed, so changing it breaks DKIM: {xa}"
    );
    assert_eq!(
        dmarc_of(&actions),
        "dmarc=fail header.from=other.example policy.dmarc=quarantine"
    );
    // No DMARC record anywhere for the From domain.
    let unlisted = MESSAGE.replace("alice@pass.example", "alice@nodmarc.example");
    let mut conn = open(&milter).await;
    let (actions, _) = send(&mut conn, ip, &unlisted).await;
    assert_eq!(dmarc_of(&actions), "dmarc=none header.from=nodmarc.example");
    milter.stop().await;
}

#[tokio::test]
async fn arc_seal_adds_a_set_that_verifies() {
    let (mut zone, raw) = signed();
    // The sealing key, published for seal.example.
    let pkcs8 = Ed25519Key::generate_pkcs8().unwrap();
    let key = Ed25519Key::from_pkcs8_der(&pkcs8).unwrap();
    zone.add(
        "arc._domainkey.seal.example",
        Rec::txt(&format!(
            "v=DKIM1; k=ed25519; p={}",
            base64(&key.public_key())
        )),
    );
    let dns = FakeDns::start(zone).await;
    let dir = TempDir::new("arc");
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        base64(&pkcs8)
    );
    std::fs::write(dir.join("arc.key"), pem).unwrap();
    let mut cfg = full_config(&dns);
    cfg.milter.arc_seal = Some(authsense::config::ArcSealConfig {
        domain: "seal.example".into(),
        selector: "arc".into(),
        key: dir.join("arc.key"),
    });
    let milter = TestMilter::spawn(cfg.clone()).await;
    let mut conn = open(&milter).await;
    let ip: IpAddr = [192, 0, 2, 10].into();
    let (actions, status) = send(&mut conn, ip, &raw).await;
    assert_eq!(status, Status::Accept);
    // Rebuild the delivered message: every inserted header went to the top,
    // the last inserted ending up first.
    let mut top = String::new();
    for a in actions.actions.iter().rev() {
        if let EomAction::InsertHeader { name, value, .. } = a {
            let v = value.to_str().unwrap().trim_start().replace('\n', "\r\n");
            top.push_str(&format!("{}: {v}\r\n", name.to_str().unwrap()));
        }
    }
    let names: Vec<&str> = top
        .lines()
        .filter(|l| !l.starts_with([' ', '\t']))
        .filter_map(|l| l.split_once(':').map(|(n, _)| n))
        .collect();
    assert_eq!(
        names,
        [
            XA,
            AR,
            "ARC-Seal",
            "ARC-Message-Signature",
            "ARC-Authentication-Results"
        ],
        "{top}"
    );
    let seal = top.lines().find(|l| l.starts_with("ARC-Seal:")).unwrap();
    assert!(
        seal.contains("i=1;")
            && seal.contains("cv=none")
            && seal.contains("d=seal.example")
            && seal.contains("s=arc"),
        "{top}"
    );
    let delivered = format!("{top}{raw}");
    let auth = authsense::auth::Authenticator::new(&cfg.dns).unwrap();
    let checks = auth
        .check_message(delivered.as_bytes(), ip, true, Duration::from_secs(5))
        .await;
    assert_eq!(
        checks.arc.result,
        authsense::auth::Outcome::Pass,
        "{:?}\n{top}",
        checks.arc
    );
    assert_eq!(checks.dkim[0].result, authsense::auth::Outcome::Pass);
    // The sealed message reaching another perimeter: arc=pass in its stamp.
    let mut conn = open(&milter).await;
    let (actions, _) = send(&mut conn, ip, &delivered).await;
    assert!(
        inserted(&actions, XA).contains("; arc=pass smtp.remote-ip=192.0.2.10"),
        "{actions:?}"
    );
    milter.stop().await;
}
