//! The guard in front of the MIME parser, and the octet-level anomaly
//! counters.
//!
//! mail-parser 0.11 parses the whole message in one pass, with no limits of
//! its own. Its parse loop is iterative and linear, but (checked on this
//! machine) every MIME part costs an allocation, and a chain of nested
//! `message/rfc822` parts becomes a recursive value whose drop overflows a
//! 2 MiB thread stack at about 10 000 levels. So before parsing, this module
//! decides how much of the input the parser gets:
//!
//! - a top-level header block longer than `max_header_bytes` is cut at the
//!   last line break before the cap, and only headers are parsed;
//! - otherwise the input is cut just before the line that exceeds a budget
//!   of structural lines: lines starting with `--` (possible boundary
//!   delimiters, budget `8 × max_parts`) and lines starting with
//!   `Content-Type` (every nesting level needs one, budget
//!   `2 × max_parts`, never more than [`MAX_CONTENT_TYPE_LINES`]).
//!
//! Either cut marks the record truncated. The finer caps (MIME depth, part
//! count) are applied while walking the parsed tree (`parts.rs`).

use super::ExtractOptions;

/// Hard ceiling on `Content-Type` lines handed to the parser, whatever
/// `max_parts` says: it bounds the nesting depth of the parsed tree, and so
/// the stack its drop needs.
pub const MAX_CONTENT_TYPE_LINES: usize = 2048;

/// What part of the raw message to parse, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// Length of the prefix of the raw message to hand to the parser.
    pub len: usize,
    /// Parse the header only (the header block hit its cap).
    pub headers_only: bool,
    /// A cap was hit.
    pub truncated: bool,
}

/// Decides how much of `raw` the MIME parser may see under `opts`.
pub fn plan(raw: &[u8], opts: &ExtractOptions) -> Plan {
    let header_len = header_block_len(raw);
    if header_len > opts.max_header_bytes {
        let cut = raw
            .get(..opts.max_header_bytes)
            .and_then(|h| h.iter().rposition(|&b| b == b'\n'))
            .map_or(0, |p| p + 1);
        return Plan {
            len: cut,
            headers_only: true,
            truncated: true,
        };
    }
    let boundary_budget = opts.max_parts.saturating_mul(8).saturating_add(8);
    let ctype_budget = opts
        .max_parts
        .saturating_mul(2)
        .saturating_add(2)
        .min(MAX_CONTENT_TYPE_LINES);
    let (mut boundaries, mut ctypes) = (0usize, 0usize);
    for (start, line) in lines(raw) {
        if line.starts_with(b"--") {
            boundaries += 1;
        } else if line.len() >= 12 && line[..12].eq_ignore_ascii_case(b"content-type") {
            ctypes += 1;
        } else {
            continue;
        }
        if boundaries > boundary_budget || ctypes > ctype_budget {
            return Plan {
                len: start,
                headers_only: false,
                truncated: true,
            };
        }
    }
    Plan {
        len: raw.len(),
        headers_only: false,
        truncated: false,
    }
}

/// Length of the top-level header block: up to and including the empty
/// line that ends it, or the whole input if there is none.
pub fn header_block_len(raw: &[u8]) -> usize {
    for (start, line) in lines(raw) {
        if line.is_empty() || line == b"\r" {
            return start;
        }
    }
    raw.len()
}

/// Octet-level oddities of `raw`: `(bare LF line ends, NUL octets, lines of
/// the top-level header block with 8-bit octets)`, each saturating.
pub fn anomalies(raw: &[u8]) -> (u32, u32, u32) {
    let mut bare_lf = 0u32;
    let mut nul = 0u32;
    for (i, &b) in raw.iter().enumerate() {
        match b {
            b'\n' if i == 0 || raw[i - 1] != b'\r' => bare_lf = bare_lf.saturating_add(1),
            0 => nul = nul.saturating_add(1),
            _ => {}
        }
    }
    let header = &raw[..header_block_len(raw)];
    let eight_bit = lines(header)
        .filter(|(_, l)| l.iter().any(|&b| b >= 0x80))
        .count();
    (bare_lf, nul, u32::try_from(eight_bit).unwrap_or(u32::MAX))
}

/// `(offset, line without its '\n')` for every line of `raw`.
fn lines(raw: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let mut start = 0usize;
    raw.split(|&b| b == b'\n').map(move |line| {
        let at = start;
        start += line.len() + 1;
        (at, line)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(max_parts: usize, max_header_bytes: usize) -> ExtractOptions {
        ExtractOptions {
            max_parts,
            max_header_bytes,
            ..ExtractOptions::default()
        }
    }

    #[test]
    fn header_block() {
        let cases: [(&[u8], usize); 5] = [
            (b"A: b\r\n\r\nbody", 6),
            (b"A: b\nC: d\n\nbody", 10),
            (b"A: b", 4),
            (b"\r\nbody", 0),
            (b"", 0),
        ];
        for (raw, want) in cases {
            assert_eq!(header_block_len(raw), want, "{raw:?}");
        }
    }

    #[test]
    fn plans() {
        let big_header = format!("X: {}\r\nY: z\r\n\r\nbody", "a".repeat(100));
        let p = plan(big_header.as_bytes(), &opts(500, 50));
        assert_eq!(
            p,
            Plan {
                len: 0,
                headers_only: true,
                truncated: true
            }
        );
        let p = plan(big_header.as_bytes(), &opts(500, 110));
        assert_eq!(
            p,
            Plan {
                len: 105,
                headers_only: true,
                truncated: true
            }
        );
        let p = plan(big_header.as_bytes(), &opts(500, 1 << 20));
        assert!(!p.truncated);
        let many = "Content-Type: message/rfc822\r\n\r\n".repeat(10);
        let p = plan(many.as_bytes(), &opts(2, 1 << 20));
        assert_eq!((p.len, p.truncated), (6 * 32, true));
        let dashes = "--\r\n".repeat(30);
        let p = plan(dashes.as_bytes(), &opts(2, 1 << 20));
        assert_eq!((p.len, p.truncated), (24 * 4, true));
    }

    #[test]
    fn counters() {
        let raw = b"A: \xe9\r\nB: x\nC: \xff\xff\r\n\r\nbody\x00\n\x00\xe9\n";
        assert_eq!(anomalies(raw), (3, 2, 2));
        assert_eq!(anomalies(b"\n"), (1, 0, 0));
        assert_eq!(anomalies(b""), (0, 0, 0));
    }
}
