//! Metadata extraction from a received copy: the raw message and its
//! envelope in, one [`Record`] out (without a store id).
//!
//! The work is split: `extract/limits.rs` guards the MIME parser against
//! hostile input and counts octet-level anomalies, [`authsel`] chooses the
//! trusted authentication results, [`received`] reads the `Received:`
//! chain, `extract/mime.rs` reads the MIME structure as mail clients do
//! (`extract/ctype.rs` its Content-* fields),
//! `extract/decode.rs` undoes transfer encodings, `extract/parts.rs` lists
//! attachments and the text of the tree, `extract/urls.rs` finds URLs,
//! `extract/journal.rs` recognises Exchange journal reports (whose attached
//! original is extracted instead), `extract/authors.rs` reads `From:` with
//! the milter's own address parser, `extract/words.rs` decodes RFC 2047
//! encoded words and `extract/fields.rs` the identification fields. This
//! file wires them together and reads the other address fields (RFC 5322
//! §3.6). What was odd about the message goes to `anomalies`
//! (docs/extraction.md).
//!
//! [`authsel`]: super::authsel
//! [`received`]: super::received

mod authors;
mod ctype;
mod decode;
mod fields;
mod journal;
mod limits;
mod mime;
mod parts;
mod urls;
mod words;

use sha2::{Digest, Sha256};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::SystemTime;

use mail_parser::{HeaderName, MessageParser, MessagePart};

use super::trust as authsel;
use crate::config::{sensor::is_journal_source, JournalSource};
use crate::headers::received;
use crate::headers::seal::Keys;
use crate::model::{self as record, Mailbox, Record};

/// The SMTP transaction that delivered the copy.
#[derive(Debug, Clone)]
pub struct Envelope {
    /// Unique id of this copy.
    pub uid: String,
    /// When the end of DATA was received.
    pub received_at: SystemTime,
    /// The delivering gateway.
    pub gateway: record::Gateway,
    /// MAIL FROM of the copy (RFC 5321 §4.1.1.2), as given.
    pub mailfrom: String,
    /// RCPT TO addresses of the copy (RFC 5321 §4.1.1.3), as given.
    pub rcptto: Vec<String>,
}

/// Trust and resource limits for [`extract`].
#[derive(Debug, Clone)]
pub struct ExtractOptions {
    /// authserv-ids (RFC 8601 §2.5) whose headers are believed, compared
    /// ASCII case-insensitively.
    pub trusted_authserv_ids: Vec<String>,
    /// Of those, the ids whose stamps need a valid seal of ours.
    pub sealed_authserv_ids: Vec<String>,
    /// The seal keys (`[seal] key_file`); without them no stamp counts as
    /// sealed, so a stamp of a sealed id is recorded as tampered.
    pub seal_keys: Option<Keys>,
    /// Oldest seal accepted, in seconds.
    pub seal_max_age_secs: u64,
    /// Where genuine journal reports come from; reports from anywhere else
    /// are recorded as the messages they are, not unwrapped.
    pub journal_sources: Vec<JournalSource>,
    /// Deepest multipart nesting walked (default 20).
    pub max_mime_depth: usize,
    /// Most MIME parts walked (default 500).
    pub max_parts: usize,
    /// Largest top-level header block parsed, in octets (default 1 MiB).
    pub max_header_bytes: usize,
}

impl Default for ExtractOptions {
    fn default() -> Self {
        ExtractOptions {
            trusted_authserv_ids: Vec::new(),
            sealed_authserv_ids: Vec::new(),
            seal_keys: None,
            seal_max_age_secs: 240 * 3600,
            journal_sources: Vec::new(),
            max_mime_depth: 20,
            max_parts: 500,
            max_header_bytes: 1 << 20,
        }
    }
}

/// Most `Received:` hops kept in [`Record::path`]; more mark the record
/// truncated.
pub const MAX_HOPS: usize = 100;

/// Builds the record of one received copy. Never panics and never fails:
/// what cannot be read stays empty, and `anomalies.truncated` says when a
/// cap (header bytes, MIME depth, parts, hops, URLs) cut the reading short.
/// `id` is left `None`.
///
/// An Exchange/Office 365 journal report is unwrapped (one level): the
/// record describes the attached original and [`Record::journal`] is set.
pub fn extract(raw: &[u8], env: Envelope, opts: &ExtractOptions) -> Record {
    extract_one(raw, env, opts, true)
}

fn extract_one(raw: &[u8], env: Envelope, opts: &ExtractOptions, unwrap: bool) -> Record {
    let env_copy = unwrap.then(|| env.clone());
    let (bare_lf, nul, eight_bit_headers) = limits::anomalies(raw);
    let mut rec = Record {
        ts: humantime::format_rfc3339_millis(env.received_at).to_string(),
        uid: env.uid,
        gateway: env.gateway,
        mailfrom: env.mailfrom,
        rcptto: env.rcptto,
        size: raw.len() as u64,
        body_sha256: Some(parts::hex(&Sha256::digest(raw))),
        anomalies: record::Anomalies {
            bare_lf,
            nul,
            eight_bit_headers,
            ..record::Anomalies::default()
        },
        ..Record::default()
    };
    let plan = limits::plan(raw, opts);
    rec.anomalies.truncated = plan.truncated;
    let input = raw.get(..plan.len).unwrap_or(raw);
    // mail-parser reads the top-level header fields only (the MIME
    // structure is `mime.rs`'s); it promises not to panic, and a panic in
    // it must still not take the SMTP session down with it.
    let parsed = catch_unwind(AssertUnwindSafe(|| {
        MessageParser::default().parse_headers(input)
    }));
    // A message without any header field still has a body to read.
    let msg = parsed.ok().flatten();
    let root = msg.as_ref().and_then(|m| m.parts.first());
    let tree = if plan.headers_only {
        mime::Tree::default()
    } else {
        mime::parse(input, opts.max_mime_depth, opts.max_parts)
    };
    if let (Some(env), false, Some(root)) = (env_copy, plan.headers_only, root) {
        if let Some((envelope, original)) = journal::detect(root, &tree, input) {
            let gateway = env.gateway.ip.parse().ok();
            if is_journal_source(&opts.journal_sources, gateway, &env.mailfrom) {
                return unwrap_journal(root, rec, &original, envelope, env, opts);
            }
            // Shaped like a journal report, from anyone: recorded as the
            // message it is, with the perimeter's outer stamp.
            rec.anomalies.journal_untrusted = true;
        }
    }
    // The body as the milter saw it: after the blank line that ends the
    // header.
    let rest = raw.get(limits::header_block_len(raw)..).unwrap_or_default();
    let body = rest
        .strip_prefix(b"\r\n")
        .or_else(|| rest.strip_prefix(b"\n"))
        .unwrap_or(rest);
    if let Some(root) = root {
        read_headers(root, input, body, opts, &mut rec);
    }
    if !plan.headers_only {
        let walked = parts::walk(&tree, input);
        rec.attachments = walked.attachments;
        rec.urls = walked.urls.urls;
        let a = &mut rec.anomalies;
        a.truncated |= walked.truncated || tree.odd.truncated;
        a.lenient_base64 = walked.lenient_base64;
        a.unclosed_multipart = tree.odd.unclosed_multipart;
        a.degenerate_multipart = tree.odd.degenerate_multipart;
        a.missing_header_end = tree.odd.missing_header_end;
    }
    rec
}

/// The record of a journal report's attached `original`, with the copy's
/// own receive facts from `outer` and the report envelope as the original
/// envelope.
fn unwrap_journal(
    report: &MessagePart<'_>,
    outer: Record,
    original: &[u8],
    envelope: journal::Envelope,
    env: Envelope,
    opts: &ExtractOptions,
) -> Record {
    let mut rec = extract_one(original, env, opts, false);
    let report_msg_id = report
        .headers
        .iter()
        .find(|h| h.name == HeaderName::MessageId)
        .and_then(|h| fields::ids(&h.value).into_iter().next());
    rec.journal = Some(record::Journal {
        report_rcptto: outer.rcptto.clone(),
        report_msg_id,
        envelope_msg_id: envelope.msg_id,
    });
    // A trusted stamp on the original names the MAIL FROM that SPF checked;
    // without one the report's Sender (not the original's Return-Path,
    // which Exchange may have rewritten) is the best envelope sender.
    if authsel::smtp_property(&rec.auth, "mailfrom").is_none() {
        if let Some(sender) = envelope.sender {
            rec.original.mailfrom = Some(sender);
        }
    }
    if !envelope.recipients.is_empty() {
        rec.rcptto = envelope.recipients;
    }
    rec.size = outer.size;
    rec.anomalies = record::Anomalies {
        truncated: outer.anomalies.truncated || rec.anomalies.truncated,
        ..outer.anomalies
    };
    rec
}

/// Fills the header-derived fields of `rec` from the top-level header.
fn read_headers(
    root: &MessagePart<'_>,
    input: &[u8],
    body: &[u8],
    opts: &ExtractOptions,
    rec: &mut Record,
) {
    let raw_values: Vec<&[u8]> = root
        .headers
        .iter()
        .map(|h| {
            input
                .get(h.offset_start as usize..h.offset_end as usize)
                .unwrap_or_default()
        })
        .collect();
    let headers: Vec<(String, String)> = root
        .headers
        .iter()
        .zip(&raw_values)
        .map(|(h, value)| (h.name.as_str().to_string(), fields::lossy(value)))
        .collect();

    read_trust(root, &headers, &raw_values, body, opts, rec);
    read_fields(root, &headers, rec);
}

/// The authentication results to believe, the original SMTP facts and the
/// `Received:` path.
fn read_trust(
    root: &MessagePart<'_>,
    headers: &[(String, String)],
    raw_values: &[&[u8]],
    body: &[u8],
    opts: &ExtractOptions,
    rec: &mut Record,
) {
    let now = humantime::parse_rfc3339(&rec.ts)
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs());
    let trust = authsel::Trust {
        trusted: &opts.trusted_authserv_ids,
        sealed: &opts.sealed_authserv_ids,
        seal: opts.seal_keys.as_ref().map(|keys| authsel::SealCheck {
            keys,
            body,
            raw_values,
            now,
            max_age: opts.seal_max_age_secs,
        }),
    };
    let (auth, stamp) = authsel::choose(headers, &trust);
    let hops: Vec<(usize, record::Hop)> = headers
        .iter()
        .enumerate()
        .filter(|(_, (name, _))| name.eq_ignore_ascii_case("Received"))
        .map(|(i, (_, value))| {
            let h = received::parse(value);
            let hop = record::Hop {
                from_host: h.from_host,
                from_ip: h.from_ip,
                by_host: h.by_host,
            };
            (i, hop)
        })
        .collect();
    // The perimeter inserts its stamp above its own Received: the first
    // Received below the chosen stamp; with none, the topmost.
    let perimeter = stamp
        .and_then(|s| hops.iter().find(|(i, _)| *i > s))
        .or_else(|| hops.first());
    rec.original = record::Original {
        mailfrom: authsel::smtp_property(&auth, "mailfrom").or_else(|| fields::return_path(root)),
        helo: authsel::smtp_property(&auth, "helo"),
        client_ip: perimeter.and_then(|(_, hop)| hop.from_ip.clone()),
    };
    rec.auth = auth;
    if hops.len() > MAX_HOPS {
        rec.anomalies.truncated = true;
    }
    rec.path = hops.into_iter().take(MAX_HOPS).map(|(_, h)| h).collect();
}

/// The address and identification fields (RFC 5322 §3.6).
fn read_fields(root: &MessagePart<'_>, headers: &[(String, String)], rec: &mut Record) {
    let first = |name: HeaderName<'static>| root.headers.iter().find(|h| h.name == name);
    let raw_value = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let raw_of = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| fields::unfold(v))
            .filter(|v| !v.is_empty())
    };
    let mailboxes = |name: HeaderName<'static>| -> Vec<Mailbox> {
        root.headers
            .iter()
            .filter(|h| h.name == name)
            .filter_map(|h| h.value.as_address())
            .flat_map(fields::mailboxes_of)
            .collect()
    };
    let from_fields: Vec<&str> = headers
        .iter()
        .filter(|(name, _)| name.trim().eq_ignore_ascii_case("From"))
        .map(|(_, value)| value.as_str())
        .collect();
    rec.anomalies.several_from_fields = from_fields.len() > 1;
    rec.authors = authors::authors(from_fields);
    rec.anomalies.several_authors = rec.authors.len() > 1;
    rec.from = rec.authors.first().cloned();
    rec.sender = mailboxes(HeaderName::Sender).into_iter().next();
    rec.reply_to = mailboxes(HeaderName::ReplyTo);
    rec.to = mailboxes(HeaderName::To);
    rec.cc = mailboxes(HeaderName::Cc);
    rec.subject = raw_value("Subject").map(|v| words::decode_unstructured(v).trim().to_string());
    rec.date = raw_of("Date");
    let (msg_id, unterminated) = fields::msg_id(raw_value("Message-ID").unwrap_or_default());
    rec.msg_id = msg_id;
    rec.anomalies.unterminated_msg_id = unterminated;
    rec.in_reply_to =
        first(HeaderName::InReplyTo).and_then(|h| fields::ids(&h.value).into_iter().next());
    rec.references = first(HeaderName::References)
        .map(|h| fields::ids(&h.value))
        .unwrap_or_default();
    rec.list_id = first(HeaderName::ListId)
        .and_then(|h| h.value.as_address())
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .map(str::to_string)
        .or_else(|| raw_of("List-Id"));
    rec.user_agent = ["X-Mailer", "User-Agent"].iter().find_map(|n| {
        root.headers
            .iter()
            .find(|h| h.name.as_str().eq_ignore_ascii_case(n))
            .and_then(|h| h.value.as_text())
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
    });
}
