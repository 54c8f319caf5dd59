//! `Received:` header fields (RFC 5321 §4.4, RFC 5322 §3.6.7) read into
//! [`Hop`]s: who claimed to send, from which IP, to which host.
//!
//! Real stamps only loosely follow the RFC 5321 `Time-stamp-line` grammar,
//! so this is a tolerant scanner, not a parser: the value (up to the `;`
//! that starts the date) is split into words and parenthesised comments,
//! the `from` and `by` clauses are found by keyword, and the TCP-info
//! comment after `from` is searched for the connecting IP. Shapes covered
//! (see the table in the tests):
//!
//! - Postfix and Sendmail: `from HELO (rDNS [IP])`, `from HELO (unknown [IP])`,
//!   `from HELO (user@rDNS [IP] (may be forged))`;
//! - Exim: `from rDNS ([IP] helo=HELO)`, `from [IP] (helo=HELO)`,
//!   `from HELO ([IP]:port)`;
//! - Exchange and Microsoft 365: `from HOST (IP) by HOST (IP) with Microsoft
//!   SMTP Server (...)`, the IP bare in the comment;
//! - Gmail: `from HOST (rDNS. [IP])`, and `by IPv6-ish-id with SMTP` with no
//!   `from` clause;
//! - qmail: `from rDNS (HELO name) (IP)`;
//! - address literals `[IPv6:2001:db8::1]`, with or without a `:port`.
//!
//! `from_host` is the name the client *claimed*: the word after `from`,
//! unless the comment carries an explicit `helo=NAME` (Exim) or `HELO NAME`
//! (qmail), in which case that name. `from_ip` is taken, in order of
//! preference, from a bracketed address in a `from` comment, a bare address
//! in a `from` comment, or an address literal used as the `from` word. IPs
//! are normalised: `IPv6:` prefix, zone and port stripped, IPv6 compressed
//! and lowercased, IPv4-mapped IPv6 turned into IPv4.

use std::net::IpAddr;

/// One `Received:` hop as written: who claimed to send, from which address,
/// to which host (the record keeps the same three as `model::Hop`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hop {
    /// `from` host name as claimed.
    pub from_host: Option<String>,
    /// `from` IP address (from the TCP-info comment).
    pub from_ip: Option<String>,
    /// `by` host name.
    pub by_host: Option<String>,
}

/// Reads one `Received:` value (unfolded or not) into a [`Hop`]. Never
/// fails: fields that cannot be found stay `None`.
pub fn parse(value: &str) -> Hop {
    let tokens = tokenize(value);
    let mut hop = Hop::default();
    let mut clause = "";
    let mut from_comments: Vec<&str> = Vec::new();
    let mut from_word: Option<&str> = None;
    let mut expect_word = false;
    for tok in &tokens {
        match *tok {
            Tok::Word(w) if is_keyword(w) => {
                clause = keyword(w);
                expect_word = true;
            }
            Tok::Word(w) => {
                if expect_word {
                    match clause {
                        "from" if from_word.is_none() => from_word = Some(w),
                        "by" if hop.by_host.is_none() => hop.by_host = Some(w.to_string()),
                        _ => {}
                    }
                }
                expect_word = false;
            }
            Tok::Comment(c) => {
                if clause == "from" {
                    from_comments.push(c);
                }
                expect_word = false;
            }
        }
    }
    let helo = from_comments.iter().find_map(|c| claimed_helo(c));
    hop.from_host = helo.or(from_word).map(str::to_string);
    hop.from_ip = from_comments
        .iter()
        .find_map(|c| bracketed_ip(c))
        .or_else(|| from_comments.iter().find_map(|c| bare_ip(c)))
        .or_else(|| from_word.and_then(bracketed_ip));
    hop
}

/// A word or a comment (without its outer parentheses) of a `Received:`
/// value.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Tok<'a> {
    Word(&'a str),
    Comment(&'a str),
}

/// Splits `value` into words and comments, stopping at the first `;`
/// outside a comment (the date follows it). Unbalanced comments run to the
/// end.
fn tokenize(value: &str) -> Vec<Tok<'_>> {
    let bytes = value.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b';' => break,
            b'(' => {
                let start = i + 1;
                let mut depth = 1usize;
                i += 1;
                while i < bytes.len() && depth > 0 {
                    match bytes[i] {
                        b'\\' => i += 1,
                        b'(' => depth += 1,
                        b')' => depth -= 1,
                        _ => {}
                    }
                    i += 1;
                }
                let end = if depth == 0 { i - 1 } else { bytes.len() };
                out.push(Tok::Comment(value.get(start..end.max(start)).unwrap_or("")));
            }
            _ => {
                let start = i;
                let mut in_literal = false;
                while i < bytes.len() {
                    match bytes[i] {
                        b'[' => in_literal = true,
                        b']' => in_literal = false,
                        b' ' | b'\t' | b'\r' | b'\n' | b'(' | b';' if !in_literal => break,
                        _ => {}
                    }
                    i += 1;
                }
                out.push(Tok::Word(value.get(start..i).unwrap_or("")));
            }
        }
    }
    out
}

const KEYWORDS: [&str; 6] = ["from", "by", "via", "with", "id", "for"];

fn is_keyword(w: &str) -> bool {
    KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(w))
}

fn keyword(w: &str) -> &'static str {
    KEYWORDS
        .iter()
        .find(|k| k.eq_ignore_ascii_case(w))
        .copied()
        .unwrap_or("")
}

/// `helo=NAME` (Exim) or `HELO NAME` (qmail) inside a `from` comment.
fn claimed_helo(comment: &str) -> Option<&str> {
    let mut words = comment
        .split([' ', '\t', '\r', '\n'])
        .filter(|w| !w.is_empty());
    while let Some(w) = words.next() {
        let name = match w.get(..5) {
            Some(p) if p.eq_ignore_ascii_case("helo=") => w.get(5..),
            _ if w.eq_ignore_ascii_case("helo") => words.next(),
            _ => None,
        };
        if let Some(n) = name.filter(|n| !n.is_empty()) {
            return Some(n.trim_end_matches([')', ',']));
        }
    }
    None
}

/// The first `[...]` address literal in `s` that holds an IP address.
fn bracketed_ip(s: &str) -> Option<String> {
    let mut rest = s;
    while let Some(open) = rest.find('[') {
        let after = rest.get(open + 1..)?;
        let close = after.find(']')?;
        if let Some(ip) = normalise_ip(after.get(..close)?) {
            return Some(ip);
        }
        rest = after.get(close + 1..)?;
    }
    None
}

/// The first whitespace- or comma-separated word of `s` that is an IP
/// address (Exchange's `(10.0.0.1)`, qmail's `(192.0.2.1)`).
fn bare_ip(s: &str) -> Option<String> {
    s.split([' ', '\t', '\r', '\n', ','])
        .map(|w| w.trim_matches(|c| matches!(c, '(' | ')' | '[' | ']' | '.' | ';')))
        .find_map(normalise_ip)
}

/// Canonical text of an IP address written as `1.2.3.4`, `1.2.3.4:25`,
/// `IPv6:2001:DB8::1`, `2001:db8::1%eth0` or `::ffff:192.0.2.1`.
pub fn normalise_ip(s: &str) -> Option<String> {
    let s = s.trim();
    let s = match s.get(..5) {
        Some(p) if p.eq_ignore_ascii_case("ipv6:") => s.get(5..)?,
        _ => s,
    };
    let s = s.split('%').next().unwrap_or(s);
    let ip: IpAddr = match s.parse() {
        Ok(ip) => ip,
        // IPv4 with a port; an IPv6 address with a port is always bracketed.
        Err(_) => match s.rsplit_once(':') {
            Some((host, port)) if !host.contains(':') && port.parse::<u16>().is_ok() => {
                host.parse().ok()?
            }
            _ => return None,
        },
    };
    Some(ip.to_canonical().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hop(from_host: Option<&str>, from_ip: Option<&str>, by_host: Option<&str>) -> Hop {
        Hop {
            from_host: from_host.map(str::to_string),
            from_ip: from_ip.map(str::to_string),
            by_host: by_host.map(str::to_string),
        }
    }

    #[test]
    fn shapes() {
        let cases = [
            // Postfix
            (
                "from mail.example.org (mail.example.org [192.0.2.1])\r\n\tby mx.example.com (Postfix) with ESMTPS id 4Xy; Mon, 1 Jan 2024 00:00:00 +0000",
                hop(Some("mail.example.org"), Some("192.0.2.1"), Some("mx.example.com")),
            ),
            (
                "from helo.example (unknown [198.51.100.7]) by mx.example.com (Postfix) with ESMTP id 1",
                hop(Some("helo.example"), Some("198.51.100.7"), Some("mx.example.com")),
            ),
            (
                "from mail.example.org (mail.example.org [IPv6:2001:DB8:0:0::1]) by mx.example.com (Postfix)",
                hop(Some("mail.example.org"), Some("2001:db8::1"), Some("mx.example.com")),
            ),
            (
                "by mx.example.com (Postfix, from userid 1000) id 4Xy; Mon, 1 Jan 2024",
                hop(None, None, Some("mx.example.com")),
            ),
            // Sendmail
            (
                "from helo.example (user@host.example [203.0.113.9] (may be forged)) by mx.example.com (8.15.2/8.15.2) with ESMTP id x",
                hop(Some("helo.example"), Some("203.0.113.9"), Some("mx.example.com")),
            ),
            (
                "from localhost (localhost [127.0.0.1]) by mx.example.com (8.17.1/8.17.1/Submit) id x",
                hop(Some("localhost"), Some("127.0.0.1"), Some("mx.example.com")),
            ),
            // Exim
            (
                "from host.example ([192.0.2.8] helo=claimed.example) by mx.example.com with esmtp (Exim 4.96)",
                hop(Some("claimed.example"), Some("192.0.2.8"), Some("mx.example.com")),
            ),
            (
                "from [192.0.2.9] (helo=laptop) by mx.example.com with esmtpsa (Exim 4.96)",
                hop(Some("laptop"), Some("192.0.2.9"), Some("mx.example.com")),
            ),
            (
                "from mail.example.org ([192.0.2.10]:54321) by mx.example.com with esmtp",
                hop(Some("mail.example.org"), Some("192.0.2.10"), Some("mx.example.com")),
            ),
            // Exchange / Microsoft 365
            (
                "from EXCH01.corp.example.com (10.0.0.1) by EXCH02.corp.example.com (10.0.0.2) with Microsoft SMTP Server (version=TLS1_2, cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id 15.1.2507.6; Mon, 1 Jan 2024",
                hop(Some("EXCH01.corp.example.com"), Some("10.0.0.1"), Some("EXCH02.corp.example.com")),
            ),
            (
                "from NAM12-BN8-obe.outbound.protection.outlook.com (2603:10b6:A03:1::1A) by BN8NAM12FT045.mail.protection.outlook.com (10.13.182.1) with Microsoft SMTP Server",
                hop(Some("NAM12-BN8-obe.outbound.protection.outlook.com"), Some("2603:10b6:a03:1::1a"), Some("BN8NAM12FT045.mail.protection.outlook.com")),
            ),
            // Gmail
            (
                "from mail-sor-f41.google.com (mail-sor-f41.google.com. [209.85.220.41]) by mx.google.com with SMTPS id a1sor; Mon, 1 Jan 2024",
                hop(Some("mail-sor-f41.google.com"), Some("209.85.220.41"), Some("mx.google.com")),
            ),
            (
                "by 2002:a05:6a10:a88e:b0:4a0:d2b5:f1f0 with SMTP id l14csp1; Mon, 1 Jan 2024",
                hop(None, None, Some("2002:a05:6a10:a88e:b0:4a0:d2b5:f1f0")),
            ),
            // qmail
            (
                "from unknown (HELO mail.example.org) (192.0.2.77) by mx.example.com with SMTP",
                hop(Some("mail.example.org"), Some("192.0.2.77"), Some("mx.example.com")),
            ),
            ("(qmail 1234 invoked by uid 89); Mon, 1 Jan 2024", hop(None, None, None)),
            // Literals and oddities
            (
                "from [IPv6:2001:db8::25] (unknown [IPv6:2001:db8::25]) by mx.example.com",
                hop(Some("[IPv6:2001:db8::25]"), Some("2001:db8::25"), Some("mx.example.com")),
            ),
            (
                "from [192.0.2.200] by mx.example.com",
                hop(Some("[192.0.2.200]"), Some("192.0.2.200"), Some("mx.example.com")),
            ),
            (
                "from x (x [::ffff:192.0.2.3]) by y",
                hop(Some("x"), Some("192.0.2.3"), Some("y")),
            ),
            ("FROM a (b [192.0.2.4]) BY c", hop(Some("a"), Some("192.0.2.4"), Some("c"))),
            ("from a (b [not-an-ip]) by c", hop(Some("a"), None, Some("c"))),
            ("from a (unclosed [192.0.2.5]", hop(Some("a"), Some("192.0.2.5"), None)),
            ("", hop(None, None, None)),
            ("from", hop(None, None, None)),
            ("; from a (b [192.0.2.6])", hop(None, None, None)),
        ];
        for (value, want) in cases {
            assert_eq!(parse(value), want, "{value}");
        }
    }

    #[test]
    fn ip_normalisation() {
        let cases = [
            ("192.0.2.1", Some("192.0.2.1")),
            ("192.0.2.1:25", Some("192.0.2.1")),
            ("IPv6:2001:DB8::1", Some("2001:db8::1")),
            ("ipv6:2001:db8:0:0:0:0:0:1", Some("2001:db8::1")),
            ("fe80::1%eth0", Some("fe80::1")),
            ("::ffff:198.51.100.1", Some("198.51.100.1")),
            ("2001:db8::1:25", Some("2001:db8::1:25")),
            ("example.com", None),
            ("300.1.1.1", None),
            ("", None),
        ];
        for (s, want) in cases {
            assert_eq!(normalise_ip(s).as_deref(), want, "{s}");
        }
    }
}
