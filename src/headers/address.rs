//! Address fields (RFC 5322 §3.4): `From:`, `Sender:`, `Reply-To:`, `To:`,
//! `Cc:` values parsed into mailboxes, with the obsolete forms of §4.4 that
//! real mail still carries (CFWS between any two tokens, `obs-local-part`,
//! `obs-domain`, `obs-route`, empty list elements) and groups (§3.4, which
//! RFC 6854 also allows in `From:`).
//!
//! CFWS is never part of a name: `a@ example.com` and `a@(c)example.com`
//! both have the domain `example.com`. A value that does not follow the
//! grammar is an [`AddressError`] and no domain is guessed from it.
//!
//! One leniency: a display name may contain `@` when an angle-addr follows
//! (`a@example.com <b@example.net>`, common in real mail): the address is the
//! one in angle brackets and the text before it only a name.
//!
//! Work is linear in the length of the value and nothing recurses: the
//! lexer (`address/lex.rs`) counts comment nesting, and groups, the one
//! nesting construct of the grammar, cannot nest.

mod lex;
#[cfg(test)]
mod tests;

use lex::{is_atext, Kind, Token};
use std::fmt;

/// One mailbox of an address field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    /// The display name (RFC 5322 §3.4 `display-name`): its words, quoted
    /// strings unquoted, with one space where CFWS separated two of them.
    /// RFC 2047 encoded words are left as written. `None` when absent or
    /// empty.
    pub display_name: Option<String>,
    /// The local-part's content: quoted-strings unquoted, the words of an
    /// `obs-local-part` joined by `.` (RFC 5322 §3.4.1 makes both forms the
    /// same address).
    pub local_part: String,
    /// The domain as written without CFWS: dot-separated atoms or a
    /// domain-literal `[...]`.
    pub domain_as_written: String,
    /// [`Mailbox::domain_as_written`] lowercased: what to compare.
    pub domain: String,
}

impl Mailbox {
    /// `local-part@domain` as written without CFWS; the local-part is a
    /// quoted-string when it is not a dot-atom.
    pub fn address(&self) -> String {
        let dot_atom = self
            .local_part
            .split('.')
            .all(|a| !a.is_empty() && a.bytes().all(is_atext));
        if dot_atom {
            return format!("{}@{}", self.local_part, self.domain_as_written);
        }
        let mut out = String::with_capacity(self.local_part.len() + 3);
        out.push('"');
        for c in self.local_part.chars() {
            if matches!(c, '"' | '\\') {
                out.push('\\');
            }
            out.push(c);
        }
        out.push('"');
        format!("{out}@{}", self.domain_as_written)
    }

    /// Whether the domain is a domain-literal (`[192.0.2.1]`), not a name.
    pub fn is_literal(&self) -> bool {
        self.domain.starts_with('[')
    }
}

/// Why a field value is not an address list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressError {
    /// Octet offset in the value where the problem was found.
    pub offset: usize,
    /// What is wrong.
    pub problem: &'static str,
}

impl fmt::Display for AddressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at octet {}", self.problem, self.offset)
    }
}

impl std::error::Error for AddressError {}

/// Parses an `address-list` (RFC 5322 §3.4; a `mailbox-list` is one without
/// groups) into its mailboxes in order, group members included. A list of
/// empty groups only (`undisclosed-recipients:;`) gives no mailbox.
///
/// # Errors
/// The value is empty, or does not follow the grammar (the error says
/// where); nothing is returned for a partly readable value.
pub fn parse_address_list(value: &str) -> Result<Vec<Mailbox>, AddressError> {
    let mut p = Parser {
        toks: lex::tokens(value)?,
        pos: 0,
        end: value.len(),
    };
    p.list()
}

struct Parser<'a> {
    toks: Vec<Token<'a>>,
    pos: usize,
    /// The value's length: the offset reported at its end.
    end: usize,
}

impl<'a> Parser<'a> {
    /// The special at the current position, if that is one.
    fn special(&self) -> Option<u8> {
        match self.toks.get(self.pos)?.kind {
            Kind::Special(c) => Some(c),
            _ => None,
        }
    }

    fn at_end(&self) -> bool {
        self.pos >= self.toks.len()
    }

    fn err(&self, problem: &'static str) -> AddressError {
        let offset = self.toks.get(self.pos).map_or(self.end, |t| t.at);
        AddressError { offset, problem }
    }

    /// `address *("," address)`, empty elements allowed (obs-addr-list).
    fn list(&mut self) -> Result<Vec<Mailbox>, AddressError> {
        let mut out = Vec::new();
        let mut seen = false;
        loop {
            while self.special() == Some(b',') {
                self.pos += 1;
            }
            if self.at_end() {
                break;
            }
            self.address(&mut out, false)?;
            seen = true;
            match self.special() {
                Some(b',') => {}
                _ if self.at_end() => break,
                _ => return Err(self.err("expected ',' between addresses")),
            }
        }
        if seen {
            Ok(out)
        } else {
            Err(self.err("no address"))
        }
    }

    /// Advances over the tokens an addr-spec or a display name is made of
    /// and returns where they start.
    fn run(&mut self) -> usize {
        let start = self.pos;
        while let Some(t) = self.toks.get(self.pos) {
            match t.kind {
                Kind::Atom | Kind::Quoted | Kind::Literal | Kind::Special(b'.' | b'@') => {
                    self.pos += 1;
                }
                Kind::Special(_) => break,
            }
        }
        start
    }

    /// One `mailbox` or (outside a group) one `group`, appended to `out`.
    fn address(&mut self, out: &mut Vec<Mailbox>, in_group: bool) -> Result<(), AddressError> {
        let start = self.run();
        let words = start..self.pos;
        match self.special() {
            Some(b'<') => {
                let display_name = phrase(&self.toks[words], true)?;
                let (local_part, domain) = self.angle_addr()?;
                out.push(mailbox(display_name, local_part, domain));
            }
            Some(b':') if in_group => return Err(self.err("group inside a group")),
            Some(b':') if words.is_empty() => return Err(self.err("group without a name")),
            Some(b':') => {
                phrase(&self.toks[words], false)?;
                self.pos += 1;
                self.group(out)?;
            }
            _ if words.is_empty() => return Err(self.err("expected an address")),
            _ => {
                let (local_part, domain) = addr_spec(&self.toks[words], self.end)?;
                out.push(mailbox(None, local_part, domain));
            }
        }
        Ok(())
    }

    /// The members of a group after its `:`, through its `;`.
    fn group(&mut self, out: &mut Vec<Mailbox>) -> Result<(), AddressError> {
        loop {
            while self.special() == Some(b',') {
                self.pos += 1;
            }
            if self.special() == Some(b';') {
                self.pos += 1;
                return Ok(());
            }
            if self.at_end() {
                return Err(self.err("group without its closing ';'"));
            }
            self.address(out, true)?;
            if !self.at_end() && !matches!(self.special(), Some(b',' | b';')) {
                return Err(self.err("expected ',' or ';' in a group"));
            }
        }
    }

    /// `"<" [obs-route] addr-spec ">"`, at its `<`.
    fn angle_addr(&mut self) -> Result<(String, String), AddressError> {
        self.pos += 1;
        if matches!(self.special(), Some(b'@' | b',')) {
            self.route()?;
        }
        let start = self.run();
        if self.special() != Some(b'>') {
            return Err(self.err("expected '>'"));
        }
        let at = self.toks[self.pos].at;
        let spec = addr_spec(&self.toks[start..self.pos], at)?;
        self.pos += 1;
        Ok(spec)
    }

    /// RFC 5322 §4.4 `obs-route`: `@domain,@domain:` before the addr-spec,
    /// read and dropped.
    fn route(&mut self) -> Result<(), AddressError> {
        loop {
            match self.special() {
                Some(b',') => self.pos += 1,
                Some(b'@') => {
                    self.pos += 1;
                    let start = self.pos;
                    while matches!(
                        self.toks.get(self.pos).map(|t| t.kind),
                        Some(Kind::Atom | Kind::Literal | Kind::Special(b'.'))
                    ) {
                        self.pos += 1;
                    }
                    domain(
                        &self.toks[start..self.pos],
                        self.err("malformed domain in a route"),
                    )?;
                }
                Some(b':') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(self.err("malformed route before the address")),
            }
        }
    }
}

fn mailbox(display_name: Option<String>, local_part: String, domain: String) -> Mailbox {
    Mailbox {
        display_name,
        local_part,
        domain: domain.to_lowercase(),
        domain_as_written: domain,
    }
}

/// The text of a display name (or group name); `at_ok` allows the `@` of
/// the leniency described in the module documentation.
fn phrase(words: &[Token<'_>], at_ok: bool) -> Result<Option<String>, AddressError> {
    let mut text = String::new();
    for (i, t) in words.iter().enumerate() {
        match t.kind {
            Kind::Atom | Kind::Quoted | Kind::Special(b'.') => {}
            Kind::Special(b'@') if at_ok => {}
            _ => {
                return Err(AddressError {
                    offset: t.at,
                    problem: "not allowed in a display name",
                })
            }
        }
        if i > 0 && t.space_before {
            text.push(' ');
        }
        text.push_str(&t.text);
    }
    let text = text.trim();
    Ok((!text.is_empty()).then(|| text.to_string()))
}

/// `local-part "@" domain` from its tokens; `end` is the offset reported
/// when the tokens run out.
fn addr_spec(words: &[Token<'_>], end: usize) -> Result<(String, String), AddressError> {
    let mut ats = words
        .iter()
        .enumerate()
        .filter(|(_, t)| t.kind == Kind::Special(b'@'));
    let Some((at, sign)) = ats.next() else {
        let offset = words.first().map_or(end, |t| t.at);
        return Err(AddressError {
            offset,
            problem: "address without '@'",
        });
    };
    if let Some((_, second)) = ats.next() {
        return Err(AddressError {
            offset: second.at,
            problem: "more than one '@' in an address",
        });
    }
    let missing = |problem| AddressError {
        offset: sign.at,
        problem,
    };
    let local = local_part(&words[..at]).ok_or_else(|| missing("malformed local-part"))?;
    let domain = domain(&words[at + 1..], missing("malformed domain"))?;
    Ok((local, domain))
}

/// `dot-atom` / `quoted-string` / `obs-local-part`: words joined by single
/// dots. `None` when the tokens are not that.
fn local_part(words: &[Token<'_>]) -> Option<String> {
    let mut out = String::new();
    let mut want_word = true;
    for t in words {
        match (want_word, t.kind) {
            (true, Kind::Atom | Kind::Quoted) => want_word = false,
            (false, Kind::Special(b'.')) => want_word = true,
            _ => return None,
        }
        out.push_str(&t.text);
    }
    (!want_word).then_some(out)
}

/// `dot-atom` / `domain-literal` / `obs-domain`, as written without CFWS.
fn domain(words: &[Token<'_>], bad: AddressError) -> Result<String, AddressError> {
    if let [t] = words {
        if t.kind == Kind::Literal {
            return Ok(t.text.to_string());
        }
    }
    let mut out = String::new();
    let mut want_atom = true;
    for t in words {
        match (want_atom, t.kind) {
            (true, Kind::Atom) => want_atom = false,
            (false, Kind::Special(b'.')) => want_atom = true,
            _ => return Err(bad),
        }
        out.push_str(&t.text);
    }
    if want_atom {
        return Err(bad);
    }
    Ok(out)
}
