//! Attachments (hashed, not kept) and the text that URLs are read from, out
//! of a message's MIME structure (`mime.rs`).
//!
//! A part is an attachment when it is a leaf and (a) its
//! `Content-Disposition` is `attachment`, (b) it is not text and has a file
//! name (`filename=` of Content-Disposition, else `name=` of Content-Type),
//! or (c) it is a `message/rfc822` (or `message/global`) part, whose octets
//! are the forwarded message as it stands in the part. A forwarded
//! message is also read: its attachments and URLs are listed too, with
//! their `depth` (0 = the message itself, 1 = inside an attached message,
//! …); its header fields are not (the record's headers and authentication
//! are the outer message's). Text/plain and text/html leaves are read for
//! URLs, attachments included (a phishing page is often an attached
//! .html).
//!
//! Sizes and digests are of the transfer-decoded octets (base64 or
//! quoted-printable undone, `decode.rs`), not of a charset conversion, so
//! that they match the file a user would save.

use sha2::{Digest, Sha256};

use super::decode;
use super::mime::{Entity, Kind, Tree};
use super::urls::UrlCollector;
use crate::model::Attachment;

/// What the walk found.
pub struct Walked {
    /// Attachments in tree order.
    pub attachments: Vec<Attachment>,
    /// URLs from text parts.
    pub urls: UrlCollector,
    /// The URL cap was hit.
    pub truncated: bool,
    /// Some base64 was not clean (decoded leniently).
    pub lenient_base64: bool,
}

/// Most URLs kept per message.
pub const MAX_URLS: usize = 1000;

/// Walks `tree` (read from `input`, which the body ranges refer to).
pub fn walk(tree: &Tree, input: &[u8]) -> Walked {
    let mut out = Walked {
        attachments: Vec::new(),
        urls: UrlCollector::new(MAX_URLS),
        truncated: false,
        lenient_base64: false,
    };
    for e in &tree.entities {
        let body = input.get(e.body.clone()).unwrap_or_default();
        match e.kind {
            Kind::Multipart => {}
            Kind::Message => out.attachments.push(attachment(e, body)),
            Kind::Leaf => {
                let text = matches!(e.ctype.as_str(), "text/plain" | "text/html");
                let listed = e.disposition_attachment
                    || is_message(e)
                    || (e.name.is_some() && !e.ctype.starts_with("text/"));
                if !listed && !text {
                    continue;
                }
                let bytes = decode::transfer_decode(&e.cte, body, &mut out.lenient_base64);
                if listed {
                    out.attachments.push(attachment(e, &bytes));
                }
                if text {
                    let text = decode::text(&bytes, e.charset.as_deref());
                    out.urls.depth = e.depth;
                    if e.ctype == "text/html" {
                        out.urls.add_html(&text);
                    } else {
                        out.urls.add_text(&text);
                    }
                }
            }
        }
    }
    out.truncated |= out.urls.truncated;
    out
}

fn is_message(e: &Entity) -> bool {
    matches!(e.ctype.as_str(), "message/rfc822" | "message/global")
}

fn attachment(e: &Entity, bytes: &[u8]) -> Attachment {
    Attachment {
        name: e.name.clone(),
        mime_type: e.ctype.clone(),
        size: bytes.len() as u64,
        sha256: hex(&Sha256::digest(bytes)),
        depth: e.depth,
    }
}

pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
