//! The probe generator of the `extract` target's differential oracle: a
//! message built around attachments whose octets, names and depths are
//! known, with the fuzz input as their contents and as noise around them.
//! The noise can never form a delimiter line (its lines starting with `--`
//! are indented), so every inserted attachment must be in the record.

use std::time::UNIX_EPOCH;

use authsense::ingest::extract::Envelope;
use sha2::{Digest, Sha256};

/// One inserted attachment as the record must list it.
#[derive(Debug)]
pub struct Inserted {
    pub name: String,
    pub size: u64,
    pub sha256: String,
    pub depth: u32,
}

pub fn envelope() -> Envelope {
    Envelope {
        uid: "P1".to_string(),
        received_at: UNIX_EPOCH,
        gateway: Default::default(),
        mailfrom: String::new(),
        rcptto: Vec::new(),
    }
}

/// The noise: `bytes` with every line that starts with `--` indented.
fn noise(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + 8);
    for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
        if i > 0 {
            out.push(b'\n');
        }
        if line.starts_with(b"--") {
            out.push(b' ');
        }
        out.extend_from_slice(line);
    }
    out
}

/// Base64 in lines of `width` characters, with a junk character (outside
/// the alphabet, never `-` or `=`) after every `junk_every`-th one.
fn base64(data: &[u8], width: usize, junk_every: usize) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut chars = Vec::new();
    for chunk in data.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            chars.push(if i <= chunk.len() {
                ALPHABET[(n >> (18 - 6 * i) & 63) as usize]
            } else {
                b'='
            });
        }
    }
    let mut out = Vec::new();
    for (i, c) in chars.iter().enumerate() {
        if i > 0 && i % width == 0 {
            out.extend_from_slice(b"\r\n");
        }
        out.push(*c);
        if junk_every > 0 && i % junk_every == junk_every - 1 {
            out.push(b"!*~#"[i % 4]);
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// The message and the attachments it holds. Byte 0 chooses the shape, byte
/// 1 the base64 line width and junk, the rest is split into the contents
/// of up to three attachments and the noise.
pub fn build(data: &[u8]) -> (Vec<u8>, Vec<Inserted>) {
    let shape = data.first().copied().unwrap_or(0);
    let style = data.get(1).copied().unwrap_or(0);
    let rest = data.get(2..).unwrap_or_default();
    let count = 1 + usize::from(shape % 3);
    let piece = rest.len() / (count + 1);
    let forwarded = shape & 4 != 0;
    let unclosed = shape & 8 != 0;
    let depth = u32::from(forwarded);
    let width = 4 + usize::from(style % 96);
    let junk_every = usize::from(style >> 4);

    let mut body: Vec<u8> = Vec::new();
    body.extend_from_slice(b"Content-Type: multipart/mixed; boundary=\"=_p1\"\r\n\r\n");
    body.extend_from_slice(&noise(&rest[..piece.min(rest.len())]));
    body.extend_from_slice(b"\r\n--=_p1\r\nContent-Type: text/plain\r\n\r\n");
    body.extend_from_slice(&noise(&rest[..piece.min(rest.len())]));
    if unclosed {
        body.extend_from_slice(b"\r\n--=_p1\r\nContent-Type: multipart/alternative; boundary=\"=_open\"\r\n\r\n--=_open\r\nContent-Type: text/html\r\n\r\n");
        body.extend_from_slice(&noise(&rest[..piece.min(rest.len())]));
    }
    let mut inserted = Vec::new();
    for i in 0..count {
        let content = &rest[piece * (i + 1)..(piece * (i + 2)).min(rest.len())];
        let name = format!("f{i}.bin");
        body.extend_from_slice(format!("\r\n--=_p1\r\nContent-Type: application/octet-stream; name=\"{name}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n").as_bytes());
        body.extend_from_slice(&base64(content, width, junk_every));
        inserted.push(Inserted {
            name,
            size: content.len() as u64,
            sha256: Sha256::digest(content)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
            depth,
        });
    }
    body.extend_from_slice(b"--=_p1--\r\n");
    let mut message =
        b"From: probe@example.org\r\nSubject: probe\r\nMIME-Version: 1.0\r\n".to_vec();
    if forwarded {
        message.extend_from_slice(b"Content-Type: multipart/mixed; boundary=\"=_fwd\"\r\n\r\n--=_fwd\r\nContent-Type: message/rfc822\r\n\r\nFrom: inner@example.org\r\n");
        message.extend_from_slice(&body);
        message.extend_from_slice(b"\r\n--=_fwd--\r\n");
    } else {
        message.extend_from_slice(&body);
    }
    (message, inserted)
}
