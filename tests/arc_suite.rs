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

use authsense::auth::{Authenticator, Outcome, SealContext, Sealer, SpfCheck, SpfResult};
use common::dns::{serve_txt, FakeDns};
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

/// One test of the suite.
struct Test {
    name: String,
    message: Vec<u8>,
    cv: String,
    /// Scenario and test descriptions.
    about: String,
}

/// A scenario's DNS records: (owner name, TXT text).
type Records = Vec<(String, String)>;

/// The suite's scenarios, each with its DNS records and its tests in order;
/// of a repeated test name the later entry wins, in first-seen order.
fn suite() -> Vec<(Records, Vec<Test>)> {
    let raw = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/arc-test-suite/arc-draft-validation-tests.yml"
    ))
    .unwrap();
    let mut out = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(&raw) {
        let sc = Scenario::deserialize(doc).unwrap();
        let records = (sc.txt_records.0.iter())
            .map(|(n, t)| (n.clone(), t.as_str().unwrap().to_string()))
            .collect();
        let mut tests: Vec<(&String, &Value)> = Vec::new();
        for (name, t) in &sc.tests.0 {
            match tests.iter_mut().find(|(n, _)| *n == name) {
                Some(slot) => slot.1 = t,
                None => tests.push((name, t)),
            }
        }
        let tests = tests.into_iter().map(|(name, t)| Test {
            name: name.clone(),
            message: crlf(t["message"].as_str().unwrap()),
            cv: t["cv"].as_str().unwrap().to_string(),
            about: format!(
                "{}: {}",
                sc.description.trim(),
                t["description"].as_str().unwrap_or("").trim()
            ),
        });
        out.push((records, tests.collect()));
    }
    out
}

/// A DNS server for `records` (one TXT RR each, in 255-byte strings, as
/// the suite's `arcdns.py` serves them) and a configuration using it.
async fn serve(records: &[(String, String)]) -> (FakeDns, authsense::config::Config) {
    serve_txt(records.iter().map(|(n, t)| (n.as_str(), t.as_str()))).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arc_validation_suite() {
    let scenarios = suite();
    let (mut total, mut failures) = (0, Vec::new());
    let ip: IpAddr = "192.0.2.1".parse().unwrap();
    for (records, tests) in &scenarios {
        let (_dns, cfg) = serve(records).await;
        let auth = Authenticator::new(&cfg.dns).unwrap();
        for t in tests {
            total += 1;
            let want = want(&t.cv);
            let got = auth
                .check_message(&t.message, ip, true, Duration::from_secs(5))
                .await
                .arc;
            if got.result != want {
                failures.push((
                    t.name.clone(),
                    format!(
                        "got {} ({}), want {want} [{}]",
                        got.result,
                        got.reason.as_deref().unwrap_or("-"),
                        t.about
                    ),
                ));
            }
        }
    }
    assert_eq!(scenarios.len(), 10, "the suite has 10 scenarios");
    assert_eq!(total, 171, "the suite has 171 tests");
    common::conformance::verdict("ARC validation suite", total, &failures, KNOWN_FAILURES);
}

/// Suite tests whose chain mail-auth alone passes but which must fail (RFC
/// 8301 §3.1, RFC 6376 §3.2/§3.5, RFC 8617 §4.1.2), with the reason given.
const REFUSED: &[(&str, &str)] = &[
    (
        "ams_fields_a_sha1",
        "ARC-Message-Signature: rsa-sha1 is not accepted (RFC 8301",
    ),
    (
        "as_fields_a_sha1",
        "ARC-Seal: rsa-sha1 is not accepted (RFC 8301",
    ),
    (
        "ams_fields_a_na",
        "ARC-Message-Signature: required tag a= missing",
    ),
    ("as_fields_a_na", "ARC-Seal: required tag a= missing"),
    (
        "ams_fields_h_includes_as",
        "ARC-Message-Signature: h= lists ARC-Seal (RFC 8617",
    ),
    ("as_format_tags_dup", "ARC-Seal: tag s= appears twice"),
    ("as_format_tags_sc", "ARC-Seal: empty tag-spec"),
    (
        "as_format_tags_key_case",
        "ARC-Seal: required tag s= missing",
    ),
    ("as_format_inv_tag_key", "ARC-Seal: invalid tag name"),
];

/// Each refused chain fails with its reason, and our own ARC set on such a
/// message says so (`cv=fail`, `arc=fail`) instead of vouching for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weak_and_lax_arc_sets_fail_the_chain() {
    let scenarios = suite();
    let ip: IpAddr = "192.0.2.1".parse().unwrap();
    let key = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/dkim-strict/ed25519.pem"
    );
    let sealer = Sealer::load("seal.example", "arc", std::path::Path::new(key)).unwrap();
    let spf = SpfCheck {
        result: SpfResult::Pass,
        identity: "jqd@d1.example".into(),
        explanation: None,
    };
    let ctx = SealContext {
        authserv_id: "mx.example.net",
        ip,
        helo: "segv.d1.example",
        spf: &spf,
    };
    for &(name, reason) in REFUSED {
        let (records, t) = (scenarios.iter())
            .find_map(|(r, tests)| Some((r, tests.iter().find(|t| t.name == name)?)))
            .unwrap();
        assert_eq!(want(&t.cv), Outcome::Fail, "{name}");
        let (_dns, cfg) = serve(records).await;
        let resolver = authsense::dns::resolver(&cfg.dns).unwrap();
        let msg = mail_auth::AuthenticatedMessage::parse(&t.message).unwrap();
        let alone = resolver.verify_arc(mail_auth::Parameters::new(&msg)).await;
        assert_eq!(
            alone.result(),
            &mail_auth::DkimResult::Pass,
            "{name}: mail-auth alone passes it"
        );
        let auth = Authenticator::new(&cfg.dns).unwrap();
        let arc = (auth
            .check_message(&t.message, ip, true, Duration::from_secs(5))
            .await)
            .arc;
        assert_eq!(arc.result, Outcome::Fail, "{name}: {arc:?}");
        let why = arc.reason.unwrap_or_default();
        assert!(why.contains(reason), "{name}: {why}");
        let set = auth.arc_seal(&sealer, &t.message, &ctx).await.unwrap();
        let value = |n: &str| set.iter().find(|(h, _)| h == n).map(|(_, v)| v.clone());
        let seal = value("ARC-Seal").unwrap_or_default();
        assert!(seal.contains("cv=fail"), "{name}: {seal}");
        let aar = value("ARC-Authentication-Results").unwrap_or_default();
        assert!(aar.contains("arc=fail"), "{name}: {aar}");
    }
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
        let (_dns, cfg) = serve_txt(dns.lines().filter_map(|l| l.split_once(' '))).await;
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
