//! The metadata record the sensor keeps for every dual-delivered copy: no
//! body, only what identifies and authenticates the original message.
//!
//! Field names follow Zeek's `smtp.log` (`mailfrom`, `rcptto`, `helo`,
//! `msg_id`, `in_reply_to`, `reply_to`, `path`, `user_agent`, `tls`) and
//! ECS `email.*` (`attachments[].sha256`, `sender`, `subject`) where they
//! overlap; everything serialises to one JSON object per copy
//! (`authsense messages --json`).

use serde::{Deserialize, Serialize};

/// One stored copy.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Store row id (absent before it is stored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// Receive time, RFC 3339 UTC with milliseconds.
    pub ts: String,
    /// Unique id of this copy (also in the sensor's 250 reply and log line).
    pub uid: String,
    /// The gateway that delivered the copy.
    pub gateway: Gateway,
    /// The copy's envelope sender (a black-hole return path, per the guide).
    pub mailfrom: String,
    /// The copy's envelope recipients (the originals, with "Use
    /// Original-Recipient Address").
    pub rcptto: Vec<String>,
    /// The original SMTP transaction at the perimeter.
    pub original: Original,
    /// Authentication results read from trusted headers.
    pub auth: AuthInfo,
    /// `From:`: the first of [`Record::authors`].
    pub from: Option<Mailbox>,
    /// Every author: each mailbox of each `From:` field in header order
    /// (RFC 5322 §3.6.2), read with the milter's own address parser; a field
    /// that names no readable address (not RFC 5322, empty, or an empty
    /// group) is one entry without `address`. Absent when there is no
    /// `From:` at all, and on records stored before it existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authors: Vec<Mailbox>,
    /// `Sender:`.
    pub sender: Option<Mailbox>,
    /// `Reply-To:`.
    pub reply_to: Vec<Mailbox>,
    /// `To:`.
    pub to: Vec<Mailbox>,
    /// `Cc:`.
    pub cc: Vec<Mailbox>,
    /// `Subject:` (decoded).
    pub subject: Option<String>,
    /// `Date:` as written.
    pub date: Option<String>,
    /// `Message-ID:` without angle brackets.
    pub msg_id: Option<String>,
    /// `In-Reply-To:` without angle brackets.
    pub in_reply_to: Option<String>,
    /// `References:` ids without angle brackets.
    pub references: Vec<String>,
    /// `List-Id:`.
    pub list_id: Option<String>,
    /// `X-Mailer:` or `User-Agent:`.
    pub user_agent: Option<String>,
    /// `Received:` chain, topmost (newest) first.
    pub path: Vec<Hop>,
    /// Size of the copy in octets as received.
    pub size: u64,
    /// SHA-256 (lowercase hex) of the copy as received. With `msg_id` and
    /// the original recipients it identifies a retried copy, which the store
    /// keeps once however many sensors receive it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_sha256: Option<String>,
    /// Attachments (decoded content hashed, not kept).
    pub attachments: Vec<Attachment>,
    /// URLs in text and HTML parts, deduplicated.
    pub urls: Vec<UrlInfo>,
    /// Input oddities tolerated while receiving.
    pub anomalies: Anomalies,
    /// Analysis verdict (absent on records stored before analysis existed).
    #[serde(default)]
    pub verdict: Option<Verdict>,
    /// Analysis score, 0 (nothing suspicious) to 10.
    #[serde(default)]
    pub score: Option<u8>,
    /// The analysis rules that fired, each with its points and an
    /// explanation.
    #[serde(default)]
    pub reasons: Vec<Reason>,
    /// Set when the copy was an Exchange/Office 365 journal report that was
    /// unwrapped: every other field then describes the original message
    /// (see [`Journal`]). Absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journal: Option<Journal>,
}

/// The journal report a record was unwrapped from. The record's header
/// fields, authentication results, `Received:` path, attachments and URLs
/// are the attached original's; `original.mailfrom` is the envelope sender
/// of the original's trusted stamp, else the report envelope's `Sender:`;
/// `rcptto` is the report envelope's recipients (when it lists them);
/// `gateway`, `size`, `ts`, `uid` and the octet anomalies stay the copy's.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Journal {
    /// The copy's own envelope recipients (the journaling mailbox).
    pub report_rcptto: Vec<String>,
    /// The report's own `Message-ID:`.
    pub report_msg_id: Option<String>,
    /// The envelope's `Message-Id:` (normally the original's).
    pub envelope_msg_id: Option<String>,
}

/// What the analysis concluded about a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Nothing (or almost nothing) suspicious.
    Trusted,
    /// Some rules fired; worth a look.
    Suspicious,
    /// Strong signs of spoofing or impersonation.
    Malicious,
}

impl Verdict {
    /// The serialised name: `trusted`, `suspicious`, `malicious`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Trusted => "trusted",
            Verdict::Suspicious => "suspicious",
            Verdict::Malicious => "malicious",
        }
    }
}

impl std::str::FromStr for Verdict {
    type Err = String;
    fn from_str(s: &str) -> Result<Verdict, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "trusted" => Ok(Verdict::Trusted),
            "suspicious" => Ok(Verdict::Suspicious),
            "malicious" => Ok(Verdict::Malicious),
            _ => Err(format!(
                "unknown verdict {s:?}, want trusted, suspicious or malicious"
            )),
        }
    }
}

/// One analysis rule that fired.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    /// Rule name, e.g. `lookalike-domain`.
    pub rule: String,
    /// Points it added to the score.
    pub points: u8,
    /// Why it fired, for a human.
    pub detail: String,
}

/// The perimeter MTA as seen by the sensor.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Gateway {
    /// Peer IP address.
    pub ip: String,
    /// Peer port.
    pub port: u16,
    /// HELO/EHLO name it gave.
    pub helo: String,
    /// STARTTLS was in force for the transaction.
    pub tls: bool,
    /// TLS protocol version, e.g. `TLSv1_3`.
    pub tls_version: Option<String>,
    /// TLS cipher suite.
    pub tls_cipher: Option<String>,
}

/// What the perimeter saw of the original transaction.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Original {
    /// Original envelope sender: `smtp.mailfrom` of the trusted header, else
    /// `Return-Path:`.
    pub mailfrom: Option<String>,
    /// Original HELO: `smtp.helo` of the trusted header.
    pub helo: Option<String>,
    /// Original client IP, from the perimeter's `Received:` header.
    pub client_ip: Option<String>,
}

/// Where the authentication results came from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthSource {
    /// A trusted `X-Agari-Authentication-Results` header.
    XAgari,
    /// A trusted `Authentication-Results` header.
    AuthenticationResults,
    /// No trusted header.
    #[default]
    None,
    /// The topmost header claiming a trusted authserv-id cannot be believed:
    /// it does not parse by the strict grammar, or its id requires our
    /// seal and the seal is missing or does not verify. Results unknown;
    /// no lower header is used instead ([`AuthInfo::tamper`] says why).
    Tampered,
}

impl AuthSource {
    /// The serialised name: `x-agari`, `authentication-results`, `none`.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthSource::XAgari => "x-agari",
            AuthSource::AuthenticationResults => "authentication-results",
            AuthSource::None => "none",
            AuthSource::Tampered => "tampered",
        }
    }
}

/// Authentication results of the copy.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AuthInfo {
    /// Which header was used.
    pub source: AuthSource,
    /// Its authserv-id.
    pub authserv_id: Option<String>,
    /// SPF result (the MAIL FROM identity's when results are per identity).
    pub spf: Option<MethodInfo>,
    /// The HELO identity's own SPF result, when the header reports the
    /// identities separately (RFC 8601 §2.7.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spf_helo: Option<MethodInfo>,
    /// DKIM results, one per signature.
    pub dkim: Vec<MethodInfo>,
    /// DMARC result.
    pub dmarc: Option<MethodInfo>,
    /// ARC result.
    pub arc: Option<MethodInfo>,
    /// The trusted header's raw value.
    pub raw: Option<String>,
    /// Disagreements between trusted headers (e.g. X-Agari says pass, AR
    /// says fail), as human-readable notes.
    pub conflicts: Vec<String>,
    /// authserv-ids of authentication headers that were ignored as untrusted.
    pub untrusted_ids: Vec<String>,
    /// The results were covered by a valid seal of our milter.
    #[serde(default)]
    pub sealed: bool,
    /// Why the stamp was not believed (source `tampered`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tamper: Option<String>,
    /// Where the chosen header sat: its index among the top-level header
    /// fields (0 = topmost).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<u32>,
    /// How many `Received:` fields were above the chosen header (the hops
    /// after the perimeter).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_above: Option<u32>,
}

/// One method's result with its properties.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MethodInfo {
    /// Normalised result (`pass`, `fail`, …); a result that is not one of the
    /// method's registered results (e.g. an unexpanded `${SPFResult}`) is
    /// `unknown` — never treated as pass.
    pub result: String,
    /// `reason=` if given.
    pub reason: Option<String>,
    /// `ptype.property` → value, e.g. `smtp.mailfrom`.
    pub props: Vec<(String, String)>,
    /// The header this result was taken from (each method comes from the
    /// topmost trusted X-Agari header that carries it, else from the topmost
    /// trusted Authentication-Results).
    #[serde(default)]
    pub source: AuthSource,
}

/// A display name and address.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Mailbox {
    /// Display name, decoded.
    pub name: Option<String>,
    /// Address.
    pub address: Option<String>,
}

/// One `Received:` hop.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Hop {
    /// `from` host name as claimed.
    pub from_host: Option<String>,
    /// `from` IP address (from the TCP-info comment).
    pub from_ip: Option<String>,
    /// `by` host name.
    pub by_host: Option<String>,
}

/// An attachment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Attachment {
    /// File name, if declared.
    pub name: Option<String>,
    /// Declared content type.
    pub mime_type: String,
    /// Decoded size in octets.
    pub size: u64,
    /// SHA-256 of the decoded content, hex.
    pub sha256: String,
    /// Forwarded-message depth: 0 for a part of the message itself, 1 for a
    /// part of an attached `message/rfc822`, and so on. Absent (0) on
    /// records stored before it existed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub depth: u32,
}

/// A URL found in the message.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UrlInfo {
    /// The URL as written.
    pub url: String,
    /// Its host, lowercased.
    pub host: String,
    /// Forwarded-message depth of the text it was found in, as for
    /// [`Attachment::depth`].
    #[serde(default, skip_serializing_if = "is_zero")]
    pub depth: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Oddities in the received bytes, counted rather than refused.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Anomalies {
    /// Lines ended by a bare LF.
    pub bare_lf: u32,
    /// NUL octets.
    pub nul: u32,
    /// Header lines with 8-bit octets.
    pub eight_bit_headers: u32,
    /// The parser hit a cap (MIME depth, part count, header size).
    pub truncated: bool,
    /// Shaped like an Exchange journal report but not from a configured
    /// journaling source (`[sensor] journal_sources`): recorded as is, not
    /// unwrapped.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub journal_untrusted: bool,
    /// Base64 that was not clean (a character outside the alphabet, missing
    /// or misplaced padding, data after the padding) was decoded the way
    /// clients decode it (RFC 2045 §6.8). Absent when false, as are the
    /// flags below (docs/extraction.md).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub lenient_base64: bool,
    /// A multipart's closing delimiter is missing: it ended at an enclosing
    /// multipart's delimiter (RFC 2046 §5.1.2) or at the end of the message.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unclosed_multipart: bool,
    /// A multipart without a boundary, or whose boundary never occurs: read
    /// as a part without parts.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub degenerate_multipart: bool,
    /// A part's header block ended at a line that is not a header field
    /// instead of an empty line (that line starts the body).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub missing_header_end: bool,
    /// More than one `From:` field (RFC 5322 §3.6 allows one).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub several_from_fields: bool,
    /// More than one author ([`Record::authors`]), in one `From:` field or
    /// several.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub several_authors: bool,
    /// A `Message-ID:` without its closing `>`; [`Record::msg_id`] keeps
    /// the value.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unterminated_msg_id: bool,
}
