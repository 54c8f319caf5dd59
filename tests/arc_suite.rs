//! The ValiMail ARC validation suite (tests/data/arc-test-suite, draft-18
//! era, before RFC 8617) run through authsense's own path:
//! `Authenticator::check_message`, the `arc` result, with a real resolver
//! asking an in-process DNS server that serves each scenario's
//! `txt-records`. Driver conventions follow the suite's `testarc.py` and
//! `arcdns.py`: each record is served as one TXT RR cut into 255-byte
//! strings; a test passes when the chain validation status equals `cv`
//! (compared case-insensitively); in a scenario that repeats a test name the
//! later entry wins (Python's YAML loader).
//!
//! Three tests have an empty `cv` (the reference verifier printed nothing):
//! `cv_fail_i1_as_cv_fail`, `cv_fail_i2_as2_fail`, `cv_fail_i2_as1_fail`,
//! chains whose seals carry `cv=fail`. RFC 8617 §5.2 gives those a status of
//! `fail` (step 2: the newest seal says fail; step 3: an older seal is not
//! `pass`, or the first not `none`), so an empty `cv` is read as fail.
//!
//! The test reports N/171, fails on any test outside `KNOWN_FAILURES`
//! (documented in docs/conformance.md), and fails if a known failure starts
//! passing.

mod common;

use authsense::auth::{Authenticator, Outcome};
use common::dns::{FakeDns, Rec, Zone};
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_yaml::Value;
use std::{fmt, net::IpAddr, time::Duration};

/// Tests whose expectation contradicts RFC 8617 as published (the suite is
/// draft-era), with the reason (see docs/conformance.md).
const KNOWN_FAILURES: &[(&str, &str)] = &[
    (
        "ams_fields_c_na",
        "the AMS has no c= but was made with relaxed canonicalization; RFC 8617 §4.1.2 gives the \
         AMS the syntax and semantics of DKIM-Signature, whose c= defaults to simple/simple \
         (RFC 6376 §3.5), and under that the signature does not verify",
    ),
    (
        "ams_fields_h_empty",
        "the suite wants pass for an AMS with an empty h=; RFC 6376 §3.5 (imported by RFC 8617 \
         §4.1.2) requires at least one header field name, and such a signature binds no header",
    ),
];

/// A YAML mapping's entries in order, duplicates kept.
struct Entries(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Entries;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Entries, A::Error> {
                let mut out = Vec::new();
                while let Some(e) = m.next_entry::<String, Value>()? {
                    out.push(e);
                }
                Ok(Entries(out))
            }
        }
        d.deserialize_map(V)
    }
}

#[derive(serde::Deserialize)]
struct Scenario {
    description: String,
    tests: Entries,
    #[serde(rename = "txt-records")]
    txt_records: Entries,
}

/// Line ends to CRLF (the suite's messages are YAML block scalars).
fn crlf(s: &str) -> Vec<u8> {
    s.replace("\r\n", "\n").replace('\n', "\r\n").into_bytes()
}

fn want(cv: &str) -> Outcome {
    match cv.trim().to_ascii_lowercase().as_str() {
        "none" => Outcome::None,
        "pass" => Outcome::Pass,
        // RFC 8617 §5.2, see the module comment.
        "fail" | "" => Outcome::Fail,
        other => panic!("cv {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arc_validation_suite() {
    let raw = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/arc-test-suite/arc-draft-validation-tests.yml"
    ))
    .unwrap();
    let (mut total, mut scenarios) = (0, 0);
    let mut failures: Vec<(String, String)> = Vec::new();
    let ip: IpAddr = "192.0.2.1".parse().unwrap();
    for doc in serde_yaml::Deserializer::from_str(&raw) {
        let sc = Scenario::deserialize(doc).unwrap();
        scenarios += 1;
        let mut zone = Zone::default();
        for (name, txt) in &sc.txt_records.0 {
            let txt = txt.as_str().unwrap();
            zone.add(
                name,
                Rec::Txt(txt.as_bytes().chunks(255).map(<[u8]>::to_vec).collect()),
            );
        }
        let dns = FakeDns::start(zone).await;
        let mut cfg = authsense::config::Config::default();
        cfg.dns.nameservers = vec![dns.addr];
        cfg.dns.timeout_ms = 300;
        cfg.dns.attempts = 0;
        let auth = Authenticator::new(&cfg.dns).unwrap();
        // Later entries win, in first-seen order.
        let mut tests: Vec<(&String, &Value)> = Vec::new();
        for (name, t) in &sc.tests.0 {
            match tests.iter_mut().find(|(n, _)| *n == name) {
                Some(slot) => slot.1 = t,
                None => tests.push((name, t)),
            }
        }
        for (name, t) in tests {
            total += 1;
            let message = t["message"].as_str().unwrap();
            let cv = t["cv"].as_str().unwrap();
            let want = want(cv);
            let got = auth
                .check_message(&crlf(message), ip, true, Duration::from_secs(5))
                .await
                .arc;
            if got.result != want {
                failures.push((
                    name.clone(),
                    format!(
                        "got {} ({}), want {want} [{}: {}]",
                        got.result,
                        got.reason.as_deref().unwrap_or("-"),
                        sc.description.trim(),
                        t["description"].as_str().unwrap_or("").trim()
                    ),
                ));
            }
        }
    }
    assert_eq!(scenarios, 10, "the suite has 10 scenarios");
    assert_eq!(total, 171, "the suite has 171 tests");
    common::conformance::verdict("ARC validation suite", total, &failures, KNOWN_FAILURES);
}

/// Stalwart mail-auth's ARC resources (tests/data/mail-auth/arc): DNS record
/// lines, a blank line, the message; its own `arc_verify` test expects pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_auth_arc_vectors() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/mail-auth/arc");
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    let mut failures = Vec::new();
    for path in &names {
        let text = std::fs::read_to_string(path).unwrap();
        let (dns, msg) = text.split_once("\n\n").unwrap();
        let mut zone = Zone::default();
        for (name, txt) in dns.lines().filter_map(|l| l.split_once(' ')) {
            zone.add(
                name,
                Rec::Txt(txt.as_bytes().chunks(255).map(<[u8]>::to_vec).collect()),
            );
        }
        let dns = FakeDns::start(zone).await;
        let mut cfg = authsense::config::Config::default();
        cfg.dns.nameservers = vec![dns.addr];
        cfg.dns.timeout_ms = 300;
        cfg.dns.attempts = 0;
        let auth = Authenticator::new(&cfg.dns).unwrap();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let got = auth
            .check_message(&crlf(msg), ip, true, Duration::from_secs(5))
            .await
            .arc;
        if got.result != Outcome::Pass {
            failures.push(format!(
                "{}: got {} ({:?})",
                path.display(),
                got.result,
                got.reason
            ));
        }
    }
    println!(
        "mail-auth ARC vectors: {}/{} passed",
        names.len() - failures.len(),
        names.len()
    );
    assert_eq!(names.len(), 2, "mail-auth has 2 ARC vectors");
    assert!(failures.is_empty(), "{failures:?}");
}
