//! The DMARC policy record (RFC 7489 §6.3, ABNF in §6.4), parsed with RFC 7489
//! semantics.
//!
//! `mail-auth` 0.13's `Dmarc` parser follows DMARCbis instead: it has no `pct`
//! tag, takes a record without `p=` as valid, and rejects the whole record for
//! a bad value in any tag (`adkim=x`, `fo=x`). RFC 7489 needs `pct`, needs
//! `p` (§6.6.3 step 6), and asks that errors in the other tags fall back to
//! their defaults (§6.3), so authsense parses the few tags it uses itself.

use super::dmarc::{AlignmentMode, DmarcPolicy};

/// The tags of one DMARC record that evaluation uses (§6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DmarcRecord {
    /// `p`: the policy for the domain itself. A record whose `p` (or `sp`) is
    /// missing or invalid but which has a valid `rua` URI reads as `p=none`
    /// (§6.6.3 step 6).
    pub p: DmarcPolicy,
    /// `sp`: the policy for subdomains; `None` when absent (then `p` applies).
    pub sp: Option<DmarcPolicy>,
    /// `adkim`: DKIM identifier alignment, default relaxed.
    pub adkim: AlignmentMode,
    /// `aspf`: SPF identifier alignment, default relaxed.
    pub aspf: AlignmentMode,
    /// `pct`: percentage of failing messages the policy applies to,
    /// 0–100, default 100 (an invalid value reads as the default).
    pub pct: u8,
}

/// Why a TXT record gave no usable DMARC policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordError {
    /// It does not start with `v=DMARC1`: not a DMARC record at all, to be
    /// discarded before counting records (§6.6.3 step 3).
    NotDmarc,
    /// A DMARC record whose `p` is missing or invalid, or whose `sp` is
    /// invalid, with no valid `rua` URI: no DMARC processing applies
    /// (§6.6.3 step 6); reported as permerror (§11.2).
    NoPolicy,
}

impl DmarcRecord {
    /// Parses one TXT record's text (its strings already concatenated).
    ///
    /// Tag names and the values of `p`, `sp`, `adkim` and `aspf` are
    /// case-insensitive (ABNF quoted strings, RFC 5234 §2.3); `DMARC1` must be
    /// upper case (§6.4, `%x44 %x4d …`). `v` must be the first tag; `p` may
    /// appear anywhere after it. Unknown tags are ignored; of a repeated tag
    /// the first counts.
    ///
    /// # Errors
    /// [`RecordError::NotDmarc`] when the record does not start with
    /// `v=DMARC1`; [`RecordError::NoPolicy`] per §6.6.3 step 6.
    pub fn parse(text: &str) -> Result<DmarcRecord, RecordError> {
        let mut tags = text.split(';').map(tag);
        match tags.next() {
            Some(Some((name, "DMARC1"))) if name.eq_ignore_ascii_case("v") => {}
            _ => return Err(RecordError::NotDmarc),
        }
        let (mut p, mut sp, mut adkim, mut aspf, mut pct, mut rua) =
            (None, None, None, None, None, None);
        for (name, value) in tags.flatten() {
            match name.to_ascii_lowercase().as_str() {
                "p" if p.is_none() => p = Some(policy(value)),
                "sp" if sp.is_none() => sp = Some(policy(value)),
                "adkim" if adkim.is_none() => adkim = Some(alignment(value)),
                "aspf" if aspf.is_none() => aspf = Some(alignment(value)),
                "pct" if pct.is_none() => pct = Some(percent(value)),
                "rua" if rua.is_none() => rua = Some(value),
                _ => {}
            }
        }
        // §6.6.3 step 6: a missing or invalid `p`, or an invalid `sp`.
        let sp_invalid = matches!(sp, Some(None));
        let (p, sp) = match p.flatten() {
            Some(p) if !sp_invalid => (p, sp.flatten()),
            _ if rua.is_some_and(has_valid_uri) => (DmarcPolicy::None, None),
            _ => return Err(RecordError::NoPolicy),
        };
        Ok(DmarcRecord {
            p,
            sp,
            adkim: adkim.flatten().unwrap_or(AlignmentMode::Relaxed),
            aspf: aspf.flatten().unwrap_or(AlignmentMode::Relaxed),
            pct: pct.flatten().unwrap_or(100),
        })
    }

    /// The policy to apply: `sp` (default `p`) when the record was found at
    /// the organizational domain in place of the From domain, which is then
    /// a subdomain of it (§6.3 `sp`, §6.6.3 step 3); else `p`.
    pub fn policy_for(&self, from_is_subdomain: bool) -> DmarcPolicy {
        if from_is_subdomain {
            self.sp.unwrap_or(self.p)
        } else {
            self.p
        }
    }
}

/// `name = value` with the white space around either trimmed (§6.4 `*WSP`);
/// `None` for an empty or malformed tag.
fn tag(spec: &str) -> Option<(&str, &str)> {
    let (name, value) = spec.split_once('=')?;
    let name = name.trim();
    (!name.is_empty()).then_some((name, value.trim()))
}

/// `none` / `quarantine` / `reject` (§6.3 `p`).
fn policy(value: &str) -> Option<DmarcPolicy> {
    [
        DmarcPolicy::None,
        DmarcPolicy::Quarantine,
        DmarcPolicy::Reject,
    ]
    .into_iter()
    .find(|p| p.as_str().eq_ignore_ascii_case(value))
}

/// `r` / `s` (§6.3 `adkim`, `aspf`).
fn alignment(value: &str) -> Option<AlignmentMode> {
    match value {
        "r" | "R" => Some(AlignmentMode::Relaxed),
        "s" | "S" => Some(AlignmentMode::Strict),
        _ => None,
    }
}

/// `1*3DIGIT` in 0–100 (§6.3 `pct`).
fn percent(value: &str) -> Option<u8> {
    if value.is_empty() || value.len() > 3 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse::<u8>().ok().filter(|n| *n <= 100)
}

/// Whether a `rua` value holds at least one syntactically valid URI
/// (§6.4 `dmarc-uri`: an RFC 3986 URI with an optional `!size` suffix). The
/// check is for a scheme (`ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`), a
/// colon, a non-empty rest and no white space; the URI is not used.
fn has_valid_uri(rua: &str) -> bool {
    rua.split(',').any(|uri| {
        let uri = uri.trim();
        let uri = uri.rsplit_once('!').map_or(uri, |(u, _)| u);
        let Some((scheme, rest)) = uri.split_once(':') else {
            return false;
        };
        let mut chars = scheme.chars();
        chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
            && !rest.is_empty()
            && !rest.chars().any(|c| c.is_whitespace() || c.is_control())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_defaults() {
        let r = DmarcRecord::parse("v=DMARC1; p=reject; sp=none; adkim=s; pct=20").unwrap();
        assert_eq!(r.p, DmarcPolicy::Reject);
        assert_eq!(r.sp, Some(DmarcPolicy::None));
        assert_eq!(r.adkim, AlignmentMode::Strict);
        assert_eq!(r.aspf, AlignmentMode::Relaxed);
        assert_eq!(r.pct, 20);
        let r = DmarcRecord::parse("v = DMARC1 ;P=Quarantine;pct=500;aspf=x").unwrap();
        assert_eq!(
            (r.p, r.pct, r.aspf),
            (DmarcPolicy::Quarantine, 100, AlignmentMode::Relaxed)
        );
    }

    #[test]
    fn rejects() {
        assert_eq!(
            DmarcRecord::parse("v=spf1 -all"),
            Err(RecordError::NotDmarc)
        );
        assert_eq!(
            DmarcRecord::parse("v=dmarc1; p=none"),
            Err(RecordError::NotDmarc)
        );
        assert_eq!(
            DmarcRecord::parse("p=none; v=DMARC1"),
            Err(RecordError::NotDmarc)
        );
        assert_eq!(DmarcRecord::parse("v=DMARC1"), Err(RecordError::NoPolicy));
        assert_eq!(
            DmarcRecord::parse("v=DMARC1; p=bob"),
            Err(RecordError::NoPolicy)
        );
        assert_eq!(
            DmarcRecord::parse("v=DMARC1; p=reject; sp=bob"),
            Err(RecordError::NoPolicy)
        );
        let r = DmarcRecord::parse("v=DMARC1; p=bob; rua=mailto:d@example.com").unwrap();
        assert_eq!((r.p, r.sp), (DmarcPolicy::None, None));
    }
}
