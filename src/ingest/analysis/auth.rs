//! Rules on the trusted authentication results: `tampered-stamp`,
//! `stamp-author-mismatch` (the stamp's DMARC result is for a domain that
//! is none of the copy's authors), `auth-fail`, `dmarc-unaligned`
//! (identifier alignment recomputed from the stored SPF `smtp.mailfrom`
//! and DKIM `header.d`, RFC 7489 §3.1), `no-auth-results`, and
//! `journal-untrusted` for a journal-shaped message from outside the
//! configured journaling sources.

use super::{domain_of, from_domain, reason};
use crate::auth::{aligned, AlignmentMode};
use crate::config::{Alignment, AnalysisConfig};
use crate::model::{AuthSource, Mailbox, MethodInfo, Reason, Record};

/// Most points `auth-fail` gives, however many methods failed.
const AUTH_FAIL_MAX: u8 = 5;

/// Points of `tampered-stamp`: alone enough for `malicious` (default
/// `malicious_score`), since either an outsider planted the stamp or the
/// perimeter is not stamping.
const TAMPERED: u8 = 6;

/// Points of `stamp-author-mismatch`: as grave as a tampered stamp, since
/// the perimeter's DMARC result is about another author than the one this
/// copy (and every mailbox behind the same hops) shows.
const AUTHOR_MISMATCH: u8 = 6;

pub(super) fn check(rec: &Record, cfg: &AnalysisConfig, out: &mut Vec<Reason>) {
    let a = &rec.auth;
    if rec.anomalies.journal_untrusted {
        out.push(reason(
            "journal-untrusted",
            3,
            "shaped like an Exchange journal report, but not from a configured journaling source \
             ([sensor] journal_sources): recorded as the message it is"
                .into(),
        ));
    }
    if a.source == AuthSource::Tampered {
        let why = a.tamper.as_deref().unwrap_or("not believed");
        out.push(reason(
            "tampered-stamp",
            TAMPERED,
            format!("the authentication stamp cannot be believed ({why}); results unknown"),
        ));
        return;
    }
    if a.source == AuthSource::None && a.spf.is_none() && a.dkim.is_empty() && a.dmarc.is_none() {
        out.push(reason(
            "no-auth-results",
            1,
            "no trusted authentication results (no stamp from a trusted authserv-id)".into(),
        ));
        return;
    }
    author_mismatch(rec, out);
    auth_fail(rec, out);
    unaligned(rec, cfg, out);
}

/// `stamp-author-mismatch`: the stamp names the author domain its DMARC
/// result is for (`header.from`), and no author of this copy has that
/// domain. The `From:` field was read differently by the perimeter and
/// here: a transport changed what it says (a line over 998 octets broken
/// with CRLF + space where a backslash quotes the break, RFC 5322 §2.2.3
/// and obs-qp), so the result must not be shown as this author's.
fn author_mismatch(rec: &Record, out: &mut Vec<Reason>) {
    let Some(evaluated) = rec
        .auth
        .dmarc
        .as_ref()
        .and_then(|m| prop(m, "header.from"))
        .and_then(domain_of)
    else {
        return;
    };
    // Records stored before `authors` existed only have `from`.
    let authors: Vec<&Mailbox> = if rec.authors.is_empty() {
        rec.from.iter().collect()
    } else {
        rec.authors.iter().collect()
    };
    let domains: Vec<String> = authors
        .iter()
        .filter_map(|m| m.address.as_deref().and_then(domain_of))
        .collect();
    if domains
        .iter()
        .any(|d| aligned(d, &evaluated, AlignmentMode::Strict))
    {
        return;
    }
    let shown = if domains.is_empty() {
        "no readable author".to_string()
    } else {
        domains.join(", ")
    };
    out.push(reason(
        "stamp-author-mismatch",
        AUTHOR_MISMATCH,
        format!(
            "the perimeter's DMARC result is for header.from={evaluated}, but this copy's From \
             names {shown}: the From field reads differently after the hops (e.g. a line over \
             998 octets broken in transit); the result is not this author's"
        ),
    ));
}

fn is(m: &MethodInfo, result: &str) -> bool {
    m.result.eq_ignore_ascii_case(result)
}

/// The value of property `key` (e.g. `header.d`), case-insensitive key.
fn prop<'a>(m: &'a MethodInfo, key: &str) -> Option<&'a str> {
    m.props
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty() && !v.contains("${"))
}

/// The domain SPF checked: `smtp.mailfrom`'s, else `smtp.helo` (the null
/// reverse-path, RFC 7208 §2.4).
fn spf_domain(m: &MethodInfo) -> Option<String> {
    prop(m, "smtp.mailfrom")
        .filter(|v| *v != "<>")
        .and_then(domain_of)
        .or_else(|| prop(m, "smtp.helo").and_then(domain_of))
}

fn auth_fail(rec: &Record, out: &mut Vec<Reason>) {
    let a = &rec.auth;
    let mut points = 0u8;
    let mut what = Vec::new();
    if let Some(spf) = &a.spf {
        let dom = spf_domain(spf).unwrap_or_else(|| "?".into());
        if is(spf, "fail") {
            points += 2;
            what.push(format!("SPF fail for {dom}"));
        } else if is(spf, "softfail") {
            points += 1;
            what.push(format!("SPF softfail for {dom}"));
        }
    }
    let failed: Vec<String> = a
        .dkim
        .iter()
        .filter(|m| is(m, "fail"))
        .map(|m| prop(m, "header.d").unwrap_or("?").to_lowercase())
        .collect();
    if !failed.is_empty() && !a.dkim.iter().any(|m| is(m, "pass")) {
        points += 2;
        what.push(format!("DKIM fail for {}", failed.join(", ")));
    }
    if let Some(dmarc) = a.dmarc.as_ref().filter(|m| is(m, "fail")) {
        points += 3;
        let dom = prop(dmarc, "header.from")
            .map(str::to_lowercase)
            .or_else(|| from_domain(rec))
            .unwrap_or_else(|| "?".into());
        what.push(format!("DMARC fail for {dom}"));
    }
    if points > 0 {
        out.push(reason(
            "auth-fail",
            points.min(AUTH_FAIL_MAX),
            what.join("; "),
        ));
    }
}

fn unaligned(rec: &Record, cfg: &AnalysisConfig, out: &mut Vec<Reason>) {
    let Some(from) = from_domain(rec) else {
        return;
    };
    let mode = match cfg.alignment {
        Alignment::Relaxed => AlignmentMode::Relaxed,
        Alignment::Strict => AlignmentMode::Strict,
    };
    let a = &rec.auth;
    let spf = a
        .spf
        .as_ref()
        .filter(|m| is(m, "pass"))
        .and_then(spf_domain);
    let dkim: Vec<String> = a
        .dkim
        .iter()
        .filter(|m| is(m, "pass"))
        .filter_map(|m| prop(m, "header.d").map(str::to_lowercase))
        .collect();
    if spf.as_deref().is_some_and(|d| aligned(d, &from, mode))
        || dkim.iter().any(|d| aligned(d, &from, mode))
    {
        return;
    }
    let spf = spf.map_or("no SPF pass".into(), |d| format!("SPF pass for {d}"));
    let dkim = if dkim.is_empty() {
        "no DKIM pass".into()
    } else {
        format!("DKIM pass for {}", dkim.join(", "))
    };
    let mode = match cfg.alignment {
        Alignment::Relaxed => "relaxed",
        Alignment::Strict => "strict",
    };
    out.push(reason(
        "dmarc-unaligned",
        3,
        format!("From domain {from} is not aligned ({mode}) with any authenticated domain: {spf}, {dkim}"),
    ));
}
