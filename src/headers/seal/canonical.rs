//! The canonical forms the seal is computed over: the *unbroken* octets
//! of the message's own fields and body, and the relaxed form of our
//! stamps (see the module documentation of [`super`]).

/// The unbroken form of octets fed in pieces (see the module
/// documentation): CRLF read as LF, and a line break followed by a space or
/// tab removed with that character.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Unbreak {
    /// A CR was the last octet fed (it may start a CRLF).
    cr: bool,
    /// A line break was the last thing fed (it may be followed by white
    /// space).
    nl: bool,
}

impl Unbreak {
    pub(super) fn feed(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        for &b in chunk {
            if self.cr {
                self.cr = false;
                if b == b'\n' {
                    self.newline(out);
                    continue;
                }
                self.put(b'\r', out);
            }
            match b {
                b'\r' => self.cr = true,
                b'\n' => self.newline(out),
                b' ' | b'\t' if self.nl => self.nl = false,
                _ => self.put(b, out),
            }
        }
    }

    fn newline(&mut self, out: &mut Vec<u8>) {
        if self.nl {
            out.push(b'\n');
        }
        self.nl = true;
    }

    fn put(&mut self, b: u8, out: &mut Vec<u8>) {
        if self.nl {
            out.push(b'\n');
            self.nl = false;
        }
        out.push(b);
    }

    pub(super) fn finish(mut self, out: &mut Vec<u8>) {
        if self.cr {
            self.cr = false;
            self.put(b'\r', out);
        }
        if self.nl {
            out.push(b'\n');
        }
    }
}

/// Relaxed form: line breaks removed, white space runs one space, trimmed.
pub(super) fn relaxed(s: &str) -> String {
    let unfolded: String = s.chars().filter(|c| !matches!(c, '\r' | '\n')).collect();
    unfolded
        .split([' ', '\t'])
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(super) fn from_hex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}
