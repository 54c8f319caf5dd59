//! The lexical layer of the address grammar (RFC 5322 §3.2): CFWS (white
//! space, folding and nested comments, which separate tokens and are then
//! dropped), atoms, quoted-strings, domain-literals and the specials the
//! address syntax uses (`< > @ , ; : .`).
//!
//! One pass over the bytes, no recursion: a comment's nesting is a counter,
//! so any input is lexed in linear time. Every delimiter is ASCII and bytes
//! of non-ASCII characters (RFC 6532) only ever count as atom or text bytes,
//! so every slice taken is on a character boundary.

use super::AddressError;
use std::borrow::Cow;

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// `1*atext` (RFC 5322 §3.2.3).
    Atom,
    /// A quoted-string (§3.2.4); the text is its content, unescaped.
    Quoted,
    /// A domain-literal (§3.4.1); the text is `[...]` without white space.
    Literal,
    /// One of `< > @ , ; : .`.
    Special(u8),
}

/// One token and what preceded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Token<'a> {
    pub kind: Kind,
    pub text: Cow<'a, str>,
    /// CFWS (white space or a comment) came right before it.
    pub space_before: bool,
    /// Octet offset in the field value.
    pub at: usize,
}

/// RFC 5322 §3.2.3 `atext`, plus non-ASCII (RFC 6532 §3.2).
pub(super) fn is_atext(b: u8) -> bool {
    b >= 0x80 || b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b)
}

/// White space as it appears inside a field value: WSP, and the CR and LF
/// of folding (a line break inside a value is always followed by WSP).
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn err(at: usize, problem: &'static str) -> AddressError {
    AddressError {
        offset: at,
        problem,
    }
}

/// The tokens of `value`, CFWS dropped.
///
/// # Errors
/// An unterminated comment, quoted-string or domain-literal, a NUL, a
/// control character outside quotes and comments, or a byte the address
/// grammar has no place for (`\`, `)`, `]` outside their constructs).
pub(super) fn tokens(value: &str) -> Result<Vec<Token<'_>>, AddressError> {
    let b = value.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut space = false;
    while let Some(&c) = b.get(i) {
        let start = i;
        let (kind, text, end) = match c {
            c if is_space(c) => {
                space = true;
                i += 1;
                continue;
            }
            b'(' => {
                i = comment_end(b, i)?;
                space = true;
                continue;
            }
            b'"' => {
                let (text, end) = quoted(value, i)?;
                (Kind::Quoted, text, end)
            }
            b'[' => {
                let (text, end) = literal(value, i)?;
                (Kind::Literal, text, end)
            }
            b'<' | b'>' | b'@' | b',' | b';' | b':' | b'.' => {
                (Kind::Special(c), Cow::Borrowed(&value[i..=i]), i + 1)
            }
            c if is_atext(c) => {
                let end = b[i..]
                    .iter()
                    .position(|&c| !is_atext(c))
                    .map_or(b.len(), |n| i + n);
                (Kind::Atom, Cow::Borrowed(&value[i..end]), end)
            }
            0 => return Err(err(i, "NUL octet")),
            c if c < b' ' || c == 0x7f => return Err(err(i, "control character")),
            _ => return Err(err(i, "character not allowed outside quotes")),
        };
        out.push(Token {
            kind,
            text,
            space_before: space,
            at: start,
        });
        space = false;
        i = end;
    }
    Ok(out)
}

/// The offset just past the comment that opens at `start` (RFC 5322
/// §3.2.2: nested comments, quoted-pairs).
fn comment_end(b: &[u8], start: usize) -> Result<usize, AddressError> {
    let mut depth = 0usize;
    let mut i = start;
    while let Some(&c) = b.get(i) {
        match c {
            b'\\' => i += 1,
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return Ok(i + 1);
                }
            }
            0 => return Err(err(i, "NUL octet in a comment")),
            _ => {}
        }
        i += 1;
    }
    Err(err(start, "unterminated comment"))
}

/// The content of the quoted-string that opens at `start`, unescaped and
/// with folding line breaks removed (RFC 5322 §3.2.4), and the offset past
/// its closing quote.
fn quoted(value: &str, start: usize) -> Result<(Cow<'_, str>, usize), AddressError> {
    let b = value.as_bytes();
    let mut text: Vec<u8> = Vec::new();
    let mut i = start + 1;
    while let Some(&c) = b.get(i) {
        match c {
            b'"' => return Ok((utf8(text), i + 1)),
            b'\\' => match b.get(i + 1) {
                None => break,
                Some(0) => return Err(err(i + 1, "NUL octet in a quoted-string")),
                Some(&n) => {
                    text.push(n);
                    i += 1;
                }
            },
            b'\r' | b'\n' => {}
            0 => return Err(err(i, "NUL octet in a quoted-string")),
            c => text.push(c),
        }
        i += 1;
    }
    Err(err(start, "unterminated quoted-string"))
}

/// The domain-literal that opens at `start` as `[dtext]` with white space
/// removed (RFC 5322 §3.4.1, obs-dtext quoted-pairs unescaped), and the
/// offset past its `]`.
fn literal(value: &str, start: usize) -> Result<(Cow<'_, str>, usize), AddressError> {
    let b = value.as_bytes();
    let mut text = vec![b'['];
    let mut i = start + 1;
    while let Some(&c) = b.get(i) {
        match c {
            b']' => {
                text.push(b']');
                return Ok((utf8(text), i + 1));
            }
            b'[' => return Err(err(i, "'[' inside a domain-literal")),
            b'\\' => match b.get(i + 1) {
                Some(&n) if n > b' ' && n != 0x7f => {
                    text.push(n);
                    i += 1;
                }
                _ => return Err(err(i, "bad quoted-pair in a domain-literal")),
            },
            c if is_space(c) => {}
            c if c < b' ' || c == 0x7f => {
                return Err(err(i, "control character in a domain-literal"))
            }
            c => text.push(c),
        }
        i += 1;
    }
    Err(err(start, "unterminated domain-literal"))
}

/// Bytes taken from a `&str` with only ASCII removed are still UTF-8; a
/// quoted-pair that split a character is replaced, never trusted.
fn utf8(bytes: Vec<u8>) -> Cow<'static, str> {
    match String::from_utf8(bytes) {
        Ok(s) => Cow::Owned(s),
        Err(e) => Cow::Owned(String::from_utf8_lossy(e.as_bytes()).into_owned()),
    }
}
