//! The record's authors and the `ambiguous-from` rule end to end: raw
//! copies through `extract` (the sensor's own path) and `analyse`. The
//! address comes from the parser the milter's DMARC uses, so CFWS never
//! reaches the stored address, every author is kept, and a message with
//! several, no or unreadable authors is scored.

use authsense::config::AnalysisConfig;
use authsense::ingest::analysis::{analyse, SeenAll};
use authsense::ingest::extract::{extract, Envelope, ExtractOptions};
use authsense::model::{Gateway, Mailbox, Record};
use std::time::SystemTime;

fn record(from_lines: &[&str]) -> Record {
    let mut raw = String::new();
    for line in from_lines {
        raw.push_str(line);
        raw.push_str("\r\n");
    }
    raw.push_str(
        "To: bob@example.com\r\nSubject: hi\r\nMessage-ID: <m1@example.net>\r\n\r\nHello.\r\n",
    );
    let env = Envelope {
        uid: "u-authors".into(),
        received_at: SystemTime::now(),
        gateway: Gateway {
            ip: "10.0.0.25".into(),
            ..Gateway::default()
        },
        mailfrom: "blackhole@example.com".into(),
        rcptto: vec!["bob@example.com".into()],
    };
    extract(raw.as_bytes(), env, &ExtractOptions::default())
}

fn addresses(rec: &Record) -> Vec<Option<&str>> {
    rec.authors.iter().map(|m| m.address.as_deref()).collect()
}

/// The `ambiguous-from` detail, if the rule fired.
fn ambiguous(rec: &Record) -> Option<String> {
    analyse(rec, &AnalysisConfig::default(), &SeenAll)
        .reasons
        .into_iter()
        .find(|r| r.rule == "ambiguous-from")
        .map(|r| {
            assert_eq!(r.points, 3);
            r.detail
        })
}

#[test]
fn one_author_without_cfws() {
    for line in [
        "From: a@ example.com",
        "From: a@(comment)example.com",
        "From: Alice <a@\r\n\texample.com>",
    ] {
        let rec = record(&[line]);
        assert_eq!(addresses(&rec), [Some("a@example.com")], "{line:?}");
        assert_eq!(rec.from, rec.authors.first().cloned());
        assert_eq!(ambiguous(&rec), None, "{line:?}");
    }
    let rec = record(&["From: =?utf-8?q?J=C3=B6rg?= <j@example.de>"]);
    assert_eq!(
        rec.from,
        Some(Mailbox {
            name: Some("Jörg".into()),
            address: Some("j@example.de".into())
        })
    );
}

#[test]
fn several_authors_are_kept_and_scored() {
    let rec = record(&["From: a@bank.example, b@evil.example"]);
    assert_eq!(
        addresses(&rec),
        [Some("a@bank.example"), Some("b@evil.example")]
    );
    assert_eq!(rec.from.unwrap().address.as_deref(), Some("a@bank.example"));
    let rec = record(&["From: a@bank.example", "From: Evil <b@evil.example>"]);
    assert_eq!(
        addresses(&rec),
        [Some("a@bank.example"), Some("b@evil.example")]
    );
    let detail = ambiguous(&rec).expect("two From fields");
    assert!(
        detail.starts_with("2 authors in From (a@bank.example, b@evil.example)"),
        "{detail}"
    );
}

#[test]
fn missing_empty_or_unreadable_from_is_scored() {
    let rec = record(&[]);
    assert!(rec.authors.is_empty() && rec.from.is_none());
    assert!(ambiguous(&rec).unwrap().starts_with("no From field"));
    for line in [
        "From: Postmaster\\@bank.example@xxx.com",
        "From:",
        "From: undisclosed-recipients:;",
        "From: a@ex ample.com",
    ] {
        let rec = record(&[line]);
        assert_eq!(addresses(&rec), [None], "{line:?}");
        let detail = ambiguous(&rec).unwrap_or_else(|| panic!("{line:?}"));
        assert!(detail.contains("no readable address"), "{line:?}: {detail}");
    }
}

#[test]
fn authors_are_serialised_only_when_present() {
    let rec = record(&["From: a@x.example, b@y.example"]);
    let json = serde_json::to_string(&rec).unwrap();
    assert!(
        json.contains(r#""authors":[{"name":null,"address":"a@x.example"}"#),
        "{json}"
    );
    assert_eq!(serde_json::from_str::<Record>(&json).unwrap(), rec);
    // No From: no key, and a record without the key reads back empty.
    let json = serde_json::to_string(&record(&[])).unwrap();
    assert!(!json.contains("\"authors\""), "{json}");
    let back: Record = serde_json::from_str(&json).unwrap();
    assert!(back.authors.is_empty());
}
