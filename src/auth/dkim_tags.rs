//! A strict reading of the tag-lists of DKIM-Signature (RFC 6376 §3.5),
//! ARC-Message-Signature (RFC 8617 §4.1.2) and ARC-Seal (RFC 8617 §4.1.3),
//! made from the raw header value before mail-auth's verdict is believed.
//!
//! mail-auth's tag parser is lenient: it lowercases tag names, skips empty
//! and malformed tag-specs, keeps the last of a duplicated tag, defaults a
//! missing `a=` to rsa-sha256, and accepts rsa-sha1. Each of these lets a
//! header that RFC 6376 §3.2 calls invalid verify, so every signature and
//! seal is read again here and refused on any of them.
//!
//! A refusal is either a weak algorithm (rsa-sha1, which RFC 8301 §3.1 says
//! must not be used for verifying: DKIM `fail`) or an invalid header (RFC
//! 6376 §6.1.1 "PERMFAIL (signature syntax error)" and "(signature missing
//! required tag)": DKIM `permerror`, RFC 8601 §2.7.1). For ARC either one
//! fails the chain (RFC 8617 §5.2).

use std::fmt;

/// Which header a tag-list comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// DKIM-Signature (RFC 6376 §3.5).
    Dkim,
    /// ARC-Message-Signature (RFC 8617 §4.1.2).
    Ams,
    /// ARC-Seal (RFC 8617 §4.1.3).
    Seal,
}

impl Kind {
    /// The header field name.
    pub fn header(self) -> &'static str {
        match self {
            Kind::Dkim => "DKIM-Signature",
            Kind::Ams => "ARC-Message-Signature",
            Kind::Seal => "ARC-Seal",
        }
    }

    /// The tags that must be present: RFC 6376 §3.5 for DKIM; RFC 8617
    /// §4.1.2 (DKIM's, with `i=` the instance and no `v=`) and §4.1.3.
    fn required(self) -> &'static [&'static str] {
        match self {
            Kind::Dkim => &["v", "a", "b", "bh", "d", "h", "s"],
            Kind::Ams => &["i", "a", "b", "bh", "d", "h", "s"],
            Kind::Seal => &["i", "a", "b", "cv", "d", "s"],
        }
    }
}

/// Why a signature or seal is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// `a=rsa-sha1`: RFC 8301 §3.1, never accepted.
    WeakAlgorithm,
    /// An `a=` other than rsa-sha256 and ed25519-sha256 (RFC 6376 §3.3,
    /// RFC 8463).
    UnknownAlgorithm,
    /// A required tag is absent (RFC 6376 §6.1.1).
    MissingTag(&'static str),
    /// Any other syntax error; the text says which, with its RFC section.
    Syntax(String),
}

impl Refusal {
    /// True for a weak algorithm (DKIM `fail`); false for an invalid header
    /// (DKIM `permerror`).
    pub fn is_weak(&self) -> bool {
        matches!(self, Refusal::WeakAlgorithm)
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::WeakAlgorithm => {
                f.write_str("rsa-sha1 is not accepted (RFC 8301 section 3.1)")
            }
            Refusal::UnknownAlgorithm => f.write_str("unsupported algorithm in a="),
            Refusal::MissingTag(t) => {
                write!(f, "required tag {t}= missing (RFC 6376 section 6.1.1)")
            }
            Refusal::Syntax(why) => f.write_str(why),
        }
    }
}

/// A parsed tag-list: `(name, value)` in order, values without the FWS
/// around them (RFC 6376 §3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagList<'a>(Vec<(&'a str, &'a str)>);

impl<'a> TagList<'a> {
    /// Parses `value` per the RFC 6376 §3.2 ABNF: tag names `ALPHA
    /// *ALNUMPUNC`, compared case-sensitively; values of VALCHAR and
    /// whitespace (octets above 0x7F are let through for RFC 8616 UTF-8
    /// identities); no empty tag-spec except after a final `;`; no tag twice.
    ///
    /// # Errors
    /// The first syntax error, as a [`Refusal::Syntax`].
    pub fn parse(value: &'a [u8]) -> Result<TagList<'a>, Refusal> {
        let text = std::str::from_utf8(value)
            .map_err(|_| syntax("the tag-list is not ASCII or UTF-8 (RFC 6376 section 3.2)"))?;
        let specs: Vec<&str> = text.split(';').collect();
        let mut tags: Vec<(&str, &str)> = Vec::with_capacity(specs.len());
        for (n, spec) in specs.iter().enumerate() {
            if spec.trim_matches(is_fws).is_empty() {
                if n > 0 && n == specs.len() - 1 {
                    break; // the optional final ";"
                }
                return Err(syntax("empty tag-spec (RFC 6376 section 3.2)"));
            }
            let (name, val) = spec
                .split_once('=')
                .ok_or_else(|| syntax("tag-spec without \"=\" (RFC 6376 section 3.2)"))?;
            let (name, val) = (name.trim_matches(is_fws), val.trim_matches(is_fws));
            if !is_tag_name(name) {
                return Err(syntax("invalid tag name (RFC 6376 section 3.2)"));
            }
            if !val.bytes().all(is_value_octet) {
                return Err(syntax(
                    "invalid character in a tag value (RFC 6376 section 3.2)",
                ));
            }
            if tags.iter().any(|(t, _)| *t == name) {
                return Err(Refusal::Syntax(format!(
                    "tag {}= appears twice (RFC 6376 section 3.2)",
                    short(name)
                )));
            }
            tags.push((name, val));
        }
        Ok(TagList(tags))
    }

    /// The value of tag `name` (case-sensitive), if present.
    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.0.iter().find(|(t, _)| *t == name).map(|(_, v)| *v)
    }
}

/// Reads the header value of a `kind` header strictly.
///
/// # Errors
/// Why the header must not verify; see [`Refusal`].
pub fn check(kind: Kind, value: &[u8]) -> Result<TagList<'_>, Refusal> {
    let tags = TagList::parse(value)?;
    if let Some(missing) = kind.required().iter().find(|t| tags.get(t).is_none()) {
        return Err(Refusal::MissingTag(missing));
    }
    check_values(kind, &tags)?;
    match tags.get("a").map(str::to_ascii_lowercase).as_deref() {
        Some("rsa-sha256" | "ed25519-sha256") => Ok(tags),
        Some("rsa-sha1") => Err(Refusal::WeakAlgorithm),
        _ => Err(Refusal::UnknownAlgorithm),
    }
}

/// The tag values the lenient parser would misread or not check.
fn check_values(kind: Kind, tags: &TagList<'_>) -> Result<(), Refusal> {
    if kind == Kind::Dkim && tags.get("v") != Some("1") {
        return Err(syntax("v= is not 1 (RFC 6376 section 3.5)"));
    }
    if kind != Kind::Dkim && !tags.get("i").is_some_and(is_instance) {
        return Err(syntax(
            "i= is not an instance 1-50 (RFC 8617 section 4.2.1)",
        ));
    }
    for (tag, max) in [("t", 12), ("x", 12), ("l", 76)] {
        if tags.get(tag).is_some_and(|v| !is_digits(v, max)) {
            return Err(Refusal::Syntax(format!(
                "{tag}= is not a number (RFC 6376 section 3.5)"
            )));
        }
    }
    if tags.get("c").is_some_and(|c| !is_canonicalization(c)) {
        return Err(syntax("invalid c= (RFC 6376 section 3.5)"));
    }
    match kind {
        Kind::Seal if tags.get("h").is_some() => {
            Err(syntax("ARC-Seal with h= (RFC 8617 section 4.1.3)"))
        }
        Kind::Seal => Ok(()),
        Kind::Dkim | Kind::Ams => check_signed_headers(kind, tags.get("h").unwrap_or_default()),
    }
}

/// `h=`: a colon-separated list of at least one field name (RFC 6376 §3.5
/// ABNF). DKIM must sign From (§6.1.1); an AMS must not sign ARC-Seal (RFC
/// 8617 §4.1.2). An empty entry (`from::to`) is outside the ABNF but names
/// no header, so it cannot change what is signed: it is let through, as
/// the ValiMail ARC suite expects (`ams_fields_h_mis_hdr`).
fn check_signed_headers(kind: Kind, h: &str) -> Result<(), Refusal> {
    let names: Vec<&str> = h
        .split(':')
        .map(|n| n.trim_matches(is_fws))
        .filter(|n| !n.is_empty())
        .collect();
    if names.is_empty() || !names.iter().all(|n| n.bytes().all(is_ftext)) {
        return Err(syntax("invalid h= list (RFC 6376 section 3.5)"));
    }
    match kind {
        Kind::Dkim if !names.iter().any(|n| n.eq_ignore_ascii_case("from")) => {
            Err(syntax("From is not signed (RFC 6376 section 6.1.1)"))
        }
        Kind::Ams if names.iter().any(|n| n.eq_ignore_ascii_case("arc-seal")) => {
            Err(syntax("h= lists ARC-Seal (RFC 8617 section 4.1.2)"))
        }
        _ => Ok(()),
    }
}

/// A tag's value for display when the header was refused: the first
/// tag-spec named `name` (case-sensitive), whitespace removed. Not for any
/// decision.
pub fn loose(value: &[u8], name: &str) -> Option<String> {
    String::from_utf8_lossy(value).split(';').find_map(|spec| {
        let (n, v) = spec.split_once('=')?;
        (n.trim_matches(is_fws) == name).then(|| v.chars().filter(|c| !is_fws(*c)).collect())
    })
}

fn syntax(why: &str) -> Refusal {
    Refusal::Syntax(why.to_string())
}

/// A tag name for a message: only short ones are quoted.
fn short(name: &str) -> &str {
    if name.len() <= 16 {
        name
    } else {
        "(long name)"
    }
}

/// FWS and the CR/LF of folding.
fn is_fws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// `ALPHA *ALNUMPUNC`.
fn is_tag_name(name: &str) -> bool {
    let mut b = name.bytes();
    b.next().is_some_and(|c| c.is_ascii_alphabetic())
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

/// VALCHAR (%x21-3A / %x3C-7E), whitespace between tvals, or UTF-8.
fn is_value_octet(c: u8) -> bool {
    matches!(c, 0x21..=0x3A | 0x3C..=0x7E | b' ' | b'\t' | b'\r' | b'\n') || c >= 0x80
}

/// RFC 5322 ftext: printable ASCII except ":".
fn is_ftext(c: u8) -> bool {
    matches!(c, 0x21..=0x39 | 0x3B..=0x7E)
}

fn is_digits(v: &str, max: usize) -> bool {
    !v.is_empty() && v.len() <= max && v.bytes().all(|c| c.is_ascii_digit())
}

fn is_instance(v: &str) -> bool {
    is_digits(v, 2) && v.parse::<u8>().is_ok_and(|i| (1..=50).contains(&i))
}

/// `sig-c-tag-alg ["/" sig-c-tag-alg]`, simple or relaxed.
fn is_canonicalization(c: &str) -> bool {
    let alg = |a: &str| a.eq_ignore_ascii_case("simple") || a.eq_ignore_ascii_case("relaxed");
    match c.split_once('/') {
        Some((h, b)) => alg(h) && alg(b),
        None => alg(c),
    }
}

#[cfg(test)]
#[path = "dkim_tags_tests.rs"]
mod tests;
