//! The `dmarc-unaligned` rule on alignment cases: OpenDMARC's own table
//! (`tests/data/opendmarc/`, a reference with two documented disagreements,
//! as in `tests/dmarc.rs`) and ours: relaxed against strict through the
//! Public Suffix List, subdomains, multi-label and wildcard public suffixes,
//! private-section suffixes, SPF against DKIM identifiers.

mod common;

use authsense::config::{Alignment, AnalysisConfig};
use authsense::ingest::analysis::{analyse, SeenAll};
use authsense::model::Record;
use common::analysis::{clean, mailbox, method};

/// OpenDMARC strips leading and trailing dots; we never align an invalid
/// name (docs/conformance.md).
const DISAGREEMENTS: &[&str] = &[".mac.com.", "....mac.com...."];

#[derive(Clone, Copy)]
enum Via {
    Spf,
    Dkim,
}

/// Whether `dmarc-unaligned` fires for mail From `from` whose only passing
/// identifier is `id` (via SPF or DKIM).
fn unaligned(id: &str, from: &str, mode: Alignment, via: Via) -> bool {
    let mut r: Record = clean();
    r.from = Some(mailbox(None, &format!("someone@{from}")));
    r.original.mailfrom = None;
    r.auth.dmarc = None;
    match via {
        Via::Spf => {
            r.auth.spf = Some(method("pass", &[("smtp.mailfrom", &format!("b@{id}"))]));
            r.auth.dkim.clear();
        }
        Via::Dkim => {
            r.auth.spf = Some(method("none", &[]));
            r.auth.dkim = vec![method("pass", &[("header.d", id)])];
        }
    }
    let cfg = AnalysisConfig {
        alignment: mode,
        ..AnalysisConfig::default()
    };
    analyse(&r, &cfg, &SeenAll)
        .reasons
        .iter()
        .any(|x| x.rule == "dmarc-unaligned")
}

#[test]
fn opendmarc_alignment_table() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/opendmarc/libopendmarc-test-tables.json"
    ))
    .unwrap();
    let t: serde_json::Value = serde_json::from_str(&text).unwrap();
    let cases = t["alignment"].as_array().unwrap();
    assert_eq!(cases.len(), 10);
    for via in [Via::Spf, Via::Dkim] {
        let mut disagree = vec![];
        for c in cases {
            let (a, b) = (
                c["domain_a"].as_str().unwrap(),
                c["domain_b"].as_str().unwrap(),
            );
            let mode = match c["mode"].as_str().unwrap() {
                "DMARC_RECORD_A_STRICT" => Alignment::Strict,
                _ => Alignment::Relaxed,
            };
            let want_aligned = c["expected"].as_i64().unwrap() == 0;
            if unaligned(a, b, mode, via) == want_aligned {
                disagree.push(a);
            }
        }
        assert_eq!(disagree, DISAGREEMENTS);
    }
}

#[test]
fn relaxed_and_strict_through_the_psl() {
    use Alignment::{Relaxed, Strict};
    // (identifier, From domain, aligned relaxed, aligned strict)
    let cases = [
        ("example.com", "example.com", true, true),
        ("EXAMPLE.com.", "example.COM", true, true),
        ("mail.example.com", "example.com", true, false),
        ("example.com", "news.example.com", true, false),
        ("a.example.com", "b.example.com", true, false),
        ("example.net", "example.com", false, false),
        // Multi-label public suffixes: co.uk and com.au are suffixes.
        ("bounce.example.co.uk", "example.co.uk", true, false),
        ("example.co.uk", "other.co.uk", false, false),
        ("co.uk", "example.co.uk", false, false),
        ("a.example.com.au", "b.example.com.au", true, false),
        // Wildcard and exception rules (*.kawasaki.jp, !city.kawasaki.jp).
        ("x.foo.bar.kawasaki.jp", "foo.bar.kawasaki.jp", true, false),
        ("foo.bar.kawasaki.jp", "baz.bar.kawasaki.jp", false, false),
        ("www.city.kawasaki.jp", "city.kawasaki.jp", true, false),
        // Private section: each github.io site is its own organisation.
        ("alice.github.io", "bob.github.io", false, false),
        ("www.alice.github.io", "alice.github.io", true, false),
        // IDN in A-label form on both sides.
        (
            "mail.xn--bcher-kva.example",
            "xn--bcher-kva.example",
            true,
            false,
        ),
    ];
    for (id, from, relaxed, strict) in cases {
        for via in [Via::Spf, Via::Dkim] {
            assert_eq!(!unaligned(id, from, Relaxed, via), relaxed, "{id} {from}");
            assert_eq!(!unaligned(id, from, Strict, via), strict, "{id} {from}");
        }
    }
}

#[test]
fn null_sender_uses_the_helo_identity() {
    let mut r = clean();
    r.auth.dkim.clear();
    r.auth.spf = Some(method(
        "pass",
        &[
            ("smtp.mailfrom", "<>"),
            ("smtp.helo", "mail.sender.example"),
        ],
    ));
    let a = analyse(&r, &AnalysisConfig::default(), &SeenAll);
    assert!(a.reasons.is_empty(), "{:?}", a.reasons);
}
