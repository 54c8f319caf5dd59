//! The walk over a parsed message's MIME tree: attachments (hashed, not
//! kept) and the text that URLs are read from, under the depth and part
//! caps.
//!
//! A part is an attachment when it is a leaf and (a) its
//! `Content-Disposition` is `attachment`, (b) it is not text and has a file
//! name (`filename=` or `name=`), or (c) it is a `message/rfc822` (or
//! `message/global`) part. A nested message counts as one attachment whose
//! bytes are the raw nested message; the walk does not enter it, so neither
//! its authentication headers nor its URLs count. Text/plain and text/html
//! leaves are read for URLs, attachments included (a phishing page is often
//! an attached .html).
//!
//! The decoded bytes of a text attachment are the transfer-decoded octets
//! (base64 or quoted-printable undone), not mail-parser's UTF-8 conversion,
//! so that the digest matches the file a user would save.

use mail_parser::decoders::{base64::base64_decode, quoted_printable::quoted_printable_decode};
use mail_parser::{Encoding, Message, MessagePart, MimeHeaders, PartType};
use sha2::{Digest, Sha256};

use super::urls::UrlCollector;
use super::ExtractOptions;
use crate::sensor::record::Attachment;

/// What the walk found.
pub struct Walked {
    /// Attachments in tree order.
    pub attachments: Vec<Attachment>,
    /// URLs from text parts.
    pub urls: UrlCollector,
    /// A depth, part or URL cap was hit.
    pub truncated: bool,
}

/// Most URLs kept per message.
pub const MAX_URLS: usize = 1000;

/// Walks `msg` (parsed from `input`, which the part offsets refer to).
pub fn walk(msg: &Message<'_>, input: &[u8], opts: &ExtractOptions) -> Walked {
    let mut out = Walked {
        attachments: Vec::new(),
        urls: UrlCollector::new(MAX_URLS),
        truncated: false,
    };
    let mut stack: Vec<(u32, usize)> = vec![(0, 0)];
    let mut visited = 0usize;
    while let Some((id, depth)) = stack.pop() {
        let Some(part) = msg.parts.get(id as usize) else {
            continue;
        };
        visited += 1;
        if visited > opts.max_parts {
            out.truncated = true;
            break;
        }
        match &part.body {
            PartType::Multipart(children) => {
                if depth >= opts.max_mime_depth {
                    out.truncated = true;
                } else {
                    // Reversed so that the first child is visited first.
                    stack.extend(children.iter().rev().map(|&c| (c, depth + 1)));
                }
            }
            PartType::Text(text) | PartType::Html(text) => {
                if is_attachment(part) || is_message(part) {
                    out.attachments
                        .push(attachment(part, &text_bytes(part, input)));
                }
                match mime_type(part).as_str() {
                    "text/html" => out.urls.add_html(text),
                    "text/plain" => out.urls.add_text(text),
                    _ => {}
                }
            }
            PartType::Binary(bytes) | PartType::InlineBinary(bytes) => {
                if is_attachment(part) || part.attachment_name().is_some() || is_message(part) {
                    out.attachments.push(attachment(part, bytes));
                }
            }
            PartType::Message(_) => out.attachments.push(attachment(part, part.contents())),
        }
    }
    out.truncated |= out.urls.truncated;
    out
}

fn is_attachment(part: &MessagePart<'_>) -> bool {
    part.content_disposition()
        .is_some_and(|d| d.is_attachment())
}

fn is_message(part: &MessagePart<'_>) -> bool {
    matches!(
        mime_type(part).as_str(),
        "message/rfc822" | "message/global"
    )
}

/// The declared `type/subtype`, lowercased; `text/plain` if none is
/// declared (RFC 2045 §5.2), `message/rfc822` for a nested message parsed
/// without one (a `multipart/digest` child, RFC 2046 §5.1.5).
fn mime_type(part: &MessagePart<'_>) -> String {
    match part.content_type() {
        Some(ct) => match ct.subtype() {
            Some(sub) => format!("{}/{}", ct.ctype(), sub).to_ascii_lowercase(),
            None => ct.ctype().to_ascii_lowercase(),
        },
        None if matches!(part.body, PartType::Message(_)) => "message/rfc822".to_string(),
        None => "text/plain".to_string(),
    }
}

/// A text part's transfer-decoded octets, from the input; mail-parser's
/// UTF-8 text if they cannot be recovered.
fn text_bytes(part: &MessagePart<'_>, input: &[u8]) -> Vec<u8> {
    let raw = input.get(part.offset_body as usize..part.offset_end as usize);
    let decoded = raw.and_then(|raw| match part.encoding {
        Encoding::Base64 => base64_decode(raw),
        Encoding::QuotedPrintable => quoted_printable_decode(raw),
        Encoding::None => Some(raw.to_vec()),
    });
    decoded.unwrap_or_else(|| part.contents().to_vec())
}

fn attachment(part: &MessagePart<'_>, bytes: &[u8]) -> Attachment {
    Attachment {
        name: part.attachment_name().map(str::to_string),
        mime_type: mime_type(part),
        size: bytes.len() as u64,
        sha256: hex(&Sha256::digest(bytes)),
    }
}

pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
