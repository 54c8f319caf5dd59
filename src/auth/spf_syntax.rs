//! A strict syntax check of SPF records and explanation strings against the
//! ABNF of RFC 7208 §12, for what `mail-auth`'s parser accepts too readily
//! (CIDR lengths out of range or with leading zeros, invalid `domain-spec`s,
//! unknown or empty modifier names, control and non-ASCII bytes, repeated
//! `redirect`/`exp`). It only answers "valid or not"; evaluation stays in
//! `mail-auth`. Standard library only.

use std::{fmt, net::Ipv6Addr};

/// Why a record or an explanation is not valid RFC 7208 syntax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// The offending term (lossily decoded), or the whole text.
    pub term: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {:?}", self.reason, self.term)
    }
}

fn err(term: &[u8], reason: &'static str) -> SyntaxError {
    SyntaxError {
        term: String::from_utf8_lossy(term).into_owned(),
        reason,
    }
}

/// Checks a whole `v=spf1` record (`record = version terms *SP`, §12): every
/// term, since §4.6 parses the record completely before evaluating it, and
/// at most one `redirect` and one `exp` (§6).
pub fn check_record(record: &[u8]) -> Result<(), SyntaxError> {
    if record.len() < 6 || !record[..6].eq_ignore_ascii_case(b"v=spf1") {
        return Err(err(record, "not a v=spf1 record"));
    }
    let rest = &record[6..];
    if !rest.is_empty() && rest[0] != b' ' {
        return Err(err(record, "version not followed by a space"));
    }
    let (mut redirects, mut exps) = (0, 0);
    for term in rest.split(|&b| b == b' ').filter(|t| !t.is_empty()) {
        match check_term(term)? {
            Term::Redirect => redirects += 1,
            Term::Exp => exps += 1,
            Term::Unknown | Term::Other => {}
        }
        if redirects > 1 || exps > 1 {
            return Err(err(term, "redirect or exp given twice (§6)"));
        }
    }
    Ok(())
}

/// Checks the TXT text an `exp=` points at (`explain-string`, §6.2, §7.1):
/// printable ASCII and spaces with valid macros (`c`, `r`, `t` allowed).
pub fn check_explanation(text: &[u8]) -> Result<(), SyntaxError> {
    text.split(|&b| b == b' ')
        .try_for_each(|part| macro_string(part).map(|_| ()))
}

enum Term {
    Redirect,
    Exp,
    Unknown,
    Other,
}

/// The record without its unknown modifiers, which §6 says to ignore; for
/// a parser that rejects valid modifier names (e.g. with `.` or `_`).
pub fn without_unknown_modifiers(record: &[u8]) -> Vec<u8> {
    let (version, terms) = record.split_at(record.len().min(6));
    let terms = terms.split(|&b| b == b' ').filter(|t| !t.is_empty());
    let kept = terms.filter(|t| !matches!(check_term(t), Ok(Term::Unknown)));
    std::iter::once(version)
        .chain(kept)
        .collect::<Vec<_>>()
        .join(&b' ')
}

/// One `directive / modifier` (§4.6.1, §5, §6, §12).
fn check_term(term: &[u8]) -> Result<Term, SyntaxError> {
    let body = match term.first() {
        Some(b'+' | b'-' | b'~' | b'?') => &term[1..],
        _ => term,
    };
    let name_end = body
        .iter()
        .position(|&b| matches!(b, b':' | b'/' | b'='))
        .unwrap_or(body.len());
    let (name, sep, arg) = (
        body[..name_end].to_ascii_lowercase(),
        body.get(name_end).copied(),
        body.get(name_end + 1..).unwrap_or_default(),
    );
    let after_name = &body[name_end..];
    let mechanism = match (name.as_slice(), sep) {
        (b"all", None) => Ok(()),
        (b"include" | b"exists", Some(b':')) => domain_spec(arg),
        (b"a" | b"mx", None) => Ok(()),
        (b"a" | b"mx", Some(b'/')) => dual_cidr(after_name),
        (b"a" | b"mx", Some(b':')) => domain_and_cidr(arg),
        (b"ptr", None) => Ok(()),
        (b"ptr", Some(b':')) => domain_spec(arg),
        (b"ip4", Some(b':')) => ip4_with_cidr(arg),
        (b"ip6", Some(b':')) => ip6_with_cidr(arg),
        _ => Err(()),
    };
    match mechanism {
        Ok(()) => return Ok(Term::Other),
        Err(()) if is_mechanism_name(&name) && sep != Some(b'=') => {
            return Err(err(term, "invalid mechanism"))
        }
        Err(()) => {}
    }
    // Not a mechanism: a modifier `name "=" ...`, without a qualifier.
    if sep != Some(b'=') || body.len() != term.len() || !is_modifier_name(&name) {
        return Err(err(term, "unknown mechanism or invalid modifier"));
    }
    let bad = |reason| move |_| err(term, reason);
    match name.as_slice() {
        b"redirect" => domain_spec(arg)
            .map(|_| Term::Redirect)
            .map_err(bad("invalid redirect domain-spec")),
        b"exp" => domain_spec(arg)
            .map(|_| Term::Exp)
            .map_err(bad("invalid exp domain-spec")),
        _ => macro_string(arg)
            .map(|_| Term::Unknown)
            .map_err(|_| err(term, "invalid macro in modifier")),
    }
}

fn is_mechanism_name(name: &[u8]) -> bool {
    matches!(
        name,
        b"all" | b"include" | b"a" | b"mx" | b"ptr" | b"ip4" | b"ip6" | b"exists"
    )
}

/// `name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." )`.
fn is_modifier_name(name: &[u8]) -> bool {
    name.first().is_some_and(u8::is_ascii_alphabetic)
        && name
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// `domain-spec [ dual-cidr-length ]` for `a:` and `mx:`. `/` is also a
/// `macro-literal`, so any split that makes both parts valid will do
/// (`a:foo:bar/baz.example.com` is a domain with no CIDR length).
fn domain_and_cidr(arg: &[u8]) -> Result<(), ()> {
    if domain_spec(arg).is_ok() {
        return Ok(());
    }
    let splits = arg.iter().enumerate().filter(|(_, &b)| b == b'/');
    for (i, _) in splits {
        if domain_spec(&arg[..i]).is_ok() && dual_cidr(&arg[i..]).is_ok() {
            return Ok(());
        }
    }
    Err(())
}

/// `dual-cidr-length = [ ip4-cidr-length ] [ "/" ip6-cidr-length ]`, non-empty.
fn dual_cidr(s: &[u8]) -> Result<(), ()> {
    if let Some(ip6) = s.strip_prefix(b"//") {
        return cidr(ip6, 128);
    }
    let s = s.strip_prefix(b"/").ok_or(())?;
    match s.windows(2).position(|w| w == b"//") {
        Some(i) => cidr(&s[..i], 32).and(cidr(&s[i + 2..], 128)),
        None => cidr(s, 32),
    }
}

/// A CIDR length without its `/`: `"0"` or digits without a leading zero,
/// at most `max` (`ip4-cidr-length`, `ip6-cidr-length`).
fn cidr(s: &[u8], max: u32) -> Result<(), ()> {
    let ok = !s.is_empty()
        && s.len() <= 3
        && s.iter().all(u8::is_ascii_digit)
        && (s == b"0" || s[0] != b'0')
        && std::str::from_utf8(s)
            .ok()
            .and_then(|n| n.parse::<u32>().ok())
            .is_some_and(|n| n <= max);
    ok.then_some(()).ok_or(())
}

fn split_cidr(arg: &[u8]) -> (&[u8], Option<&[u8]>) {
    match arg.iter().position(|&b| b == b'/') {
        Some(i) => (&arg[..i], Some(&arg[i + 1..])),
        None => (arg, None),
    }
}

/// `ip4-network [ ip4-cidr-length ]`, each `qnum` 0–255 without leading zeros.
fn ip4_with_cidr(arg: &[u8]) -> Result<(), ()> {
    let (net, len) = split_cidr(arg);
    let qnums: Vec<&[u8]> = net.split(|&b| b == b'.').collect();
    let qnum_ok = |q: &&[u8]| cidr(q, 255).is_ok();
    if qnums.len() != 4 || !qnums.iter().all(qnum_ok) {
        return Err(());
    }
    len.map_or(Ok(()), |l| cidr(l, 32))
}

/// `ip6-network [ ip6-cidr-length ]` (RFC 4291 §2.2 text forms).
fn ip6_with_cidr(arg: &[u8]) -> Result<(), ()> {
    let (net, len) = split_cidr(arg);
    std::str::from_utf8(net)
        .ok()
        .and_then(|s| s.parse::<Ipv6Addr>().ok())
        .ok_or(())?;
    len.map_or(Ok(()), |l| cidr(l, 128))
}

/// `domain-spec = macro-string domain-end`, where
/// `domain-end = ( "." toplabel [ "." ] ) / macro-expand` (§7.1).
fn domain_spec(s: &[u8]) -> Result<(), ()> {
    let literal_tail = macro_string(s).map_err(|_| ())?;
    if literal_tail == 0 {
        // Empty, or ends with a macro-expand.
        return if s.is_empty() { Err(()) } else { Ok(()) };
    }
    let tail = &s[s.len() - literal_tail..];
    let tail = tail.strip_suffix(b".").unwrap_or(tail);
    // Our choice where §4.8 leaves it open: a macro-free name that can never
    // be a DNS name (empty label, label over 63 octets) is a syntax error.
    if literal_tail == s.len()
        && tail
            .split(|&b| b == b'.')
            .any(|l| !(1..=63).contains(&l.len()))
    {
        return Err(());
    }
    let dot = tail.iter().rposition(|&b| b == b'.').ok_or(())?;
    is_toplabel(&tail[dot + 1..]).then_some(()).ok_or(())
}

/// `toplabel = ( *alphanum ALPHA *alphanum ) /
///             ( 1*alphanum "-" *( alphanum / "-" ) alphanum )`.
fn is_toplabel(l: &[u8]) -> bool {
    let alnum = |b: &u8| b.is_ascii_alphanumeric();
    match (l.first(), l.last()) {
        (Some(first), Some(last)) if alnum(first) && alnum(last) => {
            l.iter().all(|b| alnum(b) || *b == b'-')
                && (l.contains(&b'-') || l.iter().any(u8::is_ascii_alphabetic))
        }
        _ => false,
    }
}

/// `macro-string = *( macro-expand / macro-literal )`. Returns the length of
/// the run of literal bytes at the end (0 when it ends with a macro-expand).
fn macro_string(s: &[u8]) -> Result<usize, SyntaxError> {
    let mut i = 0;
    let mut literal_run = 0;
    while i < s.len() {
        match s[i] {
            b'%' => {
                i += macro_expand(&s[i..]).ok_or_else(|| err(s, "invalid macro"))?;
                literal_run = 0;
            }
            0x21..=0x7e => {
                i += 1;
                literal_run += 1;
            }
            _ => return Err(err(s, "control, space or non-ASCII character")),
        }
    }
    Ok(literal_run)
}

/// The length of the `macro-expand` at the start of `s` (which starts with
/// `%`): `"%{" macro-letter transformers *delimiter "}"`, `%%`, `%_`, `%-`.
fn macro_expand(s: &[u8]) -> Option<usize> {
    match s.get(1)? {
        b'%' | b'_' | b'-' => return Some(2),
        b'{' => {}
        _ => return None,
    }
    let close = s.iter().position(|&b| b == b'}')?;
    let inner = &s[2..close];
    let (letter, rest) = inner.split_first()?;
    if !b"slodiphcrtv".contains(&letter.to_ascii_lowercase()) {
        return None;
    }
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits > 0 && rest[..digits].iter().all(|&b| b == b'0') {
        return None; // §7.3: a digit transformer is at least 1.
    }
    let rest = &rest[digits..];
    let rest = match rest.first() {
        Some(b'r' | b'R') => &rest[1..],
        _ => rest,
    };
    rest.iter()
        .all(|b| b".-+,/_=".contains(b))
        .then_some(close + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records() {
        for (rec, ok) in [
            ("v=spf1", true),
            ("V=SPF1 -ALL", true),
            ("v=spf1 a  -all ", true),
            ("v=spf1 +a -mx ~ptr ?all", true),
            ("v=spf1 a:example.com/24//64 mx/0 a//128", true),
            ("v=spf1 a:foo:bar/baz.example.com", true),
            ("v=spf1 a:%{d}.example.com include:%{l1r-}.%{d2}", true),
            (
                "v=spf1 ip4:1.2.3.4/32 ip6:::1.1.1.1/0 ip6:2001:db8::/32",
                true,
            ),
            (
                "v=spf1 exists:%{ir}.%{v}._spf.%{d2} redirect=_spf.example.com",
                true,
            ),
            ("v=spf1 moo.cow-far_out=man:dog/cat ip4:1.2.3.4 -all", true),
            ("v=spf1 exp=explain.%{d} -all", true),
            ("v=spf1 a:example.com.", true),
            ("v=spf1 a:foo.%%", true),
            ("v=spf1 a:mail.example...com", false),
            ("v=spf1 a:%{d}..example.com", true),
            ("v=spf10", false),
            ("v=spf1-all", false),
            ("v=spf1 a/33", false),
            ("v=spf1 a//129", false),
            ("v=spf1 a/24/64", false),
            ("v=spf1 ip4:1.2.3.4/33", false),
            ("v=spf1 ip4:1.2.3.4/032", false),
            ("v=spf1 ip4:1.2.3.04", false),
            ("v=spf1 ip4:1.2.3", false),
            ("v=spf1 ip6:::1.1.1.1/129", false),
            ("v=spf1 ip6:1.2.3.4", false),
            ("v=spf1 a:foo-bar", false),
            ("v=spf1 a:museum", false),
            ("v=spf1 a:museum.", false),
            ("v=spf1 a:111.222.33.44", false),
            ("v=spf1 a:abc.123", false),
            ("v=spf1 a:example.-com", false),
            ("v=spf1 mx:example.com:8080", false),
            ("v=spf1 a:foo.example.com\0", false),
            ("v=spf1 a:ctrl.example.com\rptr -all", false),
            ("v=spf1 ip4:192.0.2.5\n include:x.example.com", false),
            ("v=spf1 \u{80}a:example.net -all", false),
            ("v=spf1 include", false),
            ("v=spf1 include:", false),
            ("v=spf1 exists", false),
            ("v=spf1 ptr:", false),
            ("v=spf1 all:foo", false),
            ("v=spf1 foo", false),
            ("v=spf1 1up=foo", false),
            ("v=spf1 =all", false),
            ("v=spf1 -foo=bar", false),
            ("v=spf1 -all foo=%abc", false),
            ("v=spf1 redirect=-all ?all", false),
            ("v=spf1 exp=-all", false),
            ("v=spf1 ?all redirect=", false),
            ("v=spf1 redirect=a.example redirect=a.example", false),
            ("v=spf1 exp=a.example exp=b.example -all", false),
            ("v=spf1 a:%{x}.example.com", false),
            ("v=spf1 a:%{d0}.example.com", false),
            ("v=spf1 a:%{d}%", false),
        ] {
            assert_eq!(check_record(rec.as_bytes()).is_ok(), ok, "{rec:?}");
        }
    }

    #[test]
    fn unknown_modifiers_dropped() {
        let rec = b"v=spf1 moo.cow-far_out=man:dog/cat ip4:1.2.3.4 exp=x.example -all";
        assert_eq!(
            without_unknown_modifiers(rec),
            b"v=spf1 ip4:1.2.3.4 exp=x.example -all"
        );
    }

    #[test]
    fn explanations() {
        for (text, ok) in [
            ("", true),
            ("See http://%{d}/why.html?s=%{S}", true),
            ("%{c} is not one of %{d}'s  designated mail servers", true),
            ("connect from %{p} at %{t} to %{r}", true),
            ("100%% wrong", true),
            ("The %{x}-files.", false),
            ("\u{feff}Explanation", false),
            ("tab\there", false),
            ("50% off", false),
        ] {
            assert_eq!(check_explanation(text.as_bytes()).is_ok(), ok, "{text:?}");
        }
    }
}
