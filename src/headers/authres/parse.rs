//! The RFC 8601 §2.2 grammar on top of the lexer: [`parse`] for a whole
//! header value and [`authserv_id`] for just its leading authserv-id.
//!
//! The grammar, with RFC 5322 CFWS allowed between all elements:
//!
//! ```text
//! authres-header-field = authserv-id [ CFWS authres-version ]
//!                        ( no-result / 1*resinfo )
//! no-result  = [CFWS] ";" [CFWS] "none"
//! resinfo    = [CFWS] ";" methodspec [ CFWS reasonspec ] [ CFWS 1*propspec ]
//! methodspec = [CFWS] method [CFWS] "=" [CFWS] result
//! method     = Keyword [ [CFWS] "/" [CFWS] methodversion ]
//! reasonspec = "reason" [CFWS] "=" [CFWS] value
//! propspec   = ptype [CFWS] "." [CFWS] property [CFWS] "=" pvalue
//! pvalue     = [CFWS] ( value / [ [ local-part ] "@" ] domain-name ) [CFWS]
//! ```

use super::lex::Lexer;
use super::{AuthResults, MethodResult, ParseError, Property};

/// Parses an `Authentication-Results` header field value (RFC 8601 §2.2):
/// everything after the colon, folded or not (CRLF or bare LF followed by
/// white space), with comments anywhere CFWS is allowed.
///
/// The field name is not accepted here: strip `Authentication-Results:`
/// first.
///
/// Method, result, ptype and property are lowercased; the authserv-id,
/// reason and values are kept as given (unquoted). Comments are dropped.
///
/// Beyond the RFC, and because real headers need it, this accepts:
///
/// - no result at all: `mx.example.com`, `mx.example.com;`,
///   `mx.example.com; ` give zero results, like `mx.example.com; none`.
///   A trailing `;` after the last result, and empty results (`;;`), are
///   ignored;
/// - `name=value` pairs, and one final bare word, between the authserv-id and
///   the first `;` (Yahoo's `mta4011.mail.gq1.yahoo.com from=fastmail.com;`):
///   skipped, except that a bare number right after the authserv-id is the
///   version;
/// - results that are any RFC 2045 token, not just a keyword (a template
///   left unexpanded, `spf=${SPFResult}`, gives the result `${spfresult}`),
///   and an empty result (`foo=` at the end of a resinfo) as `""`;
/// - properties without a ptype (`x-bits=1024`, `action=none`), kept with
///   an empty [`Property::ptype`]; a second `reason=` is kept the same way;
/// - `/` in unquoted property values (`header.b=Qgi/FoC0`), and any
///   RFC 2045 token as the domain after `@` (`user@localhost`);
/// - a resinfo that is only the authserv-id again, after `;` and white
///   space, as Microsoft's servers write (`...; outlook.com; dkim=pass ...`).
///   It is skipped. Without the white space (`header.d=none;thehesiod.com;`)
///   it is an error, as in the Python `authres` reference tests.
///
/// `none` must be the only resinfo. Anything else that does not fit the
/// grammar is an error: a property value with `:` (an unquoted IPv6
/// address), `foo bar = x`, `foo . . bar = x`, `foo / bar = x` (a method
/// version must be a number), a doubled `=`.
pub fn parse(value: &str) -> Result<AuthResults, ParseError> {
    parse_with(value, header_tail)
}

/// Parses a header value by the grammar authsense trusts (RFC 8601 §2.2
/// without the leniencies between the authserv-id and the first `;`): after
/// the authserv-id only CFWS, an optional numeric version, then `;` or
/// `none`. `mx.example.com x; spf=pass` (what a transport that breaks
/// `mx.example.comx` at column 998 makes) and Yahoo's
/// `id from=x; ...` are errors here. The results themselves are read as
/// [`parse`] reads them.
///
/// The milter's deletion rule and the sensor's trust rule are both built
/// on this (`crate::headers::stamp`), so the two halves judge the same
/// bytes by the same grammar.
pub fn parse_strict(value: &str) -> Result<AuthResults, ParseError> {
    parse_with(value, strict_tail)
}

/// The authserv-id of `value` if it is followed by what [`parse_strict`]
/// accepts before the results (CFWS, an optional version, `;` or `none`).
pub fn strict_authserv_id(value: &str) -> Result<String, ParseError> {
    let mut lx = Lexer::new(value);
    let id = lead_authserv_id(&mut lx)?;
    strict_tail(&mut lx)?;
    Ok(id)
}

type Tail = fn(&mut Lexer<'_>) -> Result<Option<u32>, ParseError>;

fn parse_with(value: &str, tail: Tail) -> Result<AuthResults, ParseError> {
    let mut lx = Lexer::new(value);
    let authserv_id = lead_authserv_id(&mut lx)?;
    let version = tail(&mut lx)?;
    let mut results = Vec::new();
    let mut saw_none = false;
    while lx.eat(b';') {
        let spaced = lx.skip_cfws()?;
        if lx.at_end_or_semicolon() || repeated_authserv_id(&mut lx, &authserv_id, spaced) {
            continue;
        }
        let start = lx.pos();
        match resinfo(&mut lx)? {
            None if results.is_empty() && !saw_none => saw_none = true,
            Some(r) if !saw_none => results.push(r),
            _ => return Err(ParseError::new(start, "'none' must be the only result")),
        }
    }
    if lx.peek().is_some() {
        return Err(lx.err("expected ';' or end of header"));
    }
    Ok(AuthResults {
        authserv_id,
        version,
        results,
    })
}

/// Returns the leading authserv-id of an `Authentication-Results` value
/// (RFC 8601 §2.5), without parsing the rest, so that a milter can delete a
/// header that claims its own authserv-id even when the rest is garbage
/// (RFC 8601 §5).
///
/// The id is an RFC 2045 `value` after optional CFWS: a token, or a
/// quoted-string which is unquoted with escapes removed
/// (`"mail.G\luet.ch"` gives `mail.Gluet.ch`). It must be followed by
/// CFWS (which must itself be well formed), `;` or the end. So
/// `mail.example.ch/1234; spf=pass` is an error: `/` is a tspecial and
/// cannot continue a token. An empty quoted-string is an error too.
///
/// Whenever [`parse`] succeeds, this returns the same id.
pub fn authserv_id(value: &str) -> Result<String, ParseError> {
    lead_authserv_id(&mut Lexer::new(value))
}

fn lead_authserv_id(lx: &mut Lexer<'_>) -> Result<String, ParseError> {
    lx.skip_cfws()?;
    let start = lx.pos();
    let id = lx.value()?.ok_or_else(|| lx.err("expected authserv-id"))?;
    if id.is_empty() {
        return Err(ParseError::new(start, "empty authserv-id"));
    }
    if !lx.at_end_or_semicolon() && !lx.clone().skip_cfws()? {
        return Err(lx.err("authserv-id must be followed by white space, comment, ';' or end"));
    }
    Ok(id)
}

/// Between the authserv-id and the first `;`: the version, or skipped
/// non-standard `name=value` pairs and a final bare word.
fn header_tail(lx: &mut Lexer<'_>) -> Result<Option<u32>, ParseError> {
    let mut version = None;
    let mut first = true;
    loop {
        lx.skip_cfws()?;
        if lx.at_end_or_semicolon() {
            return Ok(version);
        }
        let start = lx.pos();
        let word = lx
            .keyword()
            .ok_or_else(|| lx.err("expected ';' after authserv-id"))?;
        lx.skip_cfws()?;
        if lx.eat(b'=') {
            lx.skip_cfws()?;
            let value = lx.value()?;
            if value.is_none() || (!lx.at_end_or_semicolon() && !lx.clone().skip_cfws()?) {
                return Err(lx.err("expected value after '='"));
            }
        } else if !lx.at_end_or_semicolon() {
            return Err(lx.err("expected ';' after authserv-id"));
        } else if first && word.bytes().all(|b| b.is_ascii_digit()) {
            version = Some(number(word, start)?);
        }
        first = false;
    }
}

/// The strict tail: `[CFWS authres-version] [CFWS]`, then `;` or `none`
/// (left for the caller to read). A version needs CFWS before it.
fn strict_tail(lx: &mut Lexer<'_>) -> Result<Option<u32>, ParseError> {
    let mut version = None;
    if lx.skip_cfws()? {
        let start = lx.pos();
        if let Some(digits) = lx.digits() {
            version = Some(number(digits, start)?);
            if !lx.at_end_or_semicolon() && !lx.clone().skip_cfws()? {
                return Err(lx.err("expected ';' after version"));
            }
            lx.skip_cfws()?;
        }
    }
    if lx.peek() == Some(b';') {
        return Ok(version);
    }
    let mut probe = lx.clone();
    let none = probe
        .keyword()
        .is_some_and(|k| k.eq_ignore_ascii_case("none"));
    if none && (probe.at_end_or_semicolon() || probe.skip_cfws()?) {
        probe.skip_cfws()?;
        if probe.peek().is_none() {
            *lx = probe;
            return Ok(version);
        }
    }
    Err(lx.err("expected ';' or 'none' after authserv-id"))
}

/// Microsoft's `; <authserv-id>;` repetition: consumes it and returns true,
/// or leaves the lexer alone. `spaced` tells whether CFWS followed the `;`.
fn repeated_authserv_id(lx: &mut Lexer<'_>, authserv_id: &str, spaced: bool) -> bool {
    let mut probe = lx.clone();
    let same = spaced
        && probe
            .token()
            .is_some_and(|t| t.eq_ignore_ascii_case(authserv_id));
    if same && probe.skip_cfws().is_ok() && probe.at_end_or_semicolon() {
        *lx = probe;
        return true;
    }
    false
}

/// One resinfo after its `;` and CFWS; `None` for `none`.
fn resinfo(lx: &mut Lexer<'_>) -> Result<Option<MethodResult>, ParseError> {
    let method = lx.keyword().ok_or_else(|| lx.err("expected method name"))?;
    lx.skip_cfws()?;
    if method.eq_ignore_ascii_case("none") && lx.at_end_or_semicolon() {
        return Ok(None);
    }
    let mut method_version = None;
    if lx.eat(b'/') {
        lx.skip_cfws()?;
        let start = lx.pos();
        let digits = lx
            .digits()
            .ok_or_else(|| lx.err("expected method version number after '/'"))?;
        method_version = Some(number(digits, start)?);
        lx.skip_cfws()?;
    }
    if !lx.eat(b'=') {
        return Err(lx.err("expected '=' after method"));
    }
    lx.skip_cfws()?;
    let result = if lx.at_end_or_semicolon() {
        String::new()
    } else {
        lx.token()
            .ok_or_else(|| lx.err("expected result after '='"))?
            .to_ascii_lowercase()
    };
    let mut mr = MethodResult {
        method: method.to_ascii_lowercase(),
        method_version,
        result,
        reason: None,
        props: Vec::new(),
        comment: None,
    };
    properties(lx, &mut mr)?;
    Ok(Some(mr))
}

/// The reason and properties after a result, up to `;` or the end.
fn properties(lx: &mut Lexer<'_>, mr: &mut MethodResult) -> Result<(), ParseError> {
    loop {
        let spaced = lx.skip_cfws()?;
        if lx.at_end_or_semicolon() {
            return Ok(());
        }
        if !spaced {
            return Err(lx.err("expected white space, ';' or end after value"));
        }
        let name = lx
            .keyword()
            .ok_or_else(|| lx.err("expected property or reason"))?;
        lx.skip_cfws()?;
        if lx.eat(b'.') {
            lx.skip_cfws()?;
            let property = lx
                .keyword()
                .ok_or_else(|| lx.err("expected property name after '.'"))?;
            lx.skip_cfws()?;
            if !lx.eat(b'=') {
                return Err(lx.err("expected '=' after property name"));
            }
            let value = pvalue(lx)?;
            mr.props.push(Property {
                ptype: name.to_ascii_lowercase(),
                property: property.to_ascii_lowercase(),
                value,
            });
        } else if lx.eat(b'=') {
            if name.eq_ignore_ascii_case("reason") && mr.reason.is_none() {
                lx.skip_cfws()?;
                let reason = lx.value()?.ok_or_else(|| lx.err("expected reason value"))?;
                mr.reason = Some(reason);
            } else {
                let value = pvalue(lx)?;
                mr.props.push(Property {
                    ptype: String::new(),
                    property: name.to_ascii_lowercase(),
                    value,
                });
            }
        } else {
            return Err(lx.err("expected '.' or '=' after property type"));
        }
    }
}

fn pvalue(lx: &mut Lexer<'_>) -> Result<String, ParseError> {
    lx.skip_cfws()?;
    lx.pvalue()?
        .ok_or_else(|| lx.err("expected property value"))
}

/// A version number; `start` is where its digits began.
fn number(digits: &str, start: usize) -> Result<u32, ParseError> {
    digits
        .parse()
        .map_err(|_| ParseError::new(start, "version number too large"))
}
