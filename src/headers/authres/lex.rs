//! The lexical layer under the RFC 8601 parser: RFC 5322 §3.2.2 CFWS
//! (folding white space and nested comments with quoted-pairs), RFC 5322
//! §3.2.4 quoted-strings, RFC 2045 §5.1 tokens, RFC 8601 §2.2 keywords, and
//! the `pvalue` shapes (value or `[local-part]@domain`).
//!
//! The lexer works on bytes of a `&str`. Every delimiter is ASCII, and bytes
//! of non-ASCII characters (0x80 and up) only ever count as token, atom or
//! text bytes (RFC 6532 UTF-8 headers), so every slice taken here is on a
//! character boundary.
//!
//! Line breaks are accepted as folding: CRLF or a bare LF, followed by a space
//! or tab (RFC 5322 §3.2.2), or at the very end of the value. A bare CR, or a
//! line break not followed by white space, is an error.

use super::ParseError;

/// RFC 2045 §5.1 `tspecials`.
fn is_tspecial(b: u8) -> bool {
    matches!(
        b,
        b'(' | b')'
            | b'<'
            | b'>'
            | b'@'
            | b','
            | b';'
            | b':'
            | b'\\'
            | b'"'
            | b'/'
            | b'['
            | b']'
            | b'?'
            | b'='
    )
}

/// A byte of an RFC 2045 `token`: any CHAR except SPACE, CTLs and tspecials,
/// plus the bytes of non-ASCII UTF-8 characters (RFC 6532).
pub(super) fn is_token_byte(b: u8) -> bool {
    b >= 0x80 || (b > b' ' && b != 0x7f && !is_tspecial(b))
}

/// A byte of an RFC 5322 §3.2.3 `atext`, plus non-ASCII (RFC 6532).
pub(super) fn is_atext_byte(b: u8) -> bool {
    b >= 0x80 || b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b)
}

/// A byte of an RFC 8601 keyword as found in real headers: RFC 5321
/// `Ldh-str` letters, digits and `-`, plus `_` (FastMail's
/// `smtp_is_org_domain`).
fn is_keyword_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// A byte of an unquoted pvalue: a token byte, or `/` (base64 in
/// `header.b=Qgi/FoC0`, FastMail's `bits=128/128`), which real headers
/// leave unquoted although it is a tspecial.
fn is_pvalue_byte(b: u8) -> bool {
    is_token_byte(b) || b == b'/'
}

/// A cursor over a header value.
#[derive(Clone)]
pub(super) struct Lexer<'a> {
    src: &'a str,
    pos: usize,
}

impl<'a> Lexer<'a> {
    pub(super) fn new(src: &'a str) -> Self {
        Lexer { src, pos: 0 }
    }

    /// Current byte offset.
    pub(super) fn pos(&self) -> usize {
        self.pos
    }

    /// An error at the current offset.
    pub(super) fn err(&self, msg: &'static str) -> ParseError {
        ParseError::new(self.pos, msg)
    }

    pub(super) fn peek(&self) -> Option<u8> {
        self.src.as_bytes().get(self.pos).copied()
    }

    fn peek_at(&self, off: usize) -> Option<u8> {
        self.src.as_bytes().get(self.pos + off).copied()
    }

    /// At the end of the value, or at a `;` (the ends of a resinfo).
    pub(super) fn at_end_or_semicolon(&self) -> bool {
        matches!(self.peek(), None | Some(b';'))
    }

    /// Consumes `b` if it is next.
    pub(super) fn eat(&mut self, b: u8) -> bool {
        let hit = self.peek() == Some(b);
        if hit {
            self.pos += 1;
        }
        hit
    }

    fn take_while(&mut self, pred: impl Fn(u8) -> bool) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(&pred) {
            self.pos += 1;
        }
        &self.src[start..self.pos]
    }

    /// If a line break starts here, consumes it when it is a legal fold
    /// (followed by WSP or the end of the value). Returns whether it did.
    fn fold(&mut self) -> Result<bool, ParseError> {
        let len = match (self.peek(), self.peek_at(1)) {
            (Some(b'\r'), Some(b'\n')) => 2,
            (Some(b'\n'), _) => 1,
            (Some(b'\r'), _) => return Err(self.err("bare CR in header value")),
            _ => return Ok(false),
        };
        match self.peek_at(len) {
            None | Some(b' ' | b'\t') => {
                self.pos += len;
                Ok(true)
            }
            Some(_) => Err(self.err("line break not followed by white space")),
        }
    }

    /// Skips RFC 5322 `[CFWS]`: spaces, tabs, folds and (nested) comments.
    /// Returns whether anything was skipped.
    pub(super) fn skip_cfws(&mut self) -> Result<bool, ParseError> {
        let start = self.pos;
        loop {
            match self.peek() {
                Some(b' ' | b'\t') => self.pos += 1,
                Some(b'(') => self.skip_comment()?,
                Some(b'\r' | b'\n') => {
                    self.fold()?;
                }
                _ => return Ok(self.pos > start),
            }
        }
    }

    /// Skips one RFC 5322 §3.2.2 `comment` starting at `(`, including nested
    /// comments and quoted-pairs.
    fn skip_comment(&mut self) -> Result<(), ParseError> {
        let open = self.pos;
        let mut depth = 0usize;
        loop {
            match self.peek() {
                None => return Err(ParseError::new(open, "unterminated comment")),
                Some(b'(') => {
                    depth += 1;
                    self.pos += 1;
                }
                Some(b')') => {
                    self.pos += 1;
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return Ok(());
                    }
                }
                Some(b'\\') => {
                    self.quoted_pair()?;
                }
                Some(b'\r' | b'\n') => {
                    self.fold()?;
                }
                Some(_) => self.pos += 1,
            }
        }
    }

    /// Consumes an RFC 5322 `quoted-pair` at `\` and returns the escaped
    /// character's bytes. Escaped line breaks are refused.
    fn quoted_pair(&mut self) -> Result<&'a str, ParseError> {
        let after = self.pos + 1;
        match self.src[after..].chars().next() {
            None => Err(self.err("backslash at end of value")),
            Some('\r' | '\n') => Err(self.err("escaped line break")),
            Some(c) => {
                self.pos = after + c.len_utf8();
                Ok(&self.src[after..self.pos])
            }
        }
    }

    /// An RFC 2045 token, if one starts here.
    pub(super) fn token(&mut self) -> Option<&'a str> {
        Some(self.take_while(is_token_byte)).filter(|t| !t.is_empty())
    }

    /// A keyword (method, ptype, property name), if one starts here.
    pub(super) fn keyword(&mut self) -> Option<&'a str> {
        Some(self.take_while(is_keyword_byte)).filter(|t| !t.is_empty())
    }

    /// A run of ASCII digits, if one starts here.
    pub(super) fn digits(&mut self) -> Option<&'a str> {
        Some(self.take_while(|b| b.is_ascii_digit())).filter(|t| !t.is_empty())
    }

    /// An RFC 5322 §3.2.4 quoted-string starting at `"`, unquoted: escapes
    /// removed, folding line breaks dropped (the white space after them is
    /// kept). `Ok(None)` if no `"` is next.
    pub(super) fn quoted_string(&mut self) -> Result<Option<String>, ParseError> {
        let open = self.pos;
        if !self.eat(b'"') {
            return Ok(None);
        }
        let mut out = String::new();
        loop {
            match self.peek() {
                None => return Err(ParseError::new(open, "unterminated quoted-string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(Some(out));
                }
                Some(b'\\') => out.push_str(self.quoted_pair()?),
                Some(b'\r' | b'\n') => {
                    self.fold()?;
                }
                Some(_) => {
                    let text = self.take_while(|b| !matches!(b, b'"' | b'\\' | b'\r' | b'\n'));
                    out.push_str(text);
                }
            }
        }
    }

    /// An RFC 2045 `value` (token or quoted-string), unquoted.
    pub(super) fn value(&mut self) -> Result<Option<String>, ParseError> {
        if self.peek() == Some(b'"') {
            return self.quoted_string();
        }
        Ok(self.token().map(str::to_owned))
    }

    /// An RFC 8601 §2.2 `pvalue`: a `value`, `[local-part] "@" domain-name`,
    /// or (leniently) an unquoted value containing `/`. A quoted local-part
    /// is kept quoted so that the address stays an address.
    pub(super) fn pvalue(&mut self) -> Result<Option<String>, ParseError> {
        if self.peek() == Some(b'"') {
            let local = self.quoted_string()?.unwrap_or_default();
            if !self.eat(b'@') {
                return Ok(Some(local));
            }
            let domain = self.domain()?;
            return Ok(Some(format!("{}@{domain}", super::format::quoted(&local))));
        }
        // A dot-atom local-part may hold `=` and `?`, which no unquoted value
        // may: take them only if an `@` follows.
        let start = self.pos;
        let long = self.take_while(|b| is_pvalue_byte(b) || is_atext_byte(b));
        if self.eat(b'@') {
            let domain = self.domain()?;
            return Ok(Some(format!("{long}@{domain}")));
        }
        self.pos = start;
        let short = self.take_while(is_pvalue_byte);
        Ok(Some(short.to_owned()).filter(|s| !s.is_empty()))
    }

    /// The domain after `@` in a pvalue (token bytes, so U-labels pass).
    fn domain(&mut self) -> Result<&'a str, ParseError> {
        self.token()
            .ok_or_else(|| self.err("expected domain after '@'"))
    }
}
