//! Black-box tests of the sensor's metadata extraction
//! (`authsense::ingest::extract::extract`) on crafted messages in
//! `tests/data/messages/`, the issue-18 probes in
//! `tests/data/extraction-probes/`, hostile inputs built here, and the Zeek
//! `smtp.log`/`files.log` baselines in `tests/data/zeek-smtp/` as a field
//! oracle.

use std::path::PathBuf;
use std::time::{Duration, UNIX_EPOCH};

use authsense::ingest::extract::{extract, Envelope, ExtractOptions};
use authsense::model::{AuthSource, Gateway, Record};

#[path = "extract/hostile.rs"]
mod hostile;
#[path = "extract/probes.rs"]
mod probes;
// The extract fuzz target's probe generator, run here on fixed inputs.
#[path = "../fuzz/fuzz_targets/probe.rs"]
mod fuzz_probe;
#[path = "extract/zeek.rs"]
mod zeek;
use sha2::{Digest, Sha256};

fn data(path: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(path);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn envelope() -> Envelope {
    Envelope {
        uid: "U1".to_string(),
        received_at: UNIX_EPOCH + Duration::from_millis(1_704_189_600_123),
        gateway: Gateway {
            ip: "10.0.0.25".to_string(),
            port: 42424,
            helo: "pps.example.com".to_string(),
            ..Gateway::default()
        },
        mailfrom: "no-reply@example.com".to_string(),
        rcptto: vec!["bob@example.com".to_string()],
    }
}

fn opts() -> ExtractOptions {
    ExtractOptions {
        trusted_authserv_ids: vec!["MX.example.com".to_string(), "gw.example.com".to_string()],
        ..ExtractOptions::default()
    }
}

fn run(file: &str) -> Record {
    extract(&data(&format!("messages/{file}")), envelope(), &opts())
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn envelope_fields_are_copied() {
    let raw = data("messages/no-stamp.eml");
    let r = extract(&raw, envelope(), &opts());
    assert_eq!(r.id, None);
    assert_eq!(r.ts, "2024-01-02T10:00:00.123Z");
    assert_eq!(r.uid, "U1");
    assert_eq!(r.gateway.helo, "pps.example.com");
    assert_eq!(r.mailfrom, "no-reply@example.com");
    assert_eq!(r.rcptto, vec!["bob@example.com"]);
    assert_eq!(r.size, raw.len() as u64);
}

#[test]
fn x_agari_preferred_over_authentication_results() {
    let r = run("xagari-preferred.eml");
    assert_eq!(r.auth.source, AuthSource::XAgari);
    assert_eq!(r.auth.authserv_id.as_deref(), Some("mx.example.com"));
    assert_eq!(r.auth.spf.as_ref().map(|m| m.result.as_str()), Some("pass"));
    assert!(r
        .auth
        .raw
        .as_deref()
        .is_some_and(|v| v.starts_with("mx.example.com; spf=pass")));
    assert_eq!(
        r.auth.conflicts,
        vec!["spf: x-agari=pass authentication-results=fail"]
    );
    assert_eq!(r.original.mailfrom.as_deref(), Some("alice@sender.example"));
    assert_eq!(r.original.helo.as_deref(), Some("mail.sender.example"));
    // The Received below the stamp, not the internal hop at the top.
    assert_eq!(r.original.client_ip.as_deref(), Some("192.0.2.10"));
    assert_eq!(r.path.len(), 3);
    assert_eq!(r.path[0].from_ip.as_deref(), Some("10.1.1.1"));
    assert_eq!(r.path[2].by_host.as_deref(), Some("mail.sender.example"));
}

#[test]
fn falls_back_to_folded_authentication_results() {
    let r = run("ar-fallback.eml");
    assert_eq!(r.auth.source, AuthSource::AuthenticationResults);
    let spf = r.auth.spf.as_ref().expect("spf");
    assert_eq!(spf.result, "pass");
    assert_eq!(r.original.helo.as_deref(), Some("mail.sender.example"));
    assert_eq!(r.auth.dkim.len(), 1);
    assert_eq!(r.auth.dkim[0].result, "pass");
    assert!(r.auth.dkim[0]
        .props
        .contains(&("header.d".to_string(), "sender.example".to_string())));
    assert_eq!(
        r.auth.dmarc.as_ref().map(|m| m.result.as_str()),
        Some("pass")
    );
    assert_eq!(r.auth.arc, None);
    // The perimeter's Received, below its stamp; IPv6 literal normalised.
    assert_eq!(r.original.client_ip.as_deref(), Some("2001:db8::25"));
    assert_eq!(r.path[0].from_ip.as_deref(), Some("2001:db8::25"));
    assert_eq!(
        r.subject.as_deref(),
        Some("a subject that is folded over two lines")
    );
}

#[test]
fn untrusted_authserv_ids_are_ignored_and_listed() {
    let r = run("untrusted.eml");
    assert_eq!(r.auth.source, AuthSource::AuthenticationResults);
    assert_eq!(r.auth.authserv_id.as_deref(), Some("gw.example.com"));
    assert_eq!(
        r.auth.spf.as_ref().map(|m| m.result.as_str()),
        Some("softfail")
    );
    assert!(r.auth.dkim.is_empty());
    assert_eq!(r.auth.untrusted_ids, vec!["evil.example", "other.example"]);
    assert!(r.auth.conflicts.is_empty());
}

#[test]
fn headers_inside_an_attached_message_are_ignored() {
    let raw = data("messages/nested-ar.eml");
    let r = extract(&raw, envelope(), &opts());
    assert_eq!(r.auth.source, AuthSource::None);
    assert_eq!(r.auth.spf, None);
    assert_eq!(r.auth.untrusted_ids, vec!["elsewhere.example"]);
    assert_eq!(r.original.client_ip.as_deref(), Some("192.0.2.50"));
    assert_eq!(r.path.len(), 1);
    // One attachment: the raw nested message, up to the CRLF before the
    // closing delimiter; its headers do not count, its URLs do.
    let text = String::from_utf8_lossy(&raw);
    let start = text
        .find("Content-Type: message/rfc822\r\n\r\n")
        .expect("part")
        + 32;
    let end = text.find("\r\n--outer--").expect("end");
    assert_eq!(r.attachments.len(), 1);
    let a = &r.attachments[0];
    assert_eq!(a.mime_type, "message/rfc822");
    assert_eq!(a.size, (end - start) as u64);
    assert_eq!(a.sha256, sha256_hex(&raw[start..end]));
    // The forwarded message's URL is listed, one depth down (issue 18).
    let urls: Vec<(&str, u32)> = r.urls.iter().map(|u| (u.url.as_str(), u.depth)).collect();
    assert_eq!(urls, [("http://inner.example/should-not-count", 1)]);
    assert_eq!(a.depth, 0);
}

#[test]
fn unexpanded_template_is_unknown_never_pass() {
    let r = run("template.eml");
    assert_eq!(r.auth.source, AuthSource::XAgari);
    assert_eq!(
        r.auth.spf.as_ref().map(|m| m.result.as_str()),
        Some("unknown")
    );
    assert_eq!(r.original.mailfrom.as_deref(), Some("frank@sender.example"));
    assert_eq!(r.original.helo, None);
    assert_eq!(r.original.client_ip.as_deref(), Some("192.0.2.11"));
}

#[test]
fn empty_result_list_is_still_the_chosen_header() {
    let r = run("empty-results.eml");
    assert_eq!(r.auth.source, AuthSource::XAgari);
    assert_eq!(r.auth.authserv_id.as_deref(), Some("mx.example.com"));
    // The X-Agari header carries no spf result, so spf comes from the
    // trusted Authentication-Results below it, and says so.
    let spf = r.auth.spf.as_ref().expect("spf from the AR");
    assert_eq!(spf.result, "pass");
    assert_eq!(spf.source, AuthSource::AuthenticationResults);
    assert!(r.auth.conflicts.is_empty());
    assert_eq!(r.original.mailfrom.as_deref(), Some("gina@sender.example"));
    assert_eq!(r.original.client_ip.as_deref(), Some("192.0.2.12"));
}

#[test]
fn client_ip_from_topmost_received_without_stamp() {
    let r = run("no-stamp.eml");
    assert_eq!(r.auth.source, AuthSource::None);
    assert_eq!(r.original.client_ip.as_deref(), Some("192.0.2.13"));
    assert_eq!(r.original.mailfrom, None);
    assert_eq!(r.path.len(), 2);
}

#[test]
fn attachments_are_hashed_from_decoded_bytes() {
    let r = run("attachments.eml");
    let mut pdf = b"%PDF-1.4\n% fake pdf for tests\n".to_vec();
    pdf.extend(0u8..=255);
    pdf.extend_from_slice(b"\n%%EOF\n");
    let latin = b"Caf\xe9 cr\xe8me, na\xefve fa\xe7ade.";
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(0u8..64);
    let got: Vec<(Option<&str>, &str, u64, &str)> = r
        .attachments
        .iter()
        .map(|a| {
            (
                a.name.as_deref(),
                a.mime_type.as_str(),
                a.size,
                a.sha256.as_str(),
            )
        })
        .collect();
    let (h_pdf, h_latin, h_png) = (sha256_hex(&pdf), sha256_hex(latin), sha256_hex(&png));
    assert_eq!(
        got,
        vec![
            (
                Some("report.pdf"),
                "application/pdf",
                pdf.len() as u64,
                h_pdf.as_str()
            ),
            (
                Some("notes.txt"),
                "text/plain",
                latin.len() as u64,
                h_latin.as_str()
            ),
            (
                Some("logo.png"),
                "image/png",
                png.len() as u64,
                h_png.as_str()
            ),
        ]
    );
}

#[test]
fn urls_are_deduplicated_in_order() {
    let r = run("attachments.eml");
    let got: Vec<(&str, &str)> = r
        .urls
        .iter()
        .map(|u| (u.url.as_str(), u.host.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("https://docs.example.org/report?id=1", "docs.example.org"),
            ("http://WWW.Other.Example:8080/path", "www.other.example"),
            (
                "https://docs.example.org/report?id=1&x=2",
                "docs.example.org"
            ),
            ("http://cdn.example.net/logo.png", "cdn.example.net"),
        ]
    );
    assert!(!r.anomalies.truncated);
}

#[test]
fn rfc2047_and_address_headers() {
    let r = run("rfc2047.eml");
    let from = r.from.as_ref().expect("from");
    assert_eq!(from.name.as_deref(), Some("Jörg Müller"));
    assert_eq!(from.address.as_deref(), Some("joerg@sender.example"));
    assert_eq!(
        r.sender.as_ref().and_then(|m| m.address.as_deref()),
        Some("bot@lists.example")
    );
    let names = |l: &[authsense::model::Mailbox]| -> Vec<(Option<String>, Option<String>)> {
        l.iter()
            .map(|m| (m.name.clone(), m.address.clone()))
            .collect()
    };
    let s = |v: &str| Some(v.to_string());
    assert_eq!(
        names(&r.reply_to),
        vec![
            (s("François"), s("francois@sender.example")),
            (None, s("other@sender.example"))
        ]
    );
    assert_eq!(
        names(&r.to),
        vec![
            (s("Bob"), s("bob@example.com")),
            (None, s("carol@example.com"))
        ]
    );
    assert_eq!(
        names(&r.cc),
        vec![
            (None, s("dan@example.com")),
            (s("Eve E."), s("eve@example.com"))
        ]
    );
    assert_eq!(r.subject.as_deref(), Some("Échange de données (part 2)"));
    assert_eq!(r.date.as_deref(), Some("Wed, 3 Jan 2024 09:30:00 +0100"));
    assert_eq!(r.msg_id.as_deref(), Some("abc.123@sender.example"));
    assert_eq!(r.in_reply_to.as_deref(), Some("parent@sender.example"));
    assert_eq!(
        r.references,
        vec!["root@sender.example", "parent@sender.example"]
    );
    assert_eq!(r.list_id.as_deref(), Some("team.lists.example"));
    assert_eq!(r.user_agent.as_deref(), Some("Evolution 3.50"));
}

#[test]
fn octet_anomalies_are_counted() {
    let raw = b"Subject: caf\xe9\nFrom: a@example.org\r\n\r\nbody\x00\x00\nend\r\n";
    let r = extract(raw, envelope(), &opts());
    assert_eq!(r.anomalies.bare_lf, 2);
    assert_eq!(r.anomalies.nul, 2);
    assert_eq!(r.anomalies.eight_bit_headers, 1);
    assert!(!r.anomalies.truncated);
}

#[test]
fn records_stored_before_issue_18_still_read() {
    use authsense::model::{Anomalies, Attachment, UrlInfo};
    let a: Attachment = serde_json::from_str(
        r#"{"name":"r.pdf","mime_type":"application/pdf","size":1,"sha256":"00"}"#,
    )
    .expect("old attachment");
    assert_eq!(a.depth, 0);
    let u: UrlInfo = serde_json::from_str(r#"{"url":"https://a.example/","host":"a.example"}"#)
        .expect("old url");
    assert_eq!(u.depth, 0);
    let old = r#"{"bare_lf":1,"nul":0,"eight_bit_headers":0,"truncated":false}"#;
    let an: Anomalies = serde_json::from_str(old).expect("old anomalies");
    assert!(!an.lenient_base64 && !an.unclosed_multipart && !an.unterminated_msg_id);
    // Unset flags and depth 0 are left out, so such records write as before.
    assert_eq!(serde_json::to_string(&an).expect("json"), old);
    let json = serde_json::to_string(&a).expect("json");
    assert!(!json.contains("depth"), "{json}");
    let an = Anomalies {
        lenient_base64: true,
        ..Anomalies::default()
    };
    assert!(serde_json::to_string(&an)
        .expect("json")
        .contains(r#""lenient_base64":true"#));
}

#[test]
fn fuzz_probe_generator_loses_no_attachment() {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for shape in 0..=255u8 {
        let mut data = vec![shape, shape.wrapping_mul(37)];
        data.extend((0..300).map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        }));
        let (message, inserted) = fuzz_probe::build(&data);
        let r = extract(&message, fuzz_probe::envelope(), &ExtractOptions::default());
        for want in &inserted {
            assert!(
                r.attachments
                    .iter()
                    .any(|a| a.name.as_deref() == Some(want.name.as_str())
                        && a.size == want.size
                        && a.sha256 == want.sha256
                        && a.depth == want.depth),
                "shape {shape}: {want:?} not in {:?}",
                r.attachments
            );
        }
    }
}
