//! Content-Transfer-Encodings undone the way mail clients undo them (RFC
//! 2045 §6), leniently, with a note of the leniency.
//!
//! Base64 (RFC 2045 §6.8): characters outside the alphabet are ignored, a
//! missing final padding is supplied, and decoding stops at the padding
//! that completes a quantum (what follows it is ignored). Each of these is
//! lenient and reported; a clean encoding is not. A lone final character
//! (one sextet, which encodes no octet) is dropped, also reported.
//!
//! Quoted-printable (RFC 2045 §6.7): `=XX` (either case) is the octet,
//! `=` before a line end is a soft line break, and any other `=` is kept as
//! it is, as clients do.

use std::borrow::Cow;

/// Base64 decoded leniently: the octets, and whether the input was not
/// clean base64 (a character outside the alphabet, missing or misplaced
/// padding, data after the padding, a dangling character).
pub fn base64(input: &[u8]) -> (Vec<u8>, bool) {
    let mut out = Vec::with_capacity(input.len() / 4 * 3 + 3);
    let mut lenient = false;
    let (mut quad, mut acc, mut pads) = (0u8, 0u32, 0u8);
    let mut done_at = None;
    for (i, &c) in input.iter().enumerate() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => {
                if quad >= 2 {
                    pads += 1;
                    if quad + pads >= 4 {
                        done_at = Some(i + 1);
                        break;
                    }
                } else {
                    lenient = true;
                }
                continue;
            }
            b'\r' | b'\n' | b' ' | b'\t' => continue,
            _ => {
                lenient = true;
                continue;
            }
        };
        if pads > 0 {
            // Data after a padding that did not complete its quantum.
            lenient = true;
        }
        acc = acc << 6 | u32::from(v);
        quad += 1;
        if quad == 4 {
            out.extend_from_slice(&[(acc >> 16) as u8, (acc >> 8) as u8, acc as u8]);
            (quad, acc) = (0, 0);
        }
    }
    match (done_at, quad) {
        (Some(end), _) => {
            let tail = &input[end..];
            if tail.iter().any(|c| !c.is_ascii_whitespace()) {
                lenient = true;
            }
        }
        (None, 0) => {}
        (None, _) => lenient = true,
    }
    match quad {
        2 => out.push((acc >> 4) as u8),
        3 => out.extend_from_slice(&[(acc >> 10) as u8, (acc >> 2) as u8]),
        _ => {}
    }
    (out, lenient)
}

/// Quoted-printable decoded as Python's `binascii.a2b_qp` (and so the
/// `email` package) does: line ends kept as they are.
pub fn quoted_printable(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        let c = input[i];
        i += 1;
        if c != b'=' {
            out.push(c);
            continue;
        }
        match input.get(i) {
            None => break,
            Some(b'\n' | b'\r') => {
                // A soft line break: up to and including the next LF.
                while i < input.len() && input[i] != b'\n' {
                    i += 1;
                }
                i += 1;
            }
            Some(b'=') => {
                out.push(b'=');
                i += 1;
            }
            Some(&h) => match (hex(h), input.get(i + 1).copied().and_then(hex)) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 2;
                }
                _ => out.push(b'='),
            },
        }
    }
    out
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// A body's octets after its transfer encoding `cte` (lowercase) is
/// undone; `lenient` is set when base64 was not clean. Unknown encodings
/// (and `7bit`, `8bit`, `binary`) are the octets as they are.
pub fn transfer_decode<'a>(cte: &str, body: &'a [u8], lenient: &mut bool) -> Cow<'a, [u8]> {
    match cte {
        "base64" => {
            let (out, odd) = base64(body);
            *lenient |= odd;
            Cow::Owned(out)
        }
        "quoted-printable" => Cow::Owned(quoted_printable(body)),
        _ => Cow::Borrowed(body),
    }
}

/// Text in `charset` (lowercase), as a client shows it: unknown charsets
/// and invalid sequences read as UTF-8 with replacement characters.
pub fn text<'a>(bytes: &'a [u8], charset: Option<&str>) -> Cow<'a, str> {
    let decoder = charset
        .filter(|c| !matches!(*c, "us-ascii" | "ascii" | "utf-8" | "utf8"))
        .and_then(|c| mail_parser::decoders::charsets::map::charset_decoder(c.as_bytes()));
    match decoder {
        Some(decode) => Cow::Owned(decode(bytes)),
        None => String::from_utf8_lossy(bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_as_clients_decode_it() {
        let cases: [(&[u8], &[u8], bool); 9] = [
            (b"QUJD\r\nREVG\r\n", b"ABCDEF", false),
            (b"QUJDRA==\r\n", b"ABCD", false),
            (b"QUJD\r\nRA==\r\nRUZH", b"ABCD", true),
            (b"QUJ!D", b"ABC", true),
            (b"QUJDRA", b"ABCD", true),
            (b"QUJDR", b"ABC", true),
            (b"QQ=Q=Q", b"A\x04", true),
            (b"QUJD=RA", b"ABCD", true),
            (b"", b"", false),
        ];
        for (input, want, odd) in cases {
            assert_eq!(base64(input), (want.to_vec(), odd), "{input:?}");
        }
    }

    #[test]
    fn quoted_printable_as_clients_decode_it() {
        let cases: [(&[u8], &[u8]); 4] = [
            (b"=41=42\r\nx=\r\ny =4g =\r\n", b"AB\r\nxy =4g "),
            (b"a=3d=3D= b  \r\nc", b"a=== b  \r\nc"),
            (b"=\nx", b"x"),
            (b"end=", b"end"),
        ];
        for (input, want) in cases {
            assert_eq!(quoted_printable(input), want.to_vec(), "{input:?}");
        }
    }

    #[test]
    fn charsets() {
        assert_eq!(text(b"caf\xe9", Some("iso-8859-1")), "café");
        assert_eq!(text(b"caf\xc3\xa9", None), "café");
        assert_eq!(text(b"caf\xe9", Some("x-unknown")), "caf\u{fffd}");
    }
}
