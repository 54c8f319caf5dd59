//! Hostile and malformed input: no panic, bounded work, `truncated` set
//! when a cap cut the reading short.

use super::{envelope, extract, opts, ExtractOptions};

/// A deterministic byte soup (xorshift), CR, LF and all.
fn garbage(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

#[test]
fn garbage_does_not_panic() {
    for seed in 1..20u64 {
        let raw = garbage(4096, seed);
        let r = extract(&raw, envelope(), &opts());
        assert_eq!(r.size, 4096);
        assert_eq!(r.uid, "U1");
    }
    for raw in [
        &b""[..],
        b"\r\n\r\n",
        b"--",
        b"Content-Type: message/rfc822\r\n\r\n--\r\n",
    ] {
        let r = extract(raw, envelope(), &opts());
        assert_eq!(r.size, raw.len() as u64);
    }
}

#[test]
fn binary_without_header_end_is_truncated() {
    let raw: Vec<u8> = garbage(2 << 20, 7)
        .into_iter()
        .map(|b| if b == b'\n' { b'x' } else { b })
        .collect();
    let r = extract(&raw, envelope(), &opts());
    assert!(r.anomalies.truncated);
    assert!(r.attachments.is_empty() && r.urls.is_empty());
}

fn nested_multipart(depth: usize) -> Vec<u8> {
    let mut s = String::from("From: a@example.org\r\nSubject: deep\r\n");
    for i in 0..depth {
        s.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n--b{i}\r\n"
        ));
    }
    s.push_str("Content-Type: application/octet-stream; name=\"deep.bin\"\r\n\r\nx\r\n");
    for i in (0..depth).rev() {
        s.push_str(&format!("--b{i}--\r\n"));
    }
    s.into_bytes()
}

#[test]
fn deep_multipart_is_truncated() {
    let r = extract(&nested_multipart(200), envelope(), &opts());
    assert!(r.anomalies.truncated);
    assert!(r.attachments.is_empty());
    assert_eq!(r.subject.as_deref(), Some("deep"));
    // Within the cap the leaf is found.
    let r = extract(&nested_multipart(10), envelope(), &opts());
    assert!(!r.anomalies.truncated);
    assert_eq!(r.attachments.len(), 1);
}

#[test]
fn deep_message_rfc822_chain_fits_a_small_stack() {
    // mail-parser turns this into a recursive value; without the guard its
    // drop overflows a 2 MiB stack (a tokio worker's).
    let mut s = String::from("Subject: chain\r\n");
    for _ in 0..50_000 {
        s.push_str("Content-Type: message/rfc822\r\n\r\n");
    }
    s.push_str("Subject: x\r\n\r\nhi\r\n");
    let r = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || extract(s.as_bytes(), envelope(), &ExtractOptions::default()))
        .expect("spawn")
        .join()
        .expect("no panic");
    assert!(r.anomalies.truncated);
}

#[test]
fn part_cap_marks_truncated() {
    let mut s = String::from("Content-Type: multipart/mixed; boundary=b\r\n\r\n");
    for i in 0..50 {
        s.push_str(&format!(
            "--b\r\nContent-Type: application/zip; name=f{i}.zip\r\n\r\nx\r\n"
        ));
    }
    s.push_str("--b--\r\n");
    let small = ExtractOptions {
        max_parts: 10,
        ..opts()
    };
    let r = extract(s.as_bytes(), envelope(), &small);
    assert!(r.anomalies.truncated);
    assert!(r.attachments.len() < 10);
    let r = extract(s.as_bytes(), envelope(), &opts());
    assert!(!r.anomalies.truncated);
    assert_eq!(r.attachments.len(), 50);
}
