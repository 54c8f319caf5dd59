//! The crafted probes of issue 18 (tests/data/extraction-probes/), one per
//! way a message can hide an attachment or URL from a reader that is not
//! as lenient as a mail client, each with the size and SHA-256 that
//! Python's `email` package (the oracle, tests/extraction-diff/oracle.py)
//! computed for it once; tests/extraction-diff/run runs the oracle on the
//! same files live, through a real sensor. Each also asserts the anomaly
//! recorded.

use super::{envelope, extract, opts, sha256_hex, Record};

const EXE: (u64, &str) = (
    305,
    "ef0e6907bab6906ae669122b5fa1b7c2bb984431a83374af492a522d91504d4a",
);
const PDF: (u64, &str) = (
    216,
    "e5ee1eef853289a808fc1cf795306b5812c0762020b69767b5e0c923eb9a8954",
);

/// A probe as an MTA delivers it (CRLF line ends), and its record.
fn probe(name: &str) -> (Vec<u8>, Record) {
    let raw = super::data(&format!("extraction-probes/{name}"));
    let text = String::from_utf8(raw).expect("probes are UTF-8");
    let wire = text
        .replace("\r\n", "\n")
        .replace('\n', "\r\n")
        .into_bytes();
    let rec = extract(&wire, envelope(), &opts());
    (wire, rec)
}

/// (name, type, size, sha256, depth) of every attachment.
fn files(r: &Record) -> Vec<(Option<&str>, &str, u64, &str, u32)> {
    r.attachments
        .iter()
        .map(|a| {
            (
                a.name.as_deref(),
                a.mime_type.as_str(),
                a.size,
                a.sha256.as_str(),
                a.depth,
            )
        })
        .collect()
}

fn urls(r: &Record) -> Vec<(&str, u32)> {
    r.urls.iter().map(|u| (u.url.as_str(), u.depth)).collect()
}

/// The octets between the first `start` marker's end and the next `end`.
fn between(wire: &[u8], start: &str, end: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(wire);
    let from = text.find(start).expect("start marker") + start.len();
    let to = from + text[from..].find(end).expect("end marker");
    wire[from..to].to_vec()
}

#[test]
fn unclosed_inner_multipart_hides_nothing_after_it() {
    let (_, r) = probe("unclosed-inner.eml");
    assert_eq!(
        files(&r),
        [(
            Some("evil.exe"),
            "application/x-msdownload",
            EXE.0,
            EXE.1,
            0
        )]
    );
    assert_eq!(urls(&r), [("https://phish.example/login", 0)]);
    assert!(r.anomalies.unclosed_multipart);
    assert!(!r.anomalies.lenient_base64);
}

#[test]
fn unclosed_inner_multipart_inside_a_forwarded_message() {
    let (wire, r) = probe("unclosed-in-forward.eml");
    // The forwarded message as it stands in the part (the oracle writes it
    // out again with the missing delimiter added: docs/extraction.md).
    let fwd = between(
        &wire,
        "Content-Type: message/rfc822\r\n\r\n",
        "\r\n--outer\r\n",
    );
    let h = sha256_hex(&fwd);
    assert_eq!(
        files(&r),
        [
            (None, "message/rfc822", fwd.len() as u64, h.as_str(), 0),
            (
                Some("evil.exe"),
                "application/x-msdownload",
                EXE.0,
                EXE.1,
                1
            ),
            (Some("after.pdf"), "application/pdf", PDF.0, PDF.1, 0),
        ]
    );
    assert_eq!(urls(&r), [("https://inner-phish.example/pay", 1)]);
    assert!(r.anomalies.unclosed_multipart);
}

#[test]
fn nested_boundary_reuse() {
    let (_, r) = probe("boundary-reuse.eml");
    assert_eq!(
        files(&r),
        [(
            Some("evil.exe"),
            "application/x-msdownload",
            EXE.0,
            EXE.1,
            0
        )]
    );
    assert_eq!(urls(&r), [("https://reuse.example/a", 0)]);
    assert!(r.anomalies.degenerate_multipart);
}

#[test]
fn truncated_final_part_is_decoded_as_clients_do() {
    let (_, r) = probe("truncated-final.eml");
    assert_eq!(
        files(&r),
        [(
            Some("cut.pdf"),
            "application/pdf",
            211,
            "81272a62a8cd277a772b1fa55698de8608ea4faca899bc62f66c1c73ac558cfd",
            0
        )]
    );
    assert!(r.anomalies.unclosed_multipart);
    assert!(r.anomalies.lenient_base64);
}

#[test]
fn base64_with_junk_hashes_the_decoded_file() {
    let (_, r) = probe("base64-junk.eml");
    assert_eq!(
        files(&r),
        [(
            Some("junk.bin"),
            "application/octet-stream",
            EXE.0,
            EXE.1,
            0
        )]
    );
    assert!(r.anomalies.lenient_base64);
    assert!(!r.anomalies.unclosed_multipart);
}

#[test]
fn name_only_and_filename_over_name() {
    let (_, r) = probe("name-vs-filename.eml");
    assert_eq!(
        files(&r),
        [
            (Some("only-name.pdf"), "application/pdf", PDF.0, PDF.1, 0),
            (
                Some("real.exe"),
                "application/octet-stream",
                EXE.0,
                EXE.1,
                0
            ),
        ]
    );
}

#[test]
fn rfc2231_continuations() {
    let (_, r) = probe("rfc2231.eml");
    assert_eq!(
        files(&r),
        [(
            Some("Résumé of the quarter.exe"),
            "application/octet-stream",
            EXE.0,
            EXE.1,
            0
        )]
    );
}

#[test]
fn forwarded_phish_lists_its_attachments_and_urls_one_depth_down() {
    let (_, r) = probe("forwarded-phish.eml");
    assert_eq!(
        files(&r),
        [
            (
                None,
                "message/rfc822",
                754,
                "87ceaad80d1a0440b10de7aac1ad4188454948839fc86129fd783fffd500c168",
                0
            ),
            (Some("statement.pdf"), "application/pdf", PDF.0, PDF.1, 1),
        ]
    );
    assert_eq!(urls(&r), [("https://bank-verify.example/x?id=1", 1)]);
    // The forwarded message's From is not the record's.
    assert_eq!(
        r.from.and_then(|m| m.address).as_deref(),
        Some("alice@sender.example")
    );
}

#[test]
fn headerless_forwarded_message_ends_before_the_delimiters_crlf() {
    let (_, r) = probe("headerless-forward.eml");
    // RFC 2046 §5.1.1: the CRLF before "--b--" is the delimiter's (the
    // oracle counts it: docs/extraction.md).
    let body = b"Message removed\r\n";
    let h = sha256_hex(body);
    assert_eq!(
        files(&r),
        [(None, "message/rfc822", body.len() as u64, h.as_str(), 0)]
    );
    assert!(r.anomalies.missing_header_end);
}

#[test]
fn every_author_and_the_anomalies() {
    let (_, r) = probe("addresses.eml");
    let authors: Vec<(Option<&str>, Option<&str>)> = r
        .authors
        .iter()
        .map(|m| (m.name.as_deref(), m.address.as_deref()))
        .collect();
    assert_eq!(
        authors,
        [
            (None, None),
            (Some("Carol"), Some("carol@second.example")),
            (Some("Dave"), Some("dave@third.example")),
        ]
    );
    // The oracle's From address too: none (never a guessed domain).
    assert_eq!(r.from.as_ref().and_then(|m| m.address.as_deref()), None);
    assert!(r.anomalies.several_from_fields);
    assert!(r.anomalies.several_authors);
}

#[test]
fn split_encoded_words_and_an_unterminated_message_id() {
    let (_, r) = probe("encoded-words.eml");
    assert_eq!(r.subject.as_deref(), Some("Приветление"));
    assert_eq!(r.from.and_then(|m| m.name).as_deref(), Some("Иван"));
    assert_eq!(r.msg_id.as_deref(), Some("unterminated@sender.example"));
    assert!(r.anomalies.unterminated_msg_id);
    assert!(!r.anomalies.several_authors);
}
