//! `Authentication-Results` header fields (RFC 8601): the data model, and the
//! public entry points for parsing ([`parse`](fn@parse), [`authserv_id`])
//! and formatting (`Display` for [`AuthResults`], [`quote_value`],
//! [`quote_pvalue`]).
//!
//! This file owns the types and their small helpers; the work is split into
//! `lex.rs` (RFC 5322 CFWS, comments, quoted-strings, RFC 2045 tokens),
//! `parse.rs` (the RFC 8601 §2.2 grammar, with the leniencies real headers
//! need) and `format.rs` (quoting and one-line serialisation).
//!
//! # Case and quoting conventions
//!
//! The parser lowercases (ASCII only) the method, the result, the ptype and
//! the property name, because RFC 8601 §2.2 makes them case-insensitive.
//! The authserv-id, the reason and property values are kept exactly as given,
//! except that quoted-strings are unquoted (escapes removed, folding line
//! breaks dropped). Lookups ([`MethodResult::prop`],
//! [`AuthResults::result_for`]) compare ASCII case-insensitively.
//!
//! # Results the RFC does not define
//!
//! The parser does not restrict the result to the values registered for the
//! method (RFC 8601 §2.7): a perimeter appliance that never expanded its
//! template stamps `spf=${SPFResult}`, which parses with the result
//! `"${spfresult}"`. Callers must map any result they do not know to
//! "unknown" themselves (RFC 8601 §2.7.6 and §4: unknown methods and results
//! are ignored by consumers, not rejected).
//!
//! # Leniencies (all listed on [`parse`](fn@parse))
//!
//! An empty result list (`mx.example.com;` or just `mx.example.com`) parses to
//! zero results although RFC 8601 requires `none`; `none` is also accepted.

mod format;
mod lex;
mod parse;
#[cfg(test)]
mod tests;

use std::fmt;

pub use format::{is_token, quote_pvalue, quote_value, MAX_LINE};
pub use parse::{authserv_id, parse, parse_strict, strict_authserv_id};

/// One `Authentication-Results` header field value (RFC 8601 §2.2
/// `authres-header-field`, without the field name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthResults {
    /// The `authserv-id` (RFC 8601 §2.5): the host that did the checks.
    /// Kept as given, unquoted; compare it ASCII case-insensitively.
    pub authserv_id: String,
    /// The optional `authres-version` number after the authserv-id
    /// (RFC 8601 §2.2); only version 1 is defined.
    pub version: Option<u32>,
    /// The `resinfo` entries in header order. Empty for `none` (RFC 8601
    /// §2.2 `no-result`) and for a header with no result at all.
    pub results: Vec<MethodResult>,
}

/// One `resinfo` (RFC 8601 §2.2): a method, its result, an optional reason
/// and the properties that identify what was checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodResult {
    /// The method (RFC 8601 §2.7), e.g. `spf`, `dkim`; lowercase when parsed.
    pub method: String,
    /// The method version after `/` (RFC 8601 §2.2 `methodversion`), e.g.
    /// `dkim/1=pass`.
    pub method_version: Option<u32>,
    /// The result keyword (RFC 8601 §2.7), lowercase when parsed. It may be
    /// a value the RFC does not register, or empty for `foo=` with nothing
    /// after the `=`; callers treat results they do not know as "unknown".
    pub result: String,
    /// The `reason=` value (RFC 8601 §2.2 `reasonspec`), unquoted.
    pub reason: Option<String>,
    /// The `ptype.property=pvalue` entries (RFC 8601 §2.2 `propspec`) in
    /// header order.
    pub props: Vec<Property>,
    /// A comment written after the properties (e.g. why a property was
    /// left out). Never set by the parser, which drops comments.
    pub comment: Option<String>,
}

/// One `propspec` (RFC 8601 §2.2, §2.3): `ptype.property=pvalue`.
///
/// A non-standard `name=value` without a ptype (FastMail's `x-bits=1024`,
/// Microsoft's `action=none`) is kept with an empty `ptype` so that nothing
/// is lost; formatting writes it back as `name=value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property {
    /// The property type (RFC 8601 §2.3: `smtp`, `header`, `body`,
    /// `policy`, or a later registration), lowercase when parsed.
    pub ptype: String,
    /// The property name within the ptype, e.g. `mailfrom`, `from`, `d`;
    /// lowercase when parsed.
    pub property: String,
    /// The value, unquoted; an address (`user@example.org`, `@example.org`)
    /// is kept as written, including a quoted local-part.
    pub value: String,
}

/// Why a header value did not parse: the byte offset into the value where
/// the problem was found, and a fixed description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pos: usize,
    msg: &'static str,
}

impl ParseError {
    pub(crate) fn new(pos: usize, msg: &'static str) -> Self {
        ParseError { pos, msg }
    }

    /// Byte offset into the parsed value where the error was detected.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// What was wrong, e.g. `expected '=' after method`.
    pub fn message(&self) -> &'static str {
        self.msg
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Authentication-Results syntax error at byte {}: {}",
            self.pos, self.msg
        )
    }
}

impl std::error::Error for ParseError {}

impl MethodResult {
    /// The value of the first property `ptype.property` (RFC 8601 §2.3),
    /// compared ASCII case-insensitively; `ptype` `""` finds the non-standard
    /// properties that had no ptype.
    pub fn prop(&self, ptype: &str, property: &str) -> Option<&str> {
        self.props
            .iter()
            .find(|p| {
                p.ptype.eq_ignore_ascii_case(ptype) && p.property.eq_ignore_ascii_case(property)
            })
            .map(|p| p.value.as_str())
    }
}

impl AuthResults {
    /// The first result for `method` (RFC 8601 §2.7), compared ASCII
    /// case-insensitively. A header may carry several results for one method
    /// (e.g. one `spf` per identity, RFC 8601 §2.7.2); iterate
    /// [`AuthResults::results`] to see them all.
    pub fn result_for(&self, method: &str) -> Option<&MethodResult> {
        self.results
            .iter()
            .find(|r| r.method.eq_ignore_ascii_case(method))
    }
}
