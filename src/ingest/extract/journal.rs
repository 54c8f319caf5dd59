//! Exchange / Office 365 journal reports ("envelope journaling"): a report
//! marked by the `X-MS-Journal-Report:` header, `multipart/mixed`, whose
//! first text part is the envelope written by Exchange, one field per line:
//!
//! ```text
//! Sender: alice@example.org
//! Subject: quarterly numbers
//! Message-Id: <q1@example.org>
//! To: bob@example.com
//! Cc: carol@example.com, Forwarded: team@example.com
//! Recipient: dave@example.com, Expanded: all@example.com
//! ```
//!
//! (`To`/`Cc`/`Bcc` by recipient type, `Recipient` when the type is
//! unknown; a recipient may be followed by `, Forwarded:` or `, Expanded:`
//! and the address it came through; `Sender: Unspecified Address` and
//! `Message-Id: Unknown Message-ID` stand for missing values), and whose
//! `message/rfc822` attachment is the original message. The report itself
//! repeats the original's From, To, Cc and Subject, so only the header and
//! the attachment tell it apart. Other fields (`On-Behalf-Of`, the
//! `Received`/`Rule-Names` lines of some reports, …) are ignored.

use mail_parser::MessagePart;
use std::borrow::Cow;

use super::decode;
use super::mime::{Kind, Tree};

/// What a journal report's envelope says about the original transaction.
#[derive(Debug, Default, Clone, PartialEq)]
pub(super) struct Envelope {
    /// `Sender:`.
    pub sender: Option<String>,
    /// Every `To:`, `Cc:`, `Bcc:` and `Recipient:` address, in order,
    /// without duplicates.
    pub recipients: Vec<String>,
    /// `Message-Id:` without angle brackets.
    pub msg_id: Option<String>,
}

/// The envelope and the raw original of a journal report; `None` when the
/// message (top-level header `root`, structure `tree`, read from `input`)
/// is not one (no `X-MS-Journal-Report:` header, or no attached message).
pub(super) fn detect<'a>(
    root: &MessagePart<'_>,
    tree: &Tree,
    input: &'a [u8],
) -> Option<(Envelope, Cow<'a, [u8]>)> {
    if !root
        .headers
        .iter()
        .any(|h| h.name.as_str().eq_ignore_ascii_case("X-MS-Journal-Report"))
    {
        return None;
    }
    let top = || tree.entities.iter().filter(|e| e.depth == 0);
    // An attached message read in place, or one that had to be decoded
    // (base64, quoted-printable).
    let original = top().find_map(|e| {
        let body = input.get(e.body.clone())?;
        match e.kind {
            Kind::Message => Some(Cow::Borrowed(body)),
            Kind::Leaf if matches!(e.ctype.as_str(), "message/rfc822" | "message/global") => {
                Some(decode::transfer_decode(&e.cte, body, &mut false))
            }
            _ => None,
        }
    })?;
    let envelope = top()
        .find(|e| e.kind == Kind::Leaf && e.ctype.starts_with("text/"))
        .and_then(|e| {
            let body = input.get(e.body.clone())?;
            let bytes = decode::transfer_decode(&e.cte, body, &mut false);
            Some(parse_envelope(&decode::text(&bytes, e.charset.as_deref())))
        })
        .unwrap_or_default();
    Some((envelope, original))
}

/// Reads the envelope's fields.
pub(super) fn parse_envelope(text: &str) -> Envelope {
    let mut env = Envelope::default();
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        // `Forwarded:`/`Expanded:` follow the recipient after a comma.
        let first = || {
            let a = value.split(',').next().unwrap_or_default().trim();
            let a = a.trim_start_matches('<').trim_end_matches('>').trim();
            (a.contains('@')).then(|| a.to_string())
        };
        match key.trim().to_ascii_lowercase().as_str() {
            "sender" if env.sender.is_none() => env.sender = first(),
            // Exchange writes "Unknown Message-ID" when there is none.
            "message-id" if env.msg_id.is_none() => {
                let id = value.trim_start_matches('<').trim_end_matches('>').trim();
                env.msg_id = id.contains('@').then(|| id.to_string());
            }
            "to" | "cc" | "bcc" | "recipient" => {
                if let Some(a) = first() {
                    if !env.recipients.iter().any(|r| r.eq_ignore_ascii_case(&a)) {
                        env.recipients.push(a);
                    }
                }
            }
            _ => {}
        }
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_fields() {
        let env = parse_envelope(
            "Sender: alice@example.org\r\nSubject: a: b\r\nMessage-Id: <q1@example.org>\r\n\
             To: bob@example.com\r\nCc: carol@example.com, Forwarded: team@example.com\r\n\
             Recipient: <dave@example.com>, Expanded: all@example.com\r\nBcc: BOB@example.com\r\n\
             On-Behalf-Of: boss@example.org\r\n",
        );
        assert_eq!(env.sender.as_deref(), Some("alice@example.org"));
        assert_eq!(env.msg_id.as_deref(), Some("q1@example.org"));
        assert_eq!(
            env.recipients,
            ["bob@example.com", "carol@example.com", "dave@example.com"]
        );
        let none =
            parse_envelope("Sender: Unspecified Address\r\nMessage-Id: Unknown Message-ID\r\n");
        assert_eq!(none, Envelope::default());
    }
}
