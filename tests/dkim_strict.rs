//! Weak crypto and lax syntax in DKIM (issue 17, class 6), through
//! authsense's own path (`Authenticator::check_message`) against an
//! in-process DNS server, and our ARC sealing.
//!
//! The fixtures (tests/data/dkim-strict, written by its `make.py`) each hold
//! one signature whose cryptography is valid; all but two carry one defect
//! that RFC 8301 or RFC 6376 makes unacceptable. Each test first checks that
//! mail-auth alone passes the signature, so the verdict authsense gives is
//! its own strict reading (src/auth/dkim_tags.rs), not a broken fixture.

mod common;

use authsense::auth::{Authenticator, Outcome, SealContext, Sealer, SpfCheck, SpfResult};
use common::dns::{serve_txt, FakeDns};
use mail_auth::{AuthenticatedMessage, DkimResult, Parameters};
use std::{net::IpAddr, path::PathBuf, time::Duration};

const IP: [u8; 4] = [192, 0, 2, 1];

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/dkim-strict")
}

fn fixture(case: &str) -> Vec<u8> {
    std::fs::read(dir().join(format!("{case}.eml"))).unwrap_or_else(|e| panic!("{case}: {e}"))
}

/// The fixture's DKIM-Signature line (with its CRLF).
fn signature_line(case: &str) -> Vec<u8> {
    let msg = fixture(case);
    let end = msg.windows(2).position(|w| w == b"\r\n").unwrap() + 2;
    assert!(msg.starts_with(b"DKIM-Signature:"), "{case}");
    msg[..end].to_vec()
}

/// The message under the signatures.
fn unsigned() -> Vec<u8> {
    let msg = fixture("rsa-sha256");
    msg[signature_line("rsa-sha256").len()..].to_vec()
}

struct Env {
    _dns: FakeDns,
    cfg: authsense::config::Config,
    auth: Authenticator,
}

async fn env() -> Env {
    let records = std::fs::read_to_string(dir().join("records.txt")).unwrap();
    let (dns, cfg) = serve_txt(records.lines().filter_map(|l| l.split_once(' '))).await;
    let auth = Authenticator::new(&cfg.dns).unwrap();
    Env {
        _dns: dns,
        cfg,
        auth,
    }
}

impl Env {
    /// What mail-auth alone says of each signature of `raw`.
    async fn mail_auth(&self, raw: &[u8]) -> Vec<DkimResult> {
        let resolver = authsense::dns::resolver(&self.cfg.dns).unwrap();
        let msg = AuthenticatedMessage::parse(raw).unwrap();
        let out = resolver.verify_dkim(Parameters::new(&msg)).await;
        out.iter().map(|o| o.result().clone()).collect()
    }

    async fn dkim(&self, raw: &[u8], body_verified: bool) -> Vec<authsense::auth::DkimCheck> {
        let ip = IpAddr::from(IP);
        let budget = Duration::from_secs(5);
        self.auth
            .check_message(raw, ip, body_verified, budget)
            .await
            .dkim
    }
}

/// Every fixture: what authsense must say, and a piece of the reason.
const CASES: &[(&str, Outcome, &str)] = &[
    ("rsa-sha256", Outcome::Pass, ""),
    ("ed25519-sha256", Outcome::Pass, ""),
    (
        "rsa-sha1",
        Outcome::Fail,
        "rsa-sha1 is not accepted (RFC 8301",
    ),
    ("no-a", Outcome::PermError, "required tag a= missing"),
    ("dup-tag", Outcome::PermError, "tag s= appears twice"),
    ("empty-spec", Outcome::PermError, "empty tag-spec"),
    ("upper-name", Outcome::PermError, "required tag s= missing"),
    ("bad-name", Outcome::PermError, "invalid tag name"),
    ("no-from", Outcome::PermError, "From is not signed"),
    ("no-v", Outcome::PermError, "required tag v= missing"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weak_and_malformed_signatures_do_not_pass() {
    let env = env().await;
    for &(case, want, reason) in CASES {
        let raw = fixture(case);
        assert_eq!(
            env.mail_auth(&raw).await,
            [DkimResult::Pass],
            "{case}: the fixture must verify with mail-auth alone"
        );
        let got = env.dkim(&raw, true).await;
        assert_eq!(got.len(), 1, "{case}: {got:?}");
        let d = &got[0];
        assert_eq!(d.result, want, "{case}: {d:?}");
        match want {
            Outcome::Pass => assert_eq!(d.reason, None, "{case}"),
            _ => assert!(
                d.reason.as_deref().is_some_and(|r| r.contains(reason)),
                "{case}: {d:?}"
            ),
        }
        // Refused or not, the record still says whose signature it was.
        assert_eq!(d.domain, "strict.example", "{case}");
        assert_eq!(d.b_prefix.len(), 8, "{case}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_need_no_body_and_keep_header_order() {
    let env = env().await;
    // Over the size cap nothing is verified, but the tag-list is read.
    let sha1 = env.dkim(&fixture("rsa-sha1"), false).await;
    assert_eq!(sha1[0].result, Outcome::Fail, "{sha1:?}");
    let good = env.dkim(&fixture("rsa-sha256"), false).await;
    assert_eq!(good[0].result, Outcome::Neutral, "{good:?}");
    // Several signatures: one result each, top first.
    let raw = [
        signature_line("no-a"),
        signature_line("ed25519-sha256"),
        signature_line("rsa-sha1"),
        signature_line("rsa-sha256"),
        unsigned(),
    ]
    .concat();
    let got: Vec<Outcome> = env
        .dkim(&raw, true)
        .await
        .iter()
        .map(|d| d.result)
        .collect();
    assert_eq!(
        got,
        [
            Outcome::PermError,
            Outcome::Pass,
            Outcome::Fail,
            Outcome::Pass
        ]
    );
    // A signature mail-auth cannot parse at all (no d=) is reported, not
    // dropped as mail-auth's own output does.
    let no_d =
        String::from_utf8(fixture("rsa-sha256"))
            .unwrap()
            .replacen(" d=strict.example;", "", 1);
    assert_eq!(env.mail_auth(no_d.as_bytes()).await, []);
    let got = env.dkim(no_d.as_bytes(), true).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].result, Outcome::PermError, "{got:?}");
}

/// Seals `raw` with the fixture key `pem` (published as `selector`) and
/// returns the new ARC set as `(name, value)`.
async fn seal(env: &Env, pem: &str, selector: &str, raw: &[u8]) -> Vec<(String, String)> {
    let sealer = Sealer::load("strict.example", selector, &dir().join(pem)).unwrap();
    let spf = SpfCheck {
        result: SpfResult::Pass,
        identity: "alice@strict.example".into(),
        explanation: None,
    };
    let ctx = SealContext {
        authserv_id: "mx.example.net",
        ip: IpAddr::from(IP),
        helo: "mail.strict.example",
        spf: &spf,
    };
    env.auth.arc_seal(&sealer, raw, &ctx).await.unwrap()
}

fn header<'a>(set: &'a [(String, String)], name: &str) -> &'a str {
    set.iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {name} in {set:?}"))
}

/// The whitespace-free value of tag `t` in a tag-list.
fn tag(list: &str, t: &str) -> String {
    list.split(';')
        .filter_map(|s| s.split_once('='))
        .find(|(k, _)| k.trim() == t)
        .map(|(_, v)| v.split_whitespace().collect())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_arc_sealing_signs_with_sha256_only() {
    let env = env().await;
    let raw = fixture("rsa-sha256");
    for (pem, selector, alg) in [
        ("rsa.pem", "rsa", "rsa-sha256"),
        ("ed25519.pem", "ed", "ed25519-sha256"),
    ] {
        let set = seal(&env, pem, selector, &raw).await;
        for name in ["ARC-Seal", "ARC-Message-Signature"] {
            assert_eq!(tag(header(&set, name), "a"), alg, "{pem} {name}");
        }
        // The sealed message passes our own strict ARC validation.
        let mut sealed = Vec::new();
        for (n, v) in &set {
            sealed.extend_from_slice(format!("{n}: {}\r\n", v.replace('\n', "\r\n")).as_bytes());
        }
        sealed.extend_from_slice(&raw);
        let checks = env
            .auth
            .check_message(&sealed, IpAddr::from(IP), true, Duration::from_secs(5))
            .await;
        assert_eq!(checks.arc.result, Outcome::Pass, "{pem}: {:?}", checks.arc);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_arc_set_does_not_vouch_for_a_refused_signature() {
    let env = env().await;
    for case in ["rsa-sha1", "dup-tag"] {
        let set = seal(&env, "ed25519.pem", "ed", &fixture(case)).await;
        let aar = header(&set, "ARC-Authentication-Results");
        assert!(!aar.contains("dkim=pass"), "{case}: {aar}");
        let want = if case == "rsa-sha1" {
            "dkim=fail"
        } else {
            "dkim=permerror"
        };
        assert!(aar.contains(want), "{case}: {aar}");
    }
}
