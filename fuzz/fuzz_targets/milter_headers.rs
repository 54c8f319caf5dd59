//! The milter's per-message path for headers and body, without the network
//! and DNS: `milter::stamp::Forgeries::observe` (which incoming
//! authentication headers to delete, RFC 8601 §5) and
//! `milter::capture::Capture` (the message rebuilt for DKIM and ARC).
//!
//! Input layout: byte 0 sets the capture cap (`b0 * 32` octets), byte 1 the
//! body chunk size (`(b1 + 1) * 16`); the rest is a message. Its header
//! block (up to the first empty line) is cut into fields as an MTA hands
//! them to a milter: name up to the first `:`, value after it, folded
//! continuation lines joined with a bare LF. Invalid UTF-8 is replaced, as
//! in src/milter/callbacks.rs. The rest is the body, in chunks.
//!
//! Oracles:
//! - every `X-Agari-Authentication-Results` is deleted; `Authentication-Results`
//!   indexes are within the number of such headers seen, and deletions come
//!   strictly descending per name (Postfix renumbers after each delete);
//! - the capture's header block has CRLF line ends only and, CRs aside, is
//!   exactly the fields given; the body is kept whole or not at all, and is
//!   whole exactly when the capture fits the cap.
#![no_main]

use authsense::milter::capture::Capture;
use authsense::milter::stamp::{Forgeries, AUTH_RESULTS, X_AGARI};
use libfuzzer_sys::fuzz_target;

const OUR_ID: &str = "mx.example.com";

/// Splits a raw message into (name, value) fields and the body.
fn split(msg: &[u8]) -> (Vec<(String, String)>, &[u8]) {
    let mut fields: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let mut rest = msg;
    loop {
        if rest.is_empty() {
            break;
        }
        let (line, next) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            rest = next;
            break;
        }
        match (line[0], fields.last_mut()) {
            (b' ' | b'\t', Some((_, value))) => {
                value.push(b'\n');
                value.extend_from_slice(line);
            }
            _ => {
                let (name, value) = match line.iter().position(|&b| b == b':') {
                    Some(i) => (&line[..i], &line[i + 1..]),
                    None => (line, &line[line.len()..]),
                };
                fields.push((name.to_vec(), value.to_vec()));
            }
        }
        rest = next;
    }
    let fields = fields
        .into_iter()
        .map(|(n, v)| {
            (
                String::from_utf8_lossy(&n).into_owned(),
                String::from_utf8_lossy(&v).into_owned(),
            )
        })
        .collect();
    (fields, rest)
}

fuzz_target!(|data: &[u8]| {
    let [b0, b1, msg @ ..] = data else { return };
    let cap = *b0 as usize * 32;
    let chunk = (*b1 as usize + 1) * 16;
    let (fields, body) = split(msg);

    let mut forgeries = Forgeries::default();
    let mut capture = Capture::new(cap);
    let (mut xa_seen, mut ar_seen) = (0i32, 0i32);
    let mut want_headers = Vec::new();
    for (name, value) in &fields {
        forgeries.observe(name, value, OUR_ID);
        capture.header(name, value.as_bytes());
        // Postfix's count: the label, then space, tab or the colon.
        let label = name.trim_end_matches([' ', '\t']);
        if label.eq_ignore_ascii_case(X_AGARI) {
            xa_seen += 1;
        } else if label.eq_ignore_ascii_case(AUTH_RESULTS) {
            ar_seen += 1;
        }
        want_headers.extend_from_slice(name.as_bytes());
        want_headers.push(b':');
        want_headers.extend_from_slice(value.as_bytes());
        want_headers.push(b'\n');
    }
    want_headers.push(b'\n');
    let chunks: Vec<&[u8]> = body.chunks(chunk).collect();
    for c in &chunks {
        capture.body(c);
    }
    let (raw, complete) = capture.finish();

    // Forgeries.
    assert_eq!(forgeries.x_agari, (1..=xa_seen).collect::<Vec<_>>());
    assert!(forgeries.ar.iter().all(|&i| 1 <= i && i <= ar_seen));
    let dels: Vec<(&str, i32)> = forgeries.deletions().collect();
    assert_eq!(dels.len(), forgeries.len());
    assert_eq!(forgeries.is_empty(), dels.is_empty());
    for name in [X_AGARI, AUTH_RESULTS] {
        let idx: Vec<i32> = dels.iter().filter(|d| d.0 == name).map(|d| d.1).collect();
        assert!(idx.windows(2).all(|w| w[0] > w[1]), "{name}: {idx:?}");
        let seen = if name == X_AGARI { xa_seen } else { ar_seen };
        assert!(
            idx.iter().all(|&i| 1 <= i && i <= seen),
            "{name}: {idx:?} of {seen}"
        );
    }

    // Capture: header block, then all of the body or none of it.
    let header_len = 2 + fields
        .iter()
        .map(|(n, v)| n.len() + 1 + v.len() + bare_lfs(v.as_bytes()) + 2)
        .sum::<usize>();
    assert!(raw.len() >= header_len, "capture shorter than its headers");
    let (head, kept_body) = raw.split_at(header_len);
    assert!(
        head.iter()
            .enumerate()
            .all(|(i, &b)| b != b'\n' || (i > 0 && head[i - 1] == b'\r')),
        "bare LF in the captured header block"
    );
    let strip = |v: &[u8]| {
        v.iter()
            .copied()
            .filter(|&b| b != b'\r')
            .collect::<Vec<u8>>()
    };
    assert_eq!(strip(head), strip(&want_headers), "captured headers differ");
    let fits = chunks.is_empty() || header_len + body.len() <= cap;
    assert_eq!(
        complete,
        fits,
        "cap {cap}, headers {header_len}, body {}",
        body.len()
    );
    if complete {
        assert_eq!(kept_body, body);
    } else {
        assert!(kept_body.is_empty());
    }
});

/// LFs not preceded by CR (the capture writes CRLF for them).
fn bare_lfs(v: &[u8]) -> usize {
    v.iter()
        .enumerate()
        .filter(|&(i, &b)| b == b'\n' && (i == 0 || v[i - 1] != b'\r'))
        .count()
}
