//! The identification and trace fields of the top-level header (RFC 5322
//! §3.6.4, §3.6.7) and the small readers `extract.rs` shares.

use std::borrow::Cow;

use mail_parser::{Address, HeaderName, HeaderValue, MessagePart};

use crate::model::Mailbox;

/// The first message identifier (RFC 5322 §3.6.4) of a raw `Message-ID:`
/// value, without angle brackets, and whether its closing `>` is missing
/// (the value is then kept, up to the first white space, as clients show
/// it).
pub fn msg_id(raw: &str) -> (Option<String>, bool) {
    let v = unfold(raw);
    let (id, unterminated) = match v.find('<') {
        Some(open) => {
            let after = &v[open + 1..];
            match after.find('>') {
                Some(close) => (after[..close].trim(), false),
                None => (after.split_whitespace().next().unwrap_or_default(), true),
            }
        }
        None => (v.split_whitespace().next().unwrap_or_default(), false),
    };
    ((!id.is_empty()).then(|| id.to_string()), unterminated)
}

/// The address of the topmost `Return-Path:` (RFC 5322 §3.6.7), not
/// mail-parser's `return_address()`, which falls back to `From:`.
pub fn return_path(root: &MessagePart<'_>) -> Option<String> {
    root.headers
        .iter()
        .find(|h| h.name == HeaderName::ReturnPath)
        .and_then(|h| ids(&h.value).into_iter().next())
}

pub fn mailboxes_of(addr: &Address<'_>) -> Vec<Mailbox> {
    addr.iter()
        .map(|a| Mailbox {
            name: a.name().map(str::to_string),
            address: a.address().map(str::to_string),
        })
        .collect()
}

/// Message identifiers (RFC 5322 §3.6.4) of a parsed header value, without
/// angle brackets.
pub fn ids(value: &HeaderValue<'_>) -> Vec<String> {
    let list: Vec<&str> = match value {
        HeaderValue::Text(t) => vec![t.as_ref()],
        HeaderValue::TextList(l) => l.iter().map(|t| t.as_ref()).collect(),
        _ => Vec::new(),
    };
    list.into_iter()
        .map(|t| {
            t.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string()
        })
        .filter(|t| !t.is_empty())
        .collect()
}

/// A raw header value as text, invalid UTF-8 replaced by U+FFFD.
pub fn lossy(bytes: &[u8]) -> String {
    match String::from_utf8_lossy(bytes) {
        Cow::Borrowed(s) => s.to_string(),
        Cow::Owned(s) => s,
    }
}

/// Removes folding (RFC 5322 §2.2.3) and surrounding white space.
pub fn unfold(value: &str) -> String {
    value
        .split(['\r', '\n'])
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("")
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::msg_id;

    #[test]
    fn message_ids() {
        let cases = [
            (" <a@b.example>", Some("a@b.example"), false),
            (" <a@b.example", Some("a@b.example"), true),
            (" <a@b.example (comment)", Some("a@b.example"), true),
            ("\r\n <x@y> <z@w>", Some("x@y"), false),
            (" bare@id.example", Some("bare@id.example"), false),
            (" ", None, false),
            (" <>", None, false),
        ];
        for (raw, id, odd) in cases {
            assert_eq!(msg_id(raw), (id.map(str::to_string), odd), "{raw:?}");
        }
    }
}
