//! The milter↔sensor contract in one place: the header names both halves
//! agree on, which incoming header the milter deletes, and which header the
//! sensor may believe.
//!
//! The rule that keeps an outsider from planting a result: **whatever the
//! sensor would trust, the milter has deleted** — also after the hops
//! between them. Those hops can break a line longer than 998 octets
//! (Postfix's `smtp_line_length_limit` inserts CRLF + space) and unfold
//! folded lines. So:
//!
//! - the sensor trusts a header only under the strict grammar
//!   ([`trusted_id`]: after the authserv-id only CFWS, an optional numeric
//!   version, then `;` or `none`, RFC 8601 §2.2), the topmost one only, and
//!   never falls back to a lower header when that one is broken;
//! - the milter deletes every `X-Agari-Authentication-Results` and seal,
//!   and every `Authentication-Results` that a reader could take as ours
//!   ([`milter_deletes`]): our id read leniently, no readable id at all, or
//!   any line over [`MAX_LINE`] octets that contains our id (a transport
//!   could split `mx.example.testx` into `mx.example.test` + fold + `x`);
//! - the milter's own headers never have a line over [`MAX_LINE`] octets
//!   (`AuthResults::to_header_value` folds, the stamp caps property values).

use crate::headers::authres;

pub use crate::headers::authres::MAX_LINE;

/// The perimeter's duplicate stamp, in the vendor guide's spelling.
pub const X_AGARI: &str = "X-Agari-Authentication-Results";
/// The standard stamp (RFC 8601 §2).
pub const AUTH_RESULTS: &str = "Authentication-Results";
/// authsense's integrity seal over its own stamps (see `super::seal`).
pub const SEAL: &str = "X-Authsense-Seal";

/// Longest property value the milter writes (RFC 5321 §4.5.3.1.3: a path
/// is at most 256 octets; a domain at most 255). Longer values are left out
/// with a comment, so that no element of a stamp comes near [`MAX_LINE`].
pub const MAX_PVALUE: usize = 256;

/// Which of the contract's headers a field name is (ASCII case-insensitive,
/// surrounding white space ignored).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `X-Agari-Authentication-Results`.
    XAgari,
    /// `Authentication-Results`.
    AuthResults,
    /// `X-Authsense-Seal`.
    Seal,
}

/// The kind of header `name` is, if it is one of the contract's.
pub fn kind(name: &str) -> Option<Kind> {
    // As Postfix counts header names for a milter's delete by index: the
    // label, then space, tab or the colon (cleanup_milter.c). Nothing may
    // come before the label (a leading CR is another name).
    let name = name.trim_end_matches([' ', '\t']);
    [
        (X_AGARI, Kind::XAgari),
        (AUTH_RESULTS, Kind::AuthResults),
        (SEAL, Kind::Seal),
    ]
    .into_iter()
    .find(|(n, _)| name.eq_ignore_ascii_case(n))
    .map(|(_, k)| k)
}

/// The authserv-id a reader could take `value` to claim, read leniently (a
/// token or quoted-string after CFWS); `None` when there is none to read.
pub fn claimed_id(value: &str) -> Option<String> {
    authres::authserv_id(value).ok()
}

/// The authserv-id under which `value` may be trusted: only by the strict
/// grammar (see the module documentation).
pub fn trusted_id(value: &str) -> Option<String> {
    authres::strict_authserv_id(value).ok()
}

/// The longest line, in octets, of the header field `name: value` as an MTA
/// writes it (`value` is what follows the colon; a line ends at LF).
pub fn longest_line(name: &str, value: &str) -> usize {
    let mut lines = value.split('\n').map(|l| l.trim_end_matches('\r').len());
    let first = lines.next().unwrap_or(0) + name.len() + 1;
    lines.fold(first, usize::max)
}

/// Whether the milter deletes the incoming header `name: value` before it
/// stamps, given its own authserv-id `ours` (RFC 8601 §5, and the transport
/// rule of the module documentation). Every X-Agari header and every seal
/// goes, whatever its id.
pub fn milter_deletes(name: &str, value: &str, ours: &str) -> bool {
    match kind(name) {
        Some(Kind::XAgari | Kind::Seal) => true,
        Some(Kind::AuthResults) => {
            let claims = |id: &str| id.eq_ignore_ascii_case(ours);
            let lenient = claimed_id(value);
            lenient.as_deref().is_none_or(claims)
                || trusted_id(value).as_deref().is_some_and(claims)
                || (longest_line(name, value) > MAX_LINE && contains_ci(value, ours))
        }
        None => false,
    }
}

fn contains_ci(haystack: &str, needle: &str) -> bool {
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    !n.is_empty() && h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    const OURS: &str = "mx.example.test";

    #[test]
    fn strict_grammar_refuses_what_a_transport_assembles() {
        assert_eq!(
            trusted_id("mx.example.test; spf=pass").as_deref(),
            Some(OURS)
        );
        assert_eq!(
            trusted_id(" (c) \"mx.example.test\" 1 (v);spf=pass").as_deref(),
            Some(OURS)
        );
        assert_eq!(trusted_id("mx.example.test none").as_deref(), Some(OURS));
        assert_eq!(
            trusted_id("mx.example.test\r\n ; none").as_deref(),
            Some(OURS)
        );
        for bad in [
            "mx.example.test\r\n x; spf=pass",
            "mx.example.test x; spf=pass",
            "mx.example.test from=a.example; spf=pass",
            "mx.example.test 1 2; spf=pass",
            "mx.example.test",
            "mx.example.test nonesuch",
            "mx.example.test none; spf=pass",
        ] {
            assert_eq!(trusted_id(bad), None, "{bad:?}");
        }
        // The lenient reading still names the id, so the milter deletes it.
        assert_eq!(
            claimed_id("mx.example.test\r\n x; spf=pass").as_deref(),
            Some(OURS)
        );
    }

    #[test]
    fn milter_deletes_whatever_could_become_ours() {
        let ar = AUTH_RESULTS;
        assert!(milter_deletes(
            "x-agari-authentication-results",
            "a.example; spf=pass",
            OURS
        ));
        assert!(milter_deletes("X-Authsense-Seal", "v=1", OURS));
        assert!(milter_deletes(ar, "MX.Example.Test; spf=pass", OURS));
        assert!(milter_deletes(ar, "mx.example.test x; spf=pass", OURS));
        assert!(milter_deletes(ar, "(unterminated; spf=pass", OURS));
        assert!(!milter_deletes(ar, "mx.example.testx; spf=pass", OURS));
        assert!(!milter_deletes(
            ar,
            "other.example; spf=pass (mx.example.test)",
            OURS
        ));
        // Padded so that `mx.example.testx` straddles column 998.
        let pad = "a".repeat(MAX_LINE - ar.len() - 6 - OURS.len());
        let long = format!(" (x{pad}) mx.example.testx; spf=pass");
        assert_eq!(
            long.find("mx.example.testx")
                .map(|i| i + ar.len() + 1 + OURS.len()),
            Some(MAX_LINE)
        );
        assert!(longest_line(ar, &long) > MAX_LINE);
        assert!(milter_deletes(ar, &long, OURS));
        // The same header, folded by its sender so no line is too long, stays.
        let folded = format!(" (x{pad})\n\tmx.example.testx; spf=pass");
        assert!(longest_line(ar, &folded) <= MAX_LINE);
        assert!(!milter_deletes(ar, &folded, OURS));
        assert!(!milter_deletes("Received", "mx.example.test", OURS));
    }

    #[test]
    fn line_length_counts_the_name_on_the_first_line() {
        assert_eq!(longest_line("Subject", " hi"), 11);
        assert_eq!(longest_line("A", " x\r\n\tlonger line"), 12);
        assert_eq!(kind("authentication-results \t"), Some(Kind::AuthResults));
        assert_eq!(kind(" authentication-results"), None);
        assert_eq!(kind("\rAuthentication-Results"), None);
        assert_eq!(kind("Received"), None);
    }
}
