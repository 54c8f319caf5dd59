//! DKIM test vectors (RFC 6376, ed25519 per RFC 8463) run through
//! authsense's own path: `Authenticator::check_message` with a real resolver
//! asking an in-process DNS server that serves each vector's key records.
//!
//! Vectors (tests/data/dkimpy, tests/data/mail-auth; see their PROVENANCE.md):
//! * already signed messages, every signature expected to pass:
//!   - dkimpy `rfc6376.signed.msg` (ed25519 `brisbane` and RSA `test` for
//!     football.example.com; keys as in RFC 8463 Appendix A, the RSA one is
//!     dkimpy's `test.txt`), dkimpy `test2.message` (gmail, degenerate folding;
//!     key from dkimpy's `test_dkim.py`, below);
//!   - Stalwart mail-auth `resources/dkim/*.txt`: `name record` lines, a
//!     blank line, then the message, LF converted to CRLF (the format of
//!     mail-auth's own `dkim_verify` test);
//! * sign-then-verify, as dkimpy's `test_verifies` / `test_implicit_k` and
//!   `test_dkim_ed25519.py` do: `test.message` signed with `test.private`
//!   and verified against `test.txt` (and against `test2.txt`, no `k=`),
//!   `ed25519test.msg` signed with `ed25519test.key` and verified against
//!   `ed25519test.dns`, in all four canonicalizations (signed here with
//!   mail-auth's signer, so only the published keys come from the vectors).
//!
//! From every signature expected to pass the runner derives negative cases:
//! one body byte changed → `fail` (RFC 6376 §6.1.3 "body hash did not
//! verify" is a PERMFAIL of the verification, RFC 8601 §2.7.1 `fail`); a
//! signed header's value changed → `fail`; the key record removed →
//! `permerror` (§6.1.2: no key for signature); the key revoked (`p=` empty,
//! §3.6.1) → `permerror` or `fail`.
//!
//! The test reports N/M, fails on any case outside `KNOWN_FAILURES`
//! (documented in docs/conformance.md), and fails if a case a known failure
//! covers starts passing.

mod common;

use authsense::auth::{Authenticator, Outcome};
use common::dns::serve_txt;
use mail_auth::{
    common::{crypto::Ed25519Key, headers::HeaderWriter},
    dkim::{Canonicalization, DkimSigner},
};
use std::{net::IpAddr, path::Path, time::Duration};

/// Cases authsense gets wrong today, with the reason (see docs/conformance.md).
/// A key ending in `*` covers every case starting with the rest, and each of
/// those cases must fail.
const KNOWN_FAILURES: &[(&str, &str)] = &[(
    "mail-auth/005.txt#0*",
    "signature expired (x=1667930064, 2022-11-08): mail-auth checks x= against the \
         real clock (its own test pins the time) and reports neutral",
)];

/// dkimpy `dkim/tests/test_dkim.py` (`TestSignAndVerify.dnsfunc`, commit
/// 0c6fdbf7c677e9b52c9233b625735baa79d52bea): the key `test2.message` was
/// signed with (`20120113._domainkey.gmail.com`); not among the data files.
const GMAIL_20120113: &str = "k=rsa; \
p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA1Kd87/UeJjenpabgbFwh\
+eBCsSTrqmwIYYvywlbhbqoo2DymndFkbjOVIPIldNs/m40KF+yzMn1skyoxcTUGCQ\
s8g3FgD2Ap3ZB5DekAo5wMmk4wimDO+U8QzI3SD07y2+07wlNWwIt8svnxgdxGkVbb\
hzY8i+RQ9DpSVpPbF7ykQxtKXkv/ahW3KjViiAH+ghvvIhkx4xYSIc9oSwVmAl5Oct\
MEeWUwg8Istjqz8BZeTWbf41fbNhte7Y+YqZOwq1Sd0DbvYAD9NOZK9vlfuac0598H\
Y+vtSBczUiKERHv1yRbcaQtZFh5wtiRrN04BLUTD21MycBX5jYchHjPY/wIDAQAB";

/// A message with the key records it needs.
struct Vector {
    name: String,
    /// (owner name, TXT text).
    records: Vec<(String, String)>,
    /// CRLF message.
    message: Vec<u8>,
}

fn data(rel: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(rel),
    )
    .unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn data_str(rel: &str) -> String {
    String::from_utf8(data(rel)).unwrap()
}

/// Line ends to CRLF (the vectors are stored with LF).
fn crlf(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len() + b.len() / 20);
    for (i, &c) in b.iter().enumerate() {
        if c == b'\n' && (i == 0 || b[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(c);
    }
    out
}

fn b64(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => continue,
        };
        acc = acc << 6 | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

/// A tag's value in a `tag=value; …` list (whitespace removed).
fn tag(list: &str, name: &str) -> Option<String> {
    list.split(';').find_map(|t| {
        let (k, v) = t.split_once('=')?;
        (k.trim() == name).then(|| v.chars().filter(|c| !c.is_whitespace()).collect())
    })
}

/// The header block's fields as (name, unfolded value, byte range of the
/// value in the message).
fn fields(msg: &[u8]) -> Vec<(String, String, std::ops::Range<usize>)> {
    let end = find(msg, b"\r\n\r\n").map_or(msg.len(), |p| p + 2);
    let mut out: Vec<(String, String, std::ops::Range<usize>)> = Vec::new();
    let mut pos = 0;
    while pos < end {
        let line_end = find(&msg[pos..end], b"\r\n").map_or(end, |p| pos + p + 2);
        let line = &msg[pos..line_end];
        if line.first().is_some_and(|c| *c == b' ' || *c == b'\t') {
            if let Some(last) = out.last_mut() {
                last.1.push_str(&String::from_utf8_lossy(line));
                last.2.end = line_end;
            }
        } else if let Some(colon) = line.iter().position(|&c| c == b':') {
            out.push((
                String::from_utf8_lossy(&line[..colon])
                    .trim()
                    .to_ascii_lowercase(),
                String::from_utf8_lossy(&line[colon + 1..]).into_owned(),
                pos + colon + 1..line_end,
            ));
        }
        pos = line_end;
    }
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The message with the first letter or digit in `range` replaced by another.
fn change_byte_in(msg: &[u8], range: std::ops::Range<usize>) -> Option<Vec<u8>> {
    let i = range.start + msg[range].iter().position(u8::is_ascii_alphanumeric)?;
    let mut out = msg.to_vec();
    out[i] = match out[i] {
        b'a' => b'b',
        b'A' => b'B',
        b'0' => b'1',
        _ if out[i].is_ascii_digit() => b'0',
        _ if out[i].is_ascii_uppercase() => b'A',
        _ => b'a',
    };
    Some(out)
}

/// The vectors from the mail-auth resource format.
fn mail_auth_vectors() -> Vec<Vector> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/mail-auth/dkim");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".txt"))
        .collect();
    names.sort();
    assert_eq!(names.len(), 6, "mail-auth has 6 DKIM vectors");
    names
        .into_iter()
        .map(|n| {
            let text = data_str(&format!("mail-auth/dkim/{n}"));
            let (dns, msg) = text.split_once("\n\n").unwrap();
            Vector {
                name: format!("mail-auth/{n}"),
                records: dns
                    .lines()
                    .filter_map(|l| l.split_once(' '))
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                message: crlf(msg.as_bytes()),
            }
        })
        .collect()
}

fn dkimpy_vectors() -> Vec<Vector> {
    // RFC 8463 Appendix A publishes brisbane's key: the RFC 8032 §7.1 test 1
    // public key. mail-auth's 001.txt carries the same record; take it from
    // there, and check it against the RFC 8032 secret key dkimpy ships.
    let ma = mail_auth_vectors();
    let brisbane = ma[0]
        .records
        .iter()
        .find(|(k, _)| k == "brisbane._domainkey.football.example.com")
        .unwrap()
        .1
        .clone();
    let seed = b64(data_str("dkimpy/rfc8032_7_1.key").trim());
    let public = b64(&tag(&brisbane, "p").unwrap());
    Ed25519Key::from_seed_and_public_key(&seed, &public)
        .expect("RFC 8463 brisbane key is the RFC 8032 §7.1 test 1 key");
    let mut out: Vec<Vector> = ["test.txt", "test2.txt"]
        .into_iter()
        .map(|txt| Vector {
            name: format!("dkimpy/rfc6376.signed.msg+{txt}"),
            records: vec![
                (
                    "brisbane._domainkey.football.example.com".into(),
                    brisbane.clone(),
                ),
                (
                    "test._domainkey.football.example.com".into(),
                    data_str(&format!("dkimpy/{txt}")).trim().into(),
                ),
            ],
            message: crlf(&data("dkimpy/rfc6376.signed.msg")),
        })
        .collect();
    out.push(Vector {
        name: "dkimpy/test2.message".into(),
        records: vec![(
            "20120113._domainkey.gmail.com".into(),
            GMAIL_20120113.into(),
        )],
        message: crlf(&data("dkimpy/test2.message")),
    });
    out
}

/// dkimpy's ed25519 sign-then-verify tests, signed with mail-auth's signer.
/// (Its RSA ones cannot be redone: aws-lc-rs refuses to sign with the
/// 1024-bit `test.private`. That key's signature made by dkimpy is the `test`
/// signature of `rfc6376.signed.msg`, verified above with `test.txt` and with
/// `test2.txt`.)
fn signed_vectors() -> Vec<Vector> {
    let canons = [
        ("simple", Canonicalization::Simple),
        ("relaxed", Canonicalization::Relaxed),
    ];
    let heads = ["From", "To", "Subject", "Date", "Message-ID"];
    let mut out = Vec::new();
    for (hn, hc) in canons {
        for (bn, bc) in canons {
            let ed_msg = crlf(&data("dkimpy/ed25519test.msg"));
            let dns = data_str("dkimpy/ed25519test.dns").trim().to_string();
            let ed = Ed25519Key::from_seed_and_public_key(
                &b64(data_str("dkimpy/ed25519test.key").trim()),
                &b64(&tag(&dns, "p").unwrap()),
            )
            .unwrap();
            let sig = DkimSigner::from_key(ed)
                .domain("example.com")
                .selector("test")
                .headers(heads)
                .header_canonicalization(hc)
                .body_canonicalization(bc)
                .sign(&ed_msg)
                .unwrap()
                .to_header();
            out.push(Vector {
                name: format!("dkimpy/ed25519test.msg {hn}/{bn}"),
                records: vec![("test._domainkey.example.com".into(), dns)],
                message: [sig.as_bytes(), &ed_msg].concat(),
            });
        }
    }
    out
}

/// Verifies `message` with `records` served, fresh resolver (no cache).
async fn check(records: &[(String, String)], message: &[u8]) -> Vec<(Outcome, Option<String>)> {
    let (_dns, cfg) = serve_txt(records.iter().map(|(n, t)| (n.as_str(), t.as_str()))).await;
    let auth = Authenticator::new(&cfg.dns).unwrap();
    let ip: IpAddr = "192.0.2.1".parse().unwrap();
    auth.check_message(message, ip, true, Duration::from_secs(5))
        .await
        .dkim
        .into_iter()
        .map(|d| (d.result, d.reason))
        .collect()
}

struct Case {
    name: String,
    want: &'static [Outcome],
    records: Vec<(String, String)>,
    message: Vec<u8>,
    sig: usize,
}

/// The positive case for each signature of `v`, and the derived negatives.
fn cases(v: &Vector) -> Vec<Case> {
    let sigs: Vec<_> = fields(&v.message)
        .into_iter()
        .filter(|f| f.0 == "dkim-signature")
        .collect();
    assert!(!sigs.is_empty(), "{}: no signature", v.name);
    let all = fields(&v.message);
    let body = find(&v.message, b"\r\n\r\n").map_or(v.message.len(), |p| p + 4);
    let mut out = Vec::new();
    for (i, (_, value, _)) in sigs.iter().enumerate() {
        let name = format!("{}#{i}", v.name);
        let case = |suffix: &str, want, records, message| Case {
            name: format!("{name}{suffix}"),
            want,
            records,
            message,
            sig: i,
        };
        out.push(case(
            "",
            &[Outcome::Pass],
            v.records.clone(),
            v.message.clone(),
        ));
        let tampered = change_byte_in(&v.message, body..v.message.len())
            .unwrap_or_else(|| panic!("{name}: body has no letter to change"));
        out.push(case(
            "/body-tampered",
            &[Outcome::Fail],
            v.records.clone(),
            tampered,
        ));
        // A signed header present once (so it is the instance signed).
        let h = tag(value, "h").unwrap();
        let signed = h
            .split(':')
            .map(|s| s.trim().to_ascii_lowercase())
            .find(|n| n != "dkim-signature" && all.iter().filter(|f| &f.0 == n).count() == 1)
            .unwrap_or_else(|| panic!("{name}: no singly present signed header"));
        let range = all.iter().find(|f| f.0 == signed).unwrap().2.clone();
        out.push(case(
            &format!("/header-tampered:{signed}"),
            &[Outcome::Fail],
            v.records.clone(),
            change_byte_in(&v.message, range).unwrap(),
        ));
        let key = format!(
            "{}._domainkey.{}",
            tag(value, "s").unwrap(),
            tag(value, "d").unwrap()
        )
        .to_ascii_lowercase();
        assert!(
            v.records.iter().any(|r| r.0.eq_ignore_ascii_case(&key)),
            "{name}: no record for {key}"
        );
        let removed = v
            .records
            .iter()
            .filter(|r| !r.0.eq_ignore_ascii_case(&key))
            .cloned()
            .collect();
        out.push(case(
            "/key-removed",
            &[Outcome::PermError],
            removed,
            v.message.clone(),
        ));
        let revoked = v
            .records
            .iter()
            .map(|(n, r)| {
                if !n.eq_ignore_ascii_case(&key) {
                    return (n.clone(), r.clone());
                }
                let r = r
                    .split(';')
                    .map(|t| match t.split_once('=') {
                        Some((k, _)) if k.trim() == "p" => format!("{k}="),
                        _ => t.to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join(";");
                (n.clone(), r)
            })
            .collect();
        out.push(case(
            "/key-revoked",
            &[Outcome::PermError, Outcome::Fail],
            revoked,
            v.message.clone(),
        ));
    }
    out
}

fn known(name: &str) -> Option<&'static (&'static str, &'static str)> {
    KNOWN_FAILURES.iter().find(|(k, _)| covers(k, name))
}

fn covers(key: &str, name: &str) -> bool {
    match (key.strip_prefix('*'), key.strip_suffix('*')) {
        (Some(suffix), _) => name.ends_with(suffix),
        (_, Some(prefix)) => name.starts_with(prefix),
        _ => key == name,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dkim_vectors() {
    let mut vectors = dkimpy_vectors();
    vectors.extend(mail_auth_vectors());
    vectors.extend(signed_vectors());
    let mut all = Vec::new();
    let mut failures: Vec<(String, String)> = Vec::new();
    for v in &vectors {
        for c in cases(v) {
            let got = check(&c.records, &c.message).await;
            let n_sigs = fields(&c.message)
                .iter()
                .filter(|f| f.0 == "dkim-signature")
                .count();
            let why = if got.len() != n_sigs {
                Some(format!("{} results for {n_sigs} signatures", got.len()))
            } else {
                let (r, reason) = &got[c.sig];
                (!c.want.contains(r)).then(|| {
                    let want: Vec<_> = c.want.iter().map(|o| o.as_str()).collect();
                    format!(
                        "got {r} ({}), want {}",
                        reason.as_deref().unwrap_or("-"),
                        want.join("|")
                    )
                })
            };
            if let Some(why) = why {
                failures.push((c.name.clone(), why));
            }
            all.push(c.name);
        }
    }
    let total = all.len();
    println!("DKIM vectors: {}/{total} passed", total - failures.len());
    for (name, why) in &failures {
        let note = known(name).map_or(String::new(), |k| format!(" [known: {}]", k.0));
        println!("  FAIL {name}: {why}{note}");
    }
    // dkimpy: rfc6376.signed.msg twice (2 signatures each), test2.message;
    // mail-auth: 6 files, 8 signatures; ed25519 signed here: 4. Five cases
    // per signature.
    assert_eq!(total, (5 + 8 + 4) * 5, "case count");
    let unexpected: Vec<_> = failures
        .iter()
        .filter(|(n, _)| known(n).is_none())
        .collect();
    assert!(unexpected.is_empty(), "regressions: {unexpected:?}");
    let stale: Vec<_> = KNOWN_FAILURES
        .iter()
        .filter(|(k, _)| {
            let covered: Vec<_> = all.iter().filter(|n| covers(k, n)).collect();
            covered.is_empty()
                || covered
                    .iter()
                    .any(|n| !failures.iter().any(|(f, _)| &f == n))
        })
        .collect();
    assert!(
        stale.is_empty(),
        "cases now passing, update KNOWN_FAILURES and docs/conformance.md: {stale:?}"
    );
}
