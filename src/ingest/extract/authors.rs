//! The authors of a message (`From:`, RFC 5322 §3.6.2), read with the
//! address parser the milter's DMARC uses ([`crate::headers::address`]), so
//! the stored address is the one the perimeter evaluated: never with CFWS
//! (`a@ example.com` is `a@example.com`), never guessed from a field that
//! does not parse. mail-parser only decodes the display names (RFC 2047
//! encoded words).

use super::words;
use crate::headers::address::parse_address_list;
use crate::model::Mailbox;

/// One entry per mailbox of each `From:` value, in order; a value that does
/// not parse, or parses to no mailbox (an empty group), is one entry
/// without address.
pub(super) fn authors<'a>(values: impl IntoIterator<Item = &'a str>) -> Vec<Mailbox> {
    let mut out = Vec::new();
    for value in values {
        match parse_address_list(value) {
            Ok(list) if !list.is_empty() => out.extend(list.into_iter().map(|m| Mailbox {
                name: m.display_name.as_deref().and_then(decode),
                address: Some(m.address()),
            })),
            _ => out.push(Mailbox::default()),
        }
    }
    out
}

/// A display name with its RFC 2047 encoded words decoded; `None` when
/// nothing is left.
fn decode(name: &str) -> Option<String> {
    let text = words::decode_unstructured(name).trim().to_string();
    (!text.is_empty()).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::authors;

    fn pairs(values: &[&str]) -> Vec<(Option<String>, Option<String>)> {
        authors(values.iter().copied())
            .into_iter()
            .map(|m| (m.name, m.address))
            .collect()
    }

    fn some(s: &str) -> Option<String> {
        Some(s.to_string())
    }

    #[test]
    fn every_author_without_cfws() {
        assert_eq!(pairs(&[" a@ example.com"]), [(None, some("a@example.com"))]);
        assert_eq!(
            pairs(&[
                "a@(comment)example.com",
                "=?utf-8?q?J=C3=B6rg?= <j@b.example>, \"Smith, Ann\" <ann@c.example>"
            ]),
            [
                (None, some("a@example.com")),
                (some("Jörg"), some("j@b.example")),
                (some("Smith, Ann"), some("ann@c.example")),
            ]
        );
    }

    #[test]
    fn unreadable_fields_are_entries_without_address() {
        assert_eq!(pairs(&[]), []);
        assert_eq!(
            pairs(&["Postmaster\\@example.com@xxx.com", "", "undisclosed:;"]),
            [(None, None), (None, None), (None, None)]
        );
    }
}
