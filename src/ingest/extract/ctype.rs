//! The header fields that shape a MIME entity (RFC 2045 §5, RFC 2183):
//! Content-Type with its `boundary`, `charset` and `name`,
//! Content-Transfer-Encoding, Content-Disposition with its `filename`,
//! read into an [`Entity`] for `mime.rs`. Parameter values are read by
//! mail-parser (quoting, comments, RFC 2231 continuations and charsets,
//! RFC 2047 encoded words).

use mail_parser::parsers::MessageStream;
use mail_parser::HeaderValue;

use super::mime::{Entity, Kind};

/// The header fields of one entity that shape its structure.
#[derive(Default)]
pub(super) struct Fields {
    pub content_type: Option<Vec<u8>>,
    pub cte: Option<Vec<u8>>,
    pub disposition: Option<Vec<u8>>,
}

/// What a Content-Type or Content-Disposition value says: its lowercased
/// `type/subtype` (or disposition type), and the values of the wanted
/// parameters (names compared case-insensitively).
struct Params {
    kind: String,
    values: [Option<String>; 3],
}

/// Parses a Content-Type (or Content-Disposition) value with mail-parser
/// (quoting, comments, RFC 2231 continuations and charsets, RFC 2047) and
/// keeps only `want`.
fn params(value: &[u8], want: [&str; 3]) -> Option<Params> {
    let mut line = Vec::with_capacity(value.len() + 1);
    line.extend_from_slice(value);
    line.push(b'\n');
    let HeaderValue::ContentType(ct) = MessageStream::new(&line).parse_content_type() else {
        return None;
    };
    // RFC 2045 §5.1: the subtype is a token; what follows it without a `;`
    // (`application/pdf name="x.pdf"`) is not part of it.
    let mut kind = String::with_capacity(32);
    kind.push_str(ct.ctype());
    if let Some(sub) = ct.subtype().map(token) {
        kind.push('/');
        kind.push_str(sub);
    }
    kind.make_ascii_lowercase();
    let find = |name: &str| {
        ct.attributes()?
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
            .map(|a| a.value.to_string())
    };
    Some(Params {
        kind,
        values: want.map(find),
    })
}

/// The entity's description from its header fields, and the boundary of a
/// multipart (body and kind left to the caller).
pub(super) fn describe(f: &Fields, default_type: &str, depth: u32) -> (Entity, Option<String>) {
    let ct = f
        .content_type
        .as_deref()
        .and_then(|v| params(v, ["boundary", "charset", "name"]));
    // RFC 2045 §5.2: a syntactically invalid type is text/plain.
    let ctype = match (&ct, f.content_type.as_deref()) {
        (_, None) => default_type.to_string(),
        (Some(ct), Some(raw))
            if valid_type(raw) && ct.kind.contains('/') && !ct.kind.ends_with('/') =>
        {
            ct.kind.clone()
        }
        _ => "text/plain".to_string(),
    };
    let disposition = f
        .disposition
        .as_deref()
        .and_then(|v| params(v, ["filename", "", ""]));
    let [boundary, charset, ct_name] = ct.map(|c| c.values).unwrap_or_default();
    let disposition_attachment = disposition.as_ref().is_some_and(|d| d.kind == "attachment");
    let name = disposition
        .and_then(|d| d.values.into_iter().next().flatten())
        .or(ct_name)
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty());
    let e = Entity {
        ctype,
        charset: charset.map(|c| c.trim().to_ascii_lowercase()),
        cte: f
            .cte
            .as_deref()
            .map(|v| String::from_utf8_lossy(v).trim().to_ascii_lowercase())
            .unwrap_or_default(),
        disposition_attachment,
        name,
        body: 0..0,
        kind: Kind::Leaf,
        depth,
    };
    (e, boundary)
}

/// The leading RFC 2045 §5.1 `token` of `s`.
fn token(s: &str) -> &str {
    let end = s
        .find(|c: char| c <= ' ' || c >= '\u{7f}' || "()<>@,;:\\\"/[]?=".contains(c))
        .unwrap_or(s.len());
    &s[..end]
}

/// The type part of a Content-Type value (before any `;`) names exactly
/// one `type/subtype`.
fn valid_type(raw: &[u8]) -> bool {
    let head = raw.split(|&c| c == b';').next().unwrap_or_default();
    head.iter().filter(|&&c| c == b'/').count() == 1
}
