//! Red-team cases of issue 17 that the adversarial suite did not list, run
//! through the real milter, a transport that breaks lines as Postfix does,
//! and the real sensor (`redteam/pipeline.rs`). Each asserts the promise:
//! no outsider makes the sensor record a result the perimeter did not
//! compute, and an honest copy is not made `tampered` by the hops.
//! postfix-test/redteam-probe shows the same cases through a real Postfix.

mod common;
#[path = "redteam/dkim_length.rs"]
mod dkim_length;
#[path = "redteam/pipeline.rs"]
mod pipeline;

use authsense::config::AnalysisConfig;
use authsense::ingest::analysis::{analyse, SeenAll};
use authsense::model::{AuthSource, Verdict};
use common::analysis::{clean, mailbox, method};
use pipeline::{author_domains, sensor, transport, Perimeter, LIMIT};

/// A `From:` line that one mailbox reads as `a@attacker.example` but, once
/// a transport has inserted CRLF + space after each of its two
/// backslashes (octet 998 of each line), as `x@victim.example`:
///
/// ```text
/// before: From: "P1\" <x@victim.example> (" <a@attacker.example> (P2\))
/// after:  From: "P1\<CRLF> " <x@victim.example> (" <a@attacker.example> (P2\<CRLF> ))
/// ```
///
/// Before, `\"` and `\)` are quoted-pairs: one quoted display name, then
/// the attacker's address and a comment. After, the backslashes quote the
/// CR of the inserted line break (RFC 5322 obs-qp), so the quote closes
/// before `<x@victim.example>` and the rest is a comment. The seal, which
/// ignores white space, still verifies.
fn from_two_breaks() -> String {
    let head = "From: \"";
    let p1 = "a".repeat(LIMIT - head.len() - 1);
    let mid = "\" <x@victim.example> (\" <a@attacker.example> (";
    let p2 = "b".repeat(LIMIT - 1 - mid.len() - 1);
    format!("{head}{p1}\\{mid}{p2}\\))")
}

fn lines<'a>(from: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec![
        from,
        "To: u@inbox.example",
        "Subject: quarterly report",
        "Date: Thu, 01 Jan 2026 00:00:00 +0000",
        "Message-ID: <rt@attacker.example>",
    ];
    v.extend_from_slice(extra);
    v
}

#[tokio::test]
async fn an_author_assembled_by_the_transport_is_never_trusted() {
    let perimeter = Perimeter::start().await;
    let from = from_two_breaks();
    let copy = perimeter.deliver(&lines(&from, &[]), "Pay now.\r\n").await;
    let (rec, analysis) = sensor(&transport(copy.as_bytes()), &perimeter.keys);
    // The copy is the perimeter's, sealed, and names the spoofed author.
    assert!(rec.auth.sealed, "{:?}", rec.auth.tamper);
    assert_eq!(author_domains(&rec), ["victim.example"]);
    let dmarc = rec.auth.dmarc.as_ref().map(|m| m.result.as_str());
    assert_eq!(
        analysis.verdict,
        Verdict::Malicious,
        "From victim.example (p=reject) recorded with dmarc={dmarc:?}: {:?}",
        analysis.reasons
    );
}

#[test]
fn the_stamps_dmarc_domain_must_be_an_author_of_the_copy() {
    let fired = |rec: &authsense::model::Record| {
        analyse(rec, &AnalysisConfig::default(), &SeenAll)
            .reasons
            .into_iter()
            .find(|r| r.rule == "stamp-author-mismatch")
            .map(|r| (r.points, r.detail))
    };
    // clean(): From alice@sender.example, dmarc=pass header.from=sender.example.
    assert_eq!(fired(&clean()), None);
    let mut rec = clean();
    rec.authors = vec![
        mailbox(None, "Alice@Sender.Example."),
        mailbox(None, "b@x.example"),
    ];
    assert_eq!(
        fired(&rec),
        None,
        "one of several authors, case and dot aside"
    );
    rec.auth.dmarc = Some(method("pass", &[]));
    assert_eq!(fired(&rec), None, "no header.from: nothing to compare");
    for authors in [
        vec![mailbox(None, "x@victim.example")],
        vec![mailbox(None, "x@mail.sender.example")],
        vec![authsense::model::Mailbox::default()],
    ] {
        let rec = authsense::model::Record {
            from: authors.first().cloned(),
            authors,
            ..clean()
        };
        let (points, detail) = fired(&rec).expect("fired");
        assert_eq!(points, 6);
        assert!(detail.contains("header.from=sender.example"), "{detail}");
        let verdict = analyse(&rec, &AnalysisConfig::default(), &SeenAll).verdict;
        assert_eq!(verdict, Verdict::Malicious);
    }
}

#[tokio::test]
async fn the_perimeter_evaluates_the_author_the_delivered_copy_names() {
    let perimeter = Perimeter::start().await;
    let from = from_two_breaks();
    let copy = perimeter.deliver(&lines(&from, &[]), "Pay now.\r\n").await;
    let (rec, _) = sensor(&transport(copy.as_bytes()), &perimeter.keys);
    let dmarc = rec.auth.dmarc.as_ref().expect("a dmarc result");
    let header_from = dmarc
        .props
        .iter()
        .find(|(k, _)| k == "header.from")
        .map(|(_, v)| v.as_str());
    // Every MTA after the perimeter delivers the broken line: mail clients
    // show x@victim.example, whose domain publishes p=reject.
    assert_eq!(
        (dmarc.result.as_str(), header_from),
        ("fail", Some("victim.example"))
    );
}

#[tokio::test]
async fn a_long_from_line_that_reads_the_same_keeps_its_results() {
    let perimeter = Perimeter::start().await;
    let from = format!("From: \"{}\" <a@attacker.example>", "Sender ".repeat(200));
    assert!(from.len() > LIMIT);
    let copy = perimeter.deliver(&lines(&from, &[]), "Hello.\r\n").await;
    let (rec, analysis) = sensor(&transport(copy.as_bytes()), &perimeter.keys);
    assert!(rec.auth.sealed, "{:?}", rec.auth.tamper);
    assert_eq!(author_domains(&rec), ["attacker.example"]);
    let dmarc = rec.auth.dmarc.as_ref().map(|m| m.result.as_str());
    assert_eq!(dmarc, Some("pass"));
    assert_eq!(analysis.verdict, Verdict::Trusted, "{:?}", analysis.reasons);
}

#[tokio::test]
async fn our_seal_never_needs_a_line_over_998_octets() {
    let perimeter = Perimeter::start().await;
    let to: Vec<String> = (0..400)
        .map(|i| format!("To: u{i}@inbox.example"))
        .collect();
    let extra: Vec<&str> = to.iter().map(String::as_str).collect();
    let copy = perimeter
        .deliver(&lines("From: a@attacker.example", &extra), "Hi.\r\n")
        .await;
    let ours: Vec<&str> = copy
        .split("\r\n")
        .take_while(|l| !l.starts_with("Received:"))
        .collect();
    assert!(ours[0].starts_with("X-Authsense-Seal:"), "{}", ours[0]);
    let longest = ours.iter().map(|l| l.len()).max().unwrap_or(0);
    assert!(
        longest <= LIMIT,
        "a header of ours has a line of {longest} octets"
    );
    let (rec, _) = sensor(&transport(copy.as_bytes()), &perimeter.keys);
    assert!(rec.auth.sealed, "{:?}", rec.auth.tamper);
}

#[tokio::test]
async fn a_utf8_field_broken_inside_a_character_keeps_its_seal() {
    let perimeter = Perimeter::start().await;
    // "Subject: " is 9 octets: octet 998 falls inside a two-octet 'é'.
    let subject = format!("Subject: {}", "é".repeat(600));
    let mut v = lines("From: a@attacker.example", &[]);
    v[2] = &subject;
    let copy = perimeter.deliver(&v, "Hello.\r\n").await;
    let (rec, analysis) = sensor(&transport(copy.as_bytes()), &perimeter.keys);
    assert_ne!(
        rec.auth.source,
        AuthSource::Tampered,
        "{:?}",
        rec.auth.tamper
    );
    assert!(rec.auth.sealed);
    assert_ne!(analysis.verdict, Verdict::Malicious);
}

#[tokio::test]
async fn a_seal_lifted_onto_a_visibly_different_copy_does_not_verify() {
    let perimeter = Perimeter::start().await;
    let extra = [
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=us-ascii",
        "Content-Transfer-Encoding: quoted-printable",
    ];
    let copy = perimeter
        .deliver(
            &lines("From: a@attacker.example", &extra),
            "Wire to account 12=\r\n34 today.\r\n",
        )
        .await;
    let (rec, _) = sensor(copy.as_bytes(), &perimeter.keys);
    assert!(rec.auth.sealed, "{:?}", rec.auth.tamper);
    // The same stamp and seal over a body that decodes to "124" instead of
    // "1234", and over a part that is no longer quoted-printable.
    for (from, to) in [
        ("12=\r\n34", "12=34\r\n"),
        ("quoted-printable", "quoted- printable"),
    ] {
        let forged = copy.replacen(from, to, 1);
        assert_ne!(forged, copy);
        let (rec, _) = sensor(forged.as_bytes(), &perimeter.keys);
        assert!(
            !rec.auth.sealed,
            "the seal verified over a copy with {to:?} instead of {from:?}"
        );
    }
}
