//! The MIME structure of a message, read the way mail clients read it
//! (RFC 2045, RFC 2046), into a flat list of [`Entity`]s in tree order.
//!
//! The reading follows the one of Python's `email` package (its
//! `feedparser`), the oracle of the differential test
//! (`tests/extraction-diff/`, docs/extraction.md):
//!
//! - A part's header ends at its empty line, or at the first line that is
//!   neither a header field nor a continuation (the rest is its body); an
//!   mbox `From ` line is skipped.
//! - A delimiter line is `--boundary`, optionally `--`, optional blanks,
//!   the line end: exactly, never a prefix (RFC 2046 §5.1.1).
//! - The delimiter of every enclosing multipart ends a part at any depth
//!   (RFC 2046 §5.1.2), so an inner multipart that is never closed, or a
//!   nested multipart that reuses its parent's boundary, cannot swallow the
//!   parts after it.
//! - The line break before a delimiter belongs to the delimiter (RFC 2046
//!   §5.1.1): it is not part of the body before it.
//! - A `message/rfc822` (or `message/global`) part is read as the message
//!   it holds, one forwarded-message depth further down.
//!
//! Nothing recurses deeper than `max_mime_depth`, and at most `max_parts`
//! entities are read; either cap sets `truncated`.

use std::ops::Range;

use super::ctype::{describe, Fields};

/// What kind of entity a part is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A body of its own (text, a file, or a multipart that has no parts).
    Leaf,
    /// A multipart whose parts follow it in the list.
    Multipart,
    /// A forwarded message whose entities follow it in the list.
    Message,
}

/// One MIME entity.
#[derive(Debug, Clone)]
pub struct Entity {
    /// `type/subtype`, lowercased; the default when absent or invalid.
    pub ctype: String,
    /// `charset=` of the Content-Type, lowercased.
    pub charset: Option<String>,
    /// Content-Transfer-Encoding, lowercased and trimmed (empty if none).
    pub cte: String,
    /// Content-Disposition is `attachment`.
    pub disposition_attachment: bool,
    /// `filename=` of Content-Disposition, else `name=` of Content-Type
    /// (RFC 2231 continuations and RFC 2047 encoded words decoded).
    pub name: Option<String>,
    /// The body's octets in the input (for a message: the whole forwarded
    /// message), without the line break that belongs to a delimiter.
    pub body: Range<usize>,
    /// What the entity is.
    pub kind: Kind,
    /// Forwarded-message depth: 0 for the message itself, 1 inside an
    /// attached message, and so on.
    pub depth: u32,
}

/// What was odd about the structure.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Oddities {
    /// A multipart's closing delimiter is missing (it ends at an enclosing
    /// delimiter or at the end of the message).
    pub unclosed_multipart: bool,
    /// A multipart without a boundary, or whose boundary never occurs.
    pub degenerate_multipart: bool,
    /// A part header ended by a line that is not a header field instead of
    /// an empty line.
    pub missing_header_end: bool,
    /// The depth or part cap cut the reading short.
    pub truncated: bool,
}

/// The structure of one message.
#[derive(Debug, Default)]
pub struct Tree {
    /// Every entity in tree order; the first is the message itself.
    pub entities: Vec<Entity>,
    /// What was odd.
    pub odd: Oddities,
}

/// Reads the MIME structure of `input`; `depth` is the forwarded-message
/// depth of the message itself.
pub fn parse(input: &[u8], max_depth: usize, max_parts: usize) -> Tree {
    let mut p = Parser {
        input,
        pos: 0,
        eof: Vec::new(),
        tree: Tree::default(),
        max_depth,
        max_parts,
    };
    p.entity("text/plain", 0, 0);
    p.tree
}

struct Parser<'a> {
    input: &'a [u8],
    pos: usize,
    /// Boundaries of the enclosing multiparts: a delimiter line of any of
    /// them is a (false) end of input for the parts inside.
    eof: Vec<Vec<u8>>,
    tree: Tree,
    max_depth: usize,
    max_parts: usize,
}

impl<'a> Parser<'a> {
    /// The next line (with its line end), unless at the end of input or at
    /// a delimiter line of an enclosing multipart.
    fn peek_line(&self) -> Option<Range<usize>> {
        if self.pos >= self.input.len() {
            return None;
        }
        let rest = &self.input[self.pos..];
        let len = memchr::memchr(b'\n', rest).map_or(rest.len(), |i| i + 1);
        let line = &rest[..len];
        if line.starts_with(b"--") && self.eof.iter().any(|b| delimiter(line, b).is_some()) {
            return None;
        }
        Some(self.pos..self.pos + len)
    }

    /// Reads one entity at the current position.
    fn entity(&mut self, default_type: &str, mime_depth: usize, depth: u32) {
        if self.tree.entities.len() >= self.max_parts {
            self.tree.odd.truncated = true;
            self.skip_rest();
            return;
        }
        let fields = self.header();
        let (mut e, boundary) = describe(&fields, default_type, depth);
        e.body = self.pos..self.pos;
        let index = self.tree.entities.len();
        let nested = mime_depth + 1 < self.max_depth;
        if e.ctype.starts_with("multipart/") && nested {
            if let Some(b) = boundary
                .map(|b| b.trim_end().to_string())
                .filter(|b| !b.is_empty())
            {
                e.kind = Kind::Multipart;
                self.tree.entities.push(e);
                let child_default = if self.tree.entities[index].ctype == "multipart/digest" {
                    "message/rfc822"
                } else {
                    "text/plain"
                };
                let b = b.into_bytes();
                let started = self.multipart(&b, child_default, mime_depth, depth);
                let e = &mut self.tree.entities[index];
                e.body.end = self.pos;
                if !started {
                    // No part at all: a body of its own, as clients read it.
                    e.kind = Kind::Leaf;
                }
                return;
            }
            self.tree.odd.degenerate_multipart = true;
        } else if is_message(&e.ctype)
            && nested
            && matches!(e.cte.as_str(), "" | "7bit" | "8bit" | "binary")
        {
            e.kind = Kind::Message;
            self.tree.entities.push(e);
            self.entity("text/plain", mime_depth + 1, depth + 1);
            self.tree.entities[index].body.end = self.pos;
            return;
        } else if (e.ctype.starts_with("multipart/") || is_message(&e.ctype)) && !nested {
            self.tree.odd.truncated = true;
        }
        self.skip_rest();
        e.body.end = self.pos;
        self.tree.entities.push(e);
    }

    /// Consumes lines up to the (false) end of input. Only a line starting
    /// with `--` can be a false end, so the others are passed over whole.
    fn skip_rest(&mut self) {
        if self.eof.is_empty() {
            self.pos = self.input.len();
            return;
        }
        while self.pos < self.input.len() {
            let rest = &self.input[self.pos..];
            if rest.starts_with(b"--") && self.peek_line().is_none() {
                return;
            }
            self.pos = memchr::memchr(b'\n', rest).map_or(self.input.len(), |i| self.pos + i + 1);
        }
    }

    /// Reads a header block (RFC 5322 §2.2 fields, with folding) and keeps
    /// the first of each structural field, unfolded.
    fn header(&mut self) -> Fields {
        let mut f = Fields::default();
        let mut last: Option<usize> = None;
        let mut values: Vec<(usize, Vec<u8>)> = Vec::new();
        while let Some(range) = self.peek_line() {
            let line = &self.input[range.clone()];
            if line == b"\n" || line == b"\r\n" {
                self.pos = range.end;
                break;
            }
            if matches!(line[0], b' ' | b'\t') {
                self.pos = range.end;
                if let (Some(i), Some(v)) = (last, values.last_mut()) {
                    if v.0 == i {
                        v.1.extend_from_slice(trim_eol(line));
                    }
                }
                continue;
            }
            if line.starts_with(b"From ") {
                // An mbox envelope line ("From sender date"), not a field.
                self.pos = range.end;
                last = None;
                continue;
            }
            let Some(colon) = field_name_end(line) else {
                self.tree.odd.missing_header_end = true;
                break;
            };
            self.pos = range.end;
            let slot = match &line[..colon] {
                n if n.eq_ignore_ascii_case(b"content-type") => 0,
                n if n.eq_ignore_ascii_case(b"content-transfer-encoding") => 1,
                n if n.eq_ignore_ascii_case(b"content-disposition") => 2,
                _ => {
                    last = None;
                    continue;
                }
            };
            if values.iter().any(|(s, _)| *s == slot) {
                last = None;
                continue;
            }
            last = Some(slot);
            values.push((slot, trim_eol(&line[colon + 1..]).to_vec()));
        }
        for (slot, v) in values {
            match slot {
                0 => f.content_type = Some(v),
                1 => f.cte = Some(v),
                _ => f.disposition = Some(v),
            }
        }
        f
    }

    /// The parts of a multipart with boundary `b`, after its header;
    /// whether its first delimiter was found.
    fn multipart(&mut self, b: &[u8], child_default: &str, mime_depth: usize, depth: u32) -> bool {
        let mut started = false;
        let mut closed = false;
        while let Some(range) = self.peek_line() {
            let line = &self.input[range.clone()];
            match delimiter(line, b) {
                Some(true) => {
                    self.pos = range.end;
                    closed = true;
                    break;
                }
                Some(false) => {
                    self.pos = range.end;
                    started = true;
                    // Repeated delimiter lines delimit no part.
                    while let Some(next) = self.peek_line() {
                        if delimiter(&self.input[next.clone()], b).is_none() {
                            break;
                        }
                        self.pos = next.end;
                    }
                    let first = self.tree.entities.len();
                    self.eof.push(b.to_vec());
                    self.entity(child_default, mime_depth + 1, depth);
                    self.eof.pop();
                    self.drop_delimiter_eol(first);
                    if self.tree.odd.truncated && self.tree.entities.len() >= self.max_parts {
                        break;
                    }
                }
                None => self.pos = range.end,
            }
        }
        if !started {
            self.tree.odd.degenerate_multipart = true;
        } else if !closed {
            self.tree.odd.unclosed_multipart = true;
        }
        // The epilogue.
        self.skip_rest();
        started
    }

    /// The line break before the delimiter at `self.pos` belongs to it:
    /// bodies read since entity `first` end before it.
    fn drop_delimiter_eol(&mut self, first: usize) {
        let before = &self.input[..self.pos];
        let eol = if before.ends_with(b"\r\n") {
            2
        } else {
            usize::from(before.ends_with(b"\n"))
        };
        let end = self.pos - eol;
        for e in &mut self.tree.entities[first..] {
            if e.body.end > end {
                e.body.end = end.max(e.body.start);
            }
        }
    }
}

/// Whether `line` is a delimiter line of boundary `b`: `Some(true)` for the
/// close delimiter, `Some(false)` for a part delimiter.
fn delimiter(line: &[u8], b: &[u8]) -> Option<bool> {
    let rest = line.strip_prefix(b"--")?.strip_prefix(b)?;
    let (close, rest) = match rest.strip_prefix(b"--") {
        Some(r) => (true, r),
        None => (false, rest),
    };
    let rest = trim_eol(rest);
    rest.iter()
        .all(|&c| c == b' ' || c == b'\t')
        .then_some(close)
}

/// The index of the `:` that ends a field name (printable US-ASCII but
/// `:`, RFC 5322 §2.2), or `None` when the line is not a header field.
fn field_name_end(line: &[u8]) -> Option<usize> {
    for (i, &c) in line.iter().enumerate() {
        match c {
            b':' if i > 0 => return Some(i),
            0x21..=0x7e if c != b':' => {}
            _ => return None,
        }
    }
    None
}

fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

pub(super) fn is_message(ctype: &str) -> bool {
    matches!(ctype, "message/rfc822" | "message/global")
}

#[cfg(test)]
#[path = "mime_tests.rs"]
mod tests;
