//! Organizational domains (RFC 7489 §3.2) from the Public Suffix List.
//!
//! The list is the one compiled into the `psl` crate (ICANN and private
//! sections, wildcard and exception rules, both U-label and A-label forms of
//! IDN rules); updating it means bumping that crate. No file is read at run
//! time and no network is used.
//!
//! Names are compared in the form they arrive in: A-labels in give A-labels
//! out (`www.xn--85x722f.xn--fiqs8s` → `xn--85x722f.xn--fiqs8s`), U-labels in
//! give U-labels out (`www.食狮.中国` → `食狮.中国`). No IDNA conversion is
//! done, so a name mixing the two forms is compared label by label as given;
//! callers that compare two names (DMARC alignment) should pass both in the
//! same form, which for mail headers and SMTP is normally A-labels.

/// The longest DNS name in text form, without the trailing dot (RFC 1035
/// §2.3.4: 255 octets on the wire).
const MAX_NAME: usize = 253;
/// The longest DNS label (RFC 1035 §2.3.4).
const MAX_LABEL: usize = 63;

/// The organizational domain of `domain` (RFC 7489 §3.2): its public suffix
/// plus one label.
///
/// The input is lowercased and one trailing dot is ignored. Returns `None` for
/// a bare public suffix (`com`, `co.uk`, an unlisted single-label TLD), for an
/// empty name, an empty label (leading dot, `a..b`), an over-long name or
/// label, or characters no host name has (space, `@`, controls, …).
/// Non-ASCII labels are taken as IDNA U-labels.
pub fn organizational_domain(domain: &str) -> Option<String> {
    let name = normalize(domain)?;
    let org = ::psl::domain(name.as_bytes())?;
    let org = std::str::from_utf8(org.as_bytes()).ok()?;
    Some(org.to_string())
}

/// Lowercases `domain`, drops one trailing dot and checks it is a plausible
/// host name (RFC 1035 §2.3.1 letters, digits and hyphens, plus `_` and
/// non-ASCII U-label characters). `None` when it is not.
pub fn normalize(domain: &str) -> Option<String> {
    let name = domain.strip_suffix('.').unwrap_or(domain);
    if name.is_empty() || name.len() > MAX_NAME {
        return None;
    }
    let valid_label = |l: &str| {
        !l.is_empty()
            && l.len() <= MAX_LABEL
            && l.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c as u32 > 0x7f)
            && !l.chars().any(char::is_whitespace)
    };
    if !name.split('.').all(valid_label) {
        return None;
    }
    Some(name.to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basics() {
        assert_eq!(
            organizational_domain("Mail.Example.CO.UK."),
            Some("example.co.uk".into())
        );
        assert_eq!(organizational_domain("co.uk"), None);
        assert_eq!(organizational_domain("a..example.com"), None);
        assert_eq!(organizational_domain("a b.example.com"), None);
        assert_eq!(organizational_domain(""), None);
        assert_eq!(organizational_domain("."), None);
    }
}
