//! RFC 2047 encoded words in unstructured header text (`Subject:`) and
//! display names, decoded the way mail clients decode them: the white
//! space between two adjacent encoded words is dropped (RFC 2047 §6.2), and
//! adjacent encoded words of one charset are joined as octets before the
//! charset is applied, so a UTF-8 character split across two of them (which
//! §5 forbids, but senders do) comes out whole instead of as two U+FFFD.
//! Encoded words inside a longer word are decoded too, as clients do.

use super::decode;

/// One piece of decoded text: literal text, or the octets of a run of
/// encoded words in one charset.
enum Piece {
    Text(String),
    Encoded { charset: String, octets: Vec<u8> },
}

/// `value` (unfolded or not) with its encoded words decoded.
pub fn decode_unstructured(value: &str) -> String {
    let unfolded: String = value.chars().filter(|&c| c != '\r' && c != '\n').collect();
    let mut pieces: Vec<Piece> = Vec::new();
    let mut rest = unfolded.as_str();
    while let Some(start) = rest.find("=?") {
        let Some((len, charset, octets)) = encoded_word(&rest[start..]) else {
            push_text(&mut pieces, &rest[..start + 2]);
            rest = &rest[start + 2..];
            continue;
        };
        let before = &rest[..start];
        let joins = before.chars().all(|c| c == ' ' || c == '\t')
            && matches!(pieces.last(), Some(Piece::Encoded { .. }));
        if !joins {
            push_text(&mut pieces, before);
        }
        match pieces.last_mut() {
            Some(Piece::Encoded {
                charset: c,
                octets: o,
            }) if joins && c.eq_ignore_ascii_case(&charset) => {
                o.extend_from_slice(&octets);
            }
            _ => pieces.push(Piece::Encoded { charset, octets }),
        }
        rest = &rest[start + len..];
    }
    push_text(&mut pieces, rest);
    let mut out = String::with_capacity(unfolded.len());
    for p in pieces {
        match p {
            Piece::Text(t) => out.push_str(&t),
            Piece::Encoded { charset, octets } => {
                out.push_str(&decode::text(&octets, Some(&charset)));
            }
        }
    }
    out
}

fn push_text(pieces: &mut Vec<Piece>, text: &str) {
    if text.is_empty() {
        return;
    }
    match pieces.last_mut() {
        Some(Piece::Text(t)) => t.push_str(text),
        _ => pieces.push(Piece::Text(text.to_string())),
    }
}

/// `=?charset[*lang]?B|Q?text?=` at the start of `s`: its length, the
/// charset (lowercased, language dropped, RFC 2231 §5) and the octets.
fn encoded_word(s: &str) -> Option<(usize, String, Vec<u8>)> {
    let body = s.strip_prefix("=?")?;
    let q1 = body.find('?')?;
    let charset = &body[..q1];
    let enc = body.get(q1 + 1..q1 + 2)?;
    if body.get(q1 + 2..q1 + 3)? != "?" || charset.is_empty() {
        return None;
    }
    let text_start = q1 + 3;
    // RFC 2047 §2: the encoded text holds no `?` and no space, so it ends
    // at the first `?`, which must begin `?=`. Looking no further keeps the
    // work linear however many `=?` a value holds.
    let end = body[text_start..].find('?')? + text_start;
    if body.get(end..end + 2)? != "?=" {
        return None;
    }
    let text = &body[text_start..end];
    if text.contains([' ', '\t']) || !charset.is_ascii() {
        return None;
    }
    let octets = match enc {
        "B" | "b" => decode::base64(text.as_bytes()).0,
        "Q" | "q" => q_decode(text.as_bytes()),
        _ => return None,
    };
    let charset = charset
        .split('*')
        .next()
        .unwrap_or(charset)
        .to_ascii_lowercase();
    Some((2 + end + 2, charset, octets))
}

/// RFC 2047 §4.2 "Q": `_` is a space, `=XX` an octet.
fn q_decode(text: &[u8]) -> Vec<u8> {
    let spaced: Vec<u8> = text
        .iter()
        .map(|&c| if c == b'_' { b' ' } else { c })
        .collect();
    decode::quoted_printable(&spaced)
}

#[cfg(test)]
mod tests {
    use super::decode_unstructured;

    #[test]
    fn encoded_words_as_clients_read_them() {
        let cases = [
            ("plain text", "plain text"),
            ("=?utf-8?q?J=C3=B6rg?= M", "Jörg M"),
            // A UTF-8 character split across two words.
            (
                "=?utf-8?b?0J/RgNC40LLQtdGC0LvQ?= =?utf-8?b?tdC90LjQtQ==?=",
                "Приветление",
            ),
            ("=?ISO-8859-1?Q?a?=\r\n =?iso-8859-1?q?_b?= c", "a b c"),
            ("=?utf-8?q?a?= x =?utf-8?q?b?=", "a x b"),
            ("=?utf-8*en?Q?a_b?=", "a b"),
            ("=?bogus", "=?bogus"),
            ("=?utf-8?x?abc?= y", "=?utf-8?x?abc?= y"),
            ("pre=?utf-8?q?fix?=", "prefix"),
            ("=?utf-8?q?a?b?=", "=?utf-8?q?a?b?="),
        ];
        for (raw, want) in cases {
            assert_eq!(decode_unstructured(raw), want, "{raw}");
        }
    }

    #[test]
    fn many_openings_take_linear_time() {
        let value = "=?x?q?a".repeat(150_000);
        let t = std::time::Instant::now();
        assert_eq!(decode_unstructured(&value), value);
        assert!(
            t.elapsed() < std::time::Duration::from_secs(5),
            "{:?}",
            t.elapsed()
        );
    }
}
