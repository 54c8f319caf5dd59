//! Writing `Authentication-Results` values: the quoting rules ([`is_token`],
//! [`quote_value`], [`quote_pvalue`]) and the `Display` impls, which put the
//! whole value on one line without folding (the caller's MTA folds if it
//! must).
//!
//! Output shape (RFC 8601 §2.2):
//! `<authserv-id>[ <version>]; <method>[/<v>]=<result>[ reason=<value>][ <ptype>.<property>=<pvalue>]...`,
//! results joined by `; `, and `<authserv-id>[ <version>]; none` when there
//! are no results.

use std::borrow::Cow;
use std::fmt;

use super::lex::{is_atext_byte, is_token_byte};
use super::{AuthResults, MethodResult, Property};

/// Whether `s` is an RFC 2045 §5.1 `token`: one or more of any CHAR except
/// SPACE, CTLs and tspecials (`()<>@,;:\"/[]?=`).
///
/// Non-ASCII characters count as token characters: RFC 6532 §3.2 extends
/// the header grammar to UTF-8, so an internationalised authserv-id or
/// value is written bare rather than quoted. The empty string is not a
/// token.
pub fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_token_byte)
}

/// Writes `s` as an RFC 2045 `value` (RFC 8601 §2.2 authserv-id and
/// `reason`): as-is if it is a token ([`is_token`]), else as an RFC 5322
/// quoted-string with `\` and `"` escaped.
///
/// Control characters other than tab cannot appear in a quoted-string
/// (a CR or LF would end the header), so each is written as `?`.
pub fn quote_value(s: &str) -> Cow<'_, str> {
    if is_token(s) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(quoted(s))
    }
}

/// Writes `s` as an RFC 8601 §2.2 `pvalue`: as-is if it is a token, or if it
/// is `[local-part] "@" domain-name` with a dot-atom local-part (RFC 5322
/// §3.2.3) and an RFC 6376 domain-name (two or more labels of letters,
/// digits and inner hyphens; non-ASCII allowed for U-labels), so
/// `user@example.org` and `@example.org` stay bare. Anything else, e.g. an
/// address literal `[192.0.2.1]` or `postmaster@[192.0.2.1]`, is written as
/// a quoted-string, as in [`quote_value`].
pub fn quote_pvalue(s: &str) -> Cow<'_, str> {
    if is_token(s) || is_bare_address(s) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(quoted(s))
    }
}

/// An RFC 5322 quoted-string holding `s`.
pub(super) fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\t' => out.push(c),
            c if c.is_ascii_control() => out.push('?'),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `[local-part] "@" domain-name`, where the local-part is a dot-atom or an
/// already well-formed quoted-string (as in `"john doe"@example.org`, which
/// MAIL FROM carries verbatim).
fn is_bare_address(s: &str) -> bool {
    match s.rsplit_once('@') {
        Some((local, domain)) => {
            (local.is_empty() || is_dot_atom(local) || is_quoted_string(local))
                && is_domain_name(domain)
        }
        None => false,
    }
}

/// A complete RFC 5322 quoted-string without control characters.
fn is_quoted_string(s: &str) -> bool {
    let Some(inner) = s.strip_prefix('"').and_then(|r| r.strip_suffix('"')) else {
        return false;
    };
    let mut escaped = false;
    for c in inner.chars() {
        if c.is_control() && c != '\t' {
            return false;
        }
        match (escaped, c) {
            (true, _) => escaped = false,
            (false, '\\') => escaped = true,
            (false, '"') => return false,
            _ => {}
        }
    }
    !escaped
}

/// RFC 5322 §3.2.3 `dot-atom-text`: atoms of atext joined by single dots.
fn is_dot_atom(s: &str) -> bool {
    s.split('.')
        .all(|atom| !atom.is_empty() && atom.bytes().all(is_atext_byte))
}

/// RFC 6376 §3.5 `domain-name`: `sub-domain 1*("." sub-domain)`, where a
/// sub-domain is letters and digits with inner hyphens (RFC 5321
/// `Let-dig [Ldh-str]`); non-ASCII bytes count as letters (U-labels).
fn is_domain_name(s: &str) -> bool {
    let letdig = |b: u8| b >= 0x80 || b.is_ascii_alphanumeric();
    let label = |l: &str| {
        let bytes = l.as_bytes();
        match (bytes.first(), bytes.last()) {
            (Some(&first), Some(&last)) => {
                letdig(first) && letdig(last) && bytes.iter().all(|&b| letdig(b) || b == b'-')
            }
            _ => false,
        }
    };
    s.contains('.') && s.split('.').all(label)
}

impl fmt::Display for Property {
    /// `ptype.property=pvalue`, or `property=pvalue` when the ptype is empty
    /// (a non-standard property kept by the parser).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.ptype.is_empty() {
            write!(f, "{}.", self.ptype)?;
        }
        write!(f, "{}={}", self.property, quote_pvalue(&self.value))
    }
}

impl MethodResult {
    /// The resinfo's elements (without the `;`): `method[/v]=result`, then
    /// ` reason=`, the properties and the comment, each a unit that folding
    /// never splits.
    fn pieces(&self, out: &mut Vec<String>) {
        let mut head = self.method.clone();
        if let Some(v) = self.method_version {
            head.push_str(&format!("/{v}"));
        }
        head.push('=');
        head.push_str(&self.result);
        out.push(head);
        if let Some(reason) = &self.reason {
            out.push(format!("reason={}", quote_value(reason)));
        }
        out.extend(self.props.iter().map(|p| p.to_string()));
        if let Some(c) = &self.comment {
            out.push(comment(c));
        }
    }
}

/// `s` as an RFC 5322 comment: parentheses, backslashes and control
/// characters cannot break out of it.
fn comment(s: &str) -> String {
    let text: String = s
        .chars()
        .map(|c| match c {
            '(' | ')' | '\\' => '_',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect();
    format!("({text})")
}

impl fmt::Display for MethodResult {
    /// `method[/version]=result[ reason=value][ property...][ (comment)]`
    /// (RFC 8601 §2.2 `resinfo` without the `;`). Method, result, ptype and
    /// property are written as-is: they must be keywords.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut pieces = Vec::new();
        self.pieces(&mut pieces);
        f.write_str(&pieces.join(" "))
    }
}

impl AuthResults {
    /// The elements of the value: the authserv-id (with `;` appended to the
    /// last element of each result but the last), the version, each
    /// result's elements, or `none`. Joined by single spaces they are the
    /// one-line value.
    fn pieces(&self) -> Vec<String> {
        let mut out = vec![quote_value(&self.authserv_id).into_owned()];
        if let Some(v) = self.version {
            out.push(v.to_string());
        }
        if self.results.is_empty() {
            if let Some(last) = out.last_mut() {
                last.push(';');
            }
            out.push("none".to_string());
        }
        for r in &self.results {
            if let Some(last) = out.last_mut() {
                last.push(';');
            }
            r.pieces(&mut out);
        }
        out
    }

    /// The value of a header field called `name`: exactly the one-line
    /// `Display` form when `name: value` fits in [`MAX_LINE`] octets (so the
    /// ordinary stamp stays the guide's single line), otherwise folded (RFC
    /// 5322 §2.2.3) with `"\n\t"` at the white space between elements,
    /// lines kept within 78 octets where an element allows. No element is
    /// split; callers keep each element far below [`MAX_LINE`].
    pub fn to_header_value(&self, name: &str) -> String {
        let pieces = self.pieces();
        let one_line = pieces.join(" ");
        if name.len() + 2 + one_line.len() <= MAX_LINE {
            return one_line;
        }
        let mut out = String::with_capacity(one_line.len() + pieces.len() * 2);
        let mut col = name.len() + 2;
        for (i, p) in pieces.iter().enumerate() {
            if i > 0 && col + 1 + p.len() > 78 {
                out.push_str("\n\t");
                col = 1;
            } else if i > 0 {
                out.push(' ');
                col += 1;
            }
            out.push_str(p);
            col += p.len();
        }
        out
    }
}

/// The longest line a header field may have on the wire (RFC 5322 §2.1.1),
/// CRLF excluded; Postfix's SMTP client breaks longer ones
/// (`smtp_line_length_limit`).
pub const MAX_LINE: usize = 998;

impl fmt::Display for AuthResults {
    /// The header field value (RFC 8601 §2.2) on one line, no folding:
    /// `authserv-id[ version]; resinfo; resinfo`, or `authserv-id; none`
    /// when there are no results. The authserv-id is quoted if it is not a
    /// token.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.pieces().join(" "))
    }
}
