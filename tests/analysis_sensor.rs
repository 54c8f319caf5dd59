//! Analysis and journal unwrapping end to end: copies sent over SMTP to the
//! real sensor are stored with verdict, score and reasons (the sender
//! history shared through the store), `authsense messages --json` prints
//! them, and an Exchange journal report is stored as the original message.

mod common;

use authsense::config::Config;
use authsense::ingest::extract::{extract, Envelope, ExtractOptions};
use authsense::model::{AuthSource, Gateway, Record, Verdict};
use authsense::store::Filter;
use common::sensor::{Client, TestSensor};
use std::process::Command;
use std::time::SystemTime;

/// The report's own Message-ID in `journal.eml`.
const REPORT_ID: &str = "5b0c6a8e-1f2d-4c3b-9a8e-7d6f5e4c3b2a@journal.report.generator";

fn journal_eml() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/analysis/journal.eml"
    ))
    .unwrap()
}

fn envelope() -> Envelope {
    Envelope {
        uid: "u-journal".into(),
        received_at: SystemTime::now(),
        gateway: Gateway {
            ip: "10.0.0.25".into(),
            helo: "mx.example.com".into(),
            tls: true,
            ..Gateway::default()
        },
        mailfrom: "blackhole@example.com".into(),
        rcptto: vec!["journal@archive.example".into()],
    }
}

/// Trusts mx.example.com and takes journal reports from the gateway of
/// [`envelope`] only.
fn trusted() -> ExtractOptions {
    ExtractOptions {
        trusted_authserv_ids: vec!["mx.example.com".into()],
        journal_sources: vec!["10.0.0.0/24".parse().unwrap()],
        ..ExtractOptions::default()
    }
}

#[test]
fn a_journal_report_from_anyone_else_is_the_message_it_is() {
    // The same report delivered by another gateway, then by the right one
    // with a journal sender configured too: neither is unwrapped.
    let raw = journal_eml();
    let mut env = envelope();
    env.gateway.ip = "192.0.2.66".into();
    let mut both = trusted();
    both.journal_sources
        .push("journal@corp.example".parse().unwrap());
    for (env, opts) in [(env, trusted()), (envelope(), both)] {
        let r = extract(&raw, env, &opts);
        assert!(r.journal.is_none());
        assert!(r.anomalies.journal_untrusted);
        // The outer message: its own Message-ID, the copy's recipients,
        // never the addresses listed in the attacker's text part.
        assert_eq!(r.msg_id.as_deref(), Some(REPORT_ID));
        assert_eq!(r.rcptto, ["journal@archive.example"]);
        assert_ne!(r.original.client_ip.as_deref(), Some("192.0.2.10"));
    }
    // Nothing configured: never unwrapped.
    let none = ExtractOptions {
        trusted_authserv_ids: vec!["mx.example.com".into()],
        ..ExtractOptions::default()
    };
    assert!(extract(&raw, envelope(), &none).journal.is_none());
}

#[test]
fn journal_report_is_unwrapped() {
    let raw = journal_eml();
    let r = extract(&raw, envelope(), &trusted());
    // The original's header fields and results, not the report's (which
    // copies From, To, Cc and Subject but has its own Sender).
    let from = r.from.as_ref().unwrap();
    assert_eq!(from.address.as_deref(), Some("alice@sender.example"));
    assert_eq!(r.sender, None);
    assert_eq!(r.msg_id.as_deref(), Some("q1@sender.example"));
    assert_eq!(r.cc[0].address.as_deref(), Some("carol@example.com"));
    assert_eq!(r.auth.source, AuthSource::XAgari);
    assert_eq!(r.auth.spf.as_ref().unwrap().result, "pass");
    assert_eq!(r.auth.dkim.len(), 1);
    assert_eq!(r.original.mailfrom.as_deref(), Some("alice@sender.example"));
    assert_eq!(r.original.client_ip.as_deref(), Some("192.0.2.10"));
    assert_eq!(r.path.len(), 1);
    // Its attachment and URL, not the attached message itself.
    assert_eq!(r.attachments.len(), 1, "{:?}", r.attachments);
    assert_eq!(r.attachments[0].name.as_deref(), Some("q1.csv"));
    assert_eq!(r.urls[0].host, "reports.sender.example");
    // The report envelope's recipients (Bcc included) are the original's.
    assert_eq!(
        r.rcptto,
        ["bob@example.com", "carol@example.com", "dave@example.com"]
    );
    // The copy's own facts stay, and the marker says what happened.
    assert_eq!(r.gateway.ip, "10.0.0.25");
    assert_eq!(r.size, raw.len() as u64);
    assert_eq!(r.uid, "u-journal");
    let j = r.journal.as_ref().expect("journal marker");
    assert_eq!(j.report_rcptto, ["journal@archive.example"]);
    assert_eq!(j.report_msg_id.as_deref(), Some(REPORT_ID));
    assert_eq!(j.envelope_msg_id.as_deref(), Some("q1@sender.example"));
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["journal"]["report_msg_id"].as_str(), Some(REPORT_ID));
}

#[test]
fn base64_encoded_original_is_unwrapped_too() {
    let raw = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/analysis/journal-base64.eml"
    ))
    .unwrap();
    let r = extract(&raw, envelope(), &trusted());
    assert!(r.journal.is_some());
    assert_eq!(r.msg_id.as_deref(), Some("q1@sender.example"));
    assert_eq!(r.auth.spf.as_ref().unwrap().result, "pass");
    assert_eq!(r.attachments[0].name.as_deref(), Some("q1.csv"));
}

#[test]
fn journal_sender_is_used_without_a_trusted_stamp() {
    let raw = String::from_utf8(journal_eml()).unwrap().replace(
        "X-Agari-Authentication-Results: mx.example.com; spf=pass smtp.mailfrom=alice@",
        "X-Agari-Authentication-Results: other.example; spf=pass smtp.mailfrom=alice@",
    );
    let raw = raw.replace("Authentication-Results: mx.example.com; dkim", "X-Dkim: x");
    let r = extract(raw.as_bytes(), envelope(), &trusted());
    assert_eq!(r.auth.source, AuthSource::None);
    assert_eq!(r.original.mailfrom.as_deref(), Some("alice@sender.example"));
    assert!(r.journal.is_some());
}

#[test]
fn a_forwarded_message_is_not_unwrapped() {
    let raw = String::from_utf8(journal_eml())
        .unwrap()
        .replace("X-MS-Journal-Report:\r\n", "");
    let r = extract(raw.as_bytes(), envelope(), &trusted());
    assert!(r.journal.is_none());
    assert_eq!(r.msg_id.as_deref(), Some(REPORT_ID));
    assert_eq!(r.rcptto, ["journal@archive.example"]);
    // The report's own stamp is read (spf for outlook.example).
    assert_eq!(
        r.original.mailfrom.as_deref(),
        Some("journal@outlook.example")
    );
}

/// A message from `from` (display name and address) with a trusted SPF
/// pass for its domain.
fn message(subject: &str, name: &str, address: &str) -> String {
    format!(
        "X-Agari-Authentication-Results: mx.example.com; spf=pass smtp.mailfrom={address} smtp.helo=mail.test\r\n\
         Received: from mail.test (mail.test [192.0.2.10])\r\n\tby mx.example.com (Postfix) with ESMTP id A1;\r\n\tFri, 27 Nov 2026 10:00:00 +0000\r\n\
         From: {name} <{address}>\r\nTo: bob@example.com\r\nSubject: {subject}\r\n\
         Message-ID: <{subject}@test>\r\nDate: Fri, 27 Nov 2026 10:00:00 +0000\r\n\r\nHello.\r\n"
    )
}

async fn send(c: &mut Client<tokio::net::TcpStream>, body: &str) {
    assert_eq!(&c.cmd("MAIL FROM:<b@gw.example.com>").await[..3], "250");
    assert_eq!(
        &c.cmd("RCPT TO:<journal@archive.example>").await[..3],
        "250"
    );
    assert_eq!(&c.cmd("DATA").await[..3], "354");
    c.send(body).await;
    let r = c.cmd("\r\n.").await;
    assert!(r.starts_with("250 "), "{r}");
}

#[tokio::test]
async fn sensor_stores_analysis_and_cli_prints_it() {
    let mut cfg = Config::default();
    cfg.sensor.trusted_authserv_ids = vec!["mx.example.com".into()];
    cfg.sensor.journal_sources = vec!["127.0.0.0/8".parse().unwrap()];
    cfg.analysis =
        Config::parse("[analysis]\norg_domains = [\"example.com\"]\nvip_names = [\"Jane Doe\"]\n")
            .unwrap()
            .analysis;
    let s = TestSensor::spawn(cfg).await;
    let mut c = Client::connect(s.addr).await;
    c.reply().await;
    assert_eq!(&c.cmd("EHLO gw.example.com").await[..3], "250");
    send(&mut c, &message("first", "Alice", "alice@pass.example")).await;
    send(&mut c, &message("second", "Alice", "alice@pass.example")).await;
    send(&mut c, &message("ceo", "Jane Doe", "jane@examp1e.com")).await;
    let journal = String::from_utf8(journal_eml()).unwrap();
    send(&mut c, journal.trim_end_matches("\r\n")).await;
    assert_eq!(&c.cmd("QUIT").await[..3], "221");
    let store = s.stop().await;

    let records = store.query(&Filter::default()).unwrap();
    let by = |subject: &str| -> Record {
        records
            .iter()
            .find(|r| r.subject.as_deref() == Some(subject))
            .unwrap_or_else(|| panic!("{subject} not stored"))
            .clone()
    };
    let rules = |r: &Record| -> Vec<String> { r.reasons.iter().map(|x| x.rule.clone()).collect() };
    let first = by("first");
    assert_eq!(
        (first.verdict, first.score),
        (Some(Verdict::Trusted), Some(1))
    );
    assert_eq!(rules(&first), ["first-seen-domain"]);
    // The first copy's domain is known to the store when the second comes.
    let second = by("second");
    assert_eq!(
        (second.verdict, second.score),
        (Some(Verdict::Trusted), Some(0))
    );
    assert!(second.reasons.is_empty());
    let ceo = by("ceo");
    assert_eq!(
        (ceo.verdict, ceo.score),
        (Some(Verdict::Malicious), Some(10))
    );
    assert_eq!(
        rules(&ceo),
        [
            "display-name-impersonation",
            "lookalike-domain",
            "first-seen-domain"
        ]
    );
    let orig = by("quarterly numbers");
    assert!(orig.journal.is_some());
    assert_eq!(orig.rcptto.len(), 3);
    assert_eq!(rules(&orig), ["first-seen-domain"]);
    assert!(orig.reasons[0].detail.contains("sender.example"));

    // The CLI prints the same, one JSON object per copy.
    let out = Command::new(env!("CARGO_BIN_EXE_authsense"))
        .args(["messages", "--json", "--db"])
        .arg(store.dir.join("authsense.db"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    let ceo = lines.iter().find(|j| j["subject"] == "ceo").unwrap();
    assert_eq!(ceo["verdict"], "malicious");
    assert_eq!(ceo["score"], 10);
    let reasons = ceo["reasons"].as_array().unwrap();
    assert_eq!(reasons[1]["rule"], "lookalike-domain");
    assert_eq!(reasons[1]["points"], 5);
    let detail = reasons[1]["detail"].as_str().unwrap();
    assert!(
        detail.contains("examp1e.com") && detail.contains("example.com"),
        "{detail}"
    );
    let orig = lines
        .iter()
        .find(|j| j["subject"] == "quarterly numbers")
        .unwrap();
    assert_eq!(orig["verdict"], "trusted");
    assert_eq!(
        orig["journal"]["report_rcptto"][0],
        "journal@archive.example"
    );
}
