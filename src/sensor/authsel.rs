//! Choosing the authentication results to believe, from the
//! `X-Agari-Authentication-Results` and `Authentication-Results` header
//! fields (RFC 8601) of a received copy.
//!
//! Only headers whose authserv-id is trusted count (RFC 8601 §5: anyone can
//! write an `Authentication-Results` header; a consumer believes only its
//! own ADMD's). Among trusted ones the topmost X-Agari header wins, then the
//! topmost `Authentication-Results`, as the Agari sensor does (the perimeter
//! stamps the X-Agari copy because downstream MTAs may rewrite or strip the
//! standard header). Results are normalised to the method's registered
//! results (RFC 8601 §2.7, RFC 8617 §6 for ARC); anything else, notably a
//! Proofpoint template that was never expanded (`spf=${SPFResult}`),
//! becomes `unknown`, which no consumer may read as pass.

use crate::authres::{self, AuthResults, MethodResult};

use super::record::{AuthInfo, AuthSource, MethodInfo};

/// Header name of the perimeter's duplicate stamp.
pub const X_AGARI: &str = "X-Agari-Authentication-Results";
/// Header name of the standard stamp (RFC 8601 §2).
pub const AUTH_RESULTS: &str = "Authentication-Results";

/// Picks the authentication results from `top_level_headers` (name, raw
/// value, topmost first; only the message's own header, never a nested
/// message's) using the authserv-ids in `trusted` (compared ASCII
/// case-insensitively). See [`select_with_index`].
pub fn select(top_level_headers: &[(String, String)], trusted: &[String]) -> AuthInfo {
    select_with_index(top_level_headers, trusted).0
}

/// Like [`select`], and also returns the index in `top_level_headers` of
/// the chosen header (the perimeter's `Received:` is the first one below
/// it).
///
/// The topmost trusted X-Agari header that parses is chosen, else the
/// topmost trusted `Authentication-Results` that parses. A trusted header
/// that does not parse adds a note to `conflicts` and is skipped. Every
/// other trusted header that parses is compared with the chosen one and
/// each disagreement on spf, dmarc, arc or a dkim signature (matched by
/// `header.d`/`header.i`) adds a note such as
/// `spf: x-agari=pass authentication-results=fail`. The authserv-ids of
/// untrusted headers are listed once each in `untrusted_ids`.
pub fn select_with_index(
    top_level_headers: &[(String, String)],
    trusted: &[String],
) -> (AuthInfo, Option<usize>) {
    let mut info = AuthInfo::default();
    let mut candidates: Vec<(usize, AuthSource, String, AuthResults)> = Vec::new();
    for (i, (name, value)) in top_level_headers.iter().enumerate() {
        let Some(source) = source_of(name) else {
            continue;
        };
        let Ok(id) = authres::authserv_id(value) else {
            continue;
        };
        if !trusted.iter().any(|t| t.eq_ignore_ascii_case(&id)) {
            if !info
                .untrusted_ids
                .iter()
                .any(|u| u.eq_ignore_ascii_case(&id))
            {
                info.untrusted_ids.push(id);
            }
            continue;
        }
        match authres::parse(value) {
            Ok(ar) => candidates.push((i, source, value.trim().to_string(), ar)),
            Err(e) => info.conflicts.push(format!(
                "{}: unparsable header from {id} ({e})",
                label(source)
            )),
        }
    }
    let chosen = [AuthSource::XAgari, AuthSource::AuthenticationResults]
        .iter()
        .find_map(|want| candidates.iter().position(|c| c.1 == *want));
    let Some(pos) = chosen else {
        return (info, None);
    };
    let (index, source, raw, ar) = &candidates[pos];
    info.source = *source;
    info.authserv_id = Some(ar.authserv_id.clone());
    info.raw = Some(raw.clone());
    add_results(&mut info, *source, ar, |_| true);
    // A method the chosen header does not carry comes from the topmost
    // trusted header of the other kind that does.
    let carried: Vec<&str> = ar.results.iter().map(|r| r.method.as_str()).collect();
    let missing = |m: &str| !carried.contains(&m);
    if let Some((_, other_source, _, other)) = candidates.iter().find(|c| c.1 != *source) {
        add_results(&mut info, *other_source, other, |m| missing(m));
    }
    for (j, (_, other_source, _, other)) in candidates.iter().enumerate() {
        if j != pos {
            for note in disagreements((*source, ar), (*other_source, other)) {
                if !info.conflicts.contains(&note) {
                    info.conflicts.push(note);
                }
            }
        }
    }
    (info, Some(*index))
}

/// Adds the results of `ar` (from `source`) for the methods `wanted` accepts.
fn add_results(
    info: &mut AuthInfo,
    source: AuthSource,
    ar: &authres::AuthResults,
    wanted: impl Fn(&str) -> bool,
) {
    for r in ar.results.iter().filter(|r| wanted(&r.method)) {
        let mut m = method_info(r);
        m.source = source;
        match r.method.as_str() {
            "spf" => add_spf(info, m),
            "dkim" => info.dkim.push(m),
            "dmarc" if info.dmarc.is_none() => info.dmarc = Some(m),
            "arc" if info.arc.is_none() => info.arc = Some(m),
            _ => {}
        }
    }
}

/// Keeps the MAIL FROM identity's spf result as `spf` and a separately
/// reported HELO identity's as `spf_helo` (RFC 8601 §2.7.2: one result per
/// identity, as authsense's own Authentication-Results writes them).
fn add_spf(info: &mut AuthInfo, m: MethodInfo) {
    let mailfrom = |m: &MethodInfo| {
        m.props
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("smtp.mailfrom"))
    };
    match &info.spf {
        None => info.spf = Some(m),
        Some(cur) if !mailfrom(cur) && mailfrom(&m) => info.spf_helo = info.spf.replace(m),
        Some(_) if info.spf_helo.is_none() => info.spf_helo = Some(m),
        Some(_) => {}
    }
}

/// The chosen header's `smtp.<property>` of its first spf result that has
/// one, unless it is empty or an unexpanded `${...}` template.
pub fn smtp_property(info: &AuthInfo, property: &str) -> Option<String> {
    let key = format!("smtp.{property}");
    info.spf
        .iter()
        .chain(info.spf_helo.iter())
        .flat_map(|m| m.props.iter())
        .find(|(k, _)| k.eq_ignore_ascii_case(&key))
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty() && !v.contains("${"))
}

/// Maps `result` to one of the results RFC 8601 §2.7 (and RFC 8617 §6 for
/// `arc`) registers for `method`, or `unknown`. The deprecated SPF synonym
/// `hardfail` becomes `fail`. Methods not listed here keep only `none`,
/// `pass`, `fail`, `temperror` and `permerror`.
pub fn normalise_result(method: &str, result: &str) -> String {
    let r = result.trim().to_ascii_lowercase();
    let allowed: &[&str] = match method.to_ascii_lowercase().as_str() {
        "spf" => &[
            "none",
            "neutral",
            "pass",
            "fail",
            "softfail",
            "policy",
            "temperror",
            "permerror",
        ],
        "dkim" => &[
            "none",
            "pass",
            "fail",
            "policy",
            "neutral",
            "temperror",
            "permerror",
        ],
        "arc" => &["none", "pass", "fail"],
        _ => &["none", "pass", "fail", "temperror", "permerror"],
    };
    if method.eq_ignore_ascii_case("spf") && r == "hardfail" {
        return "fail".to_string();
    }
    if allowed.contains(&r.as_str()) {
        r
    } else {
        "unknown".to_string()
    }
}

fn source_of(name: &str) -> Option<AuthSource> {
    let name = name.trim();
    if name.eq_ignore_ascii_case(X_AGARI) {
        Some(AuthSource::XAgari)
    } else if name.eq_ignore_ascii_case(AUTH_RESULTS) {
        Some(AuthSource::AuthenticationResults)
    } else {
        None
    }
}

fn label(source: AuthSource) -> &'static str {
    match source {
        AuthSource::XAgari => "x-agari",
        AuthSource::AuthenticationResults => "authentication-results",
        AuthSource::None => "none",
    }
}

fn method_info(r: &MethodResult) -> MethodInfo {
    MethodInfo {
        source: AuthSource::None,
        result: normalise_result(&r.method, &r.result),
        reason: r.reason.clone(),
        props: r
            .props
            .iter()
            .map(|p| {
                let key = if p.ptype.is_empty() {
                    p.property.clone()
                } else {
                    format!("{}.{}", p.ptype, p.property)
                };
                (key, p.value.clone())
            })
            .collect(),
    }
}

/// Notes for every method on which `a` and `b` both report, differently.
fn disagreements(a: (AuthSource, &AuthResults), b: (AuthSource, &AuthResults)) -> Vec<String> {
    let mut notes = Vec::new();
    let mut note = |what: String, ra: &MethodResult, rb: &MethodResult| {
        let (x, y) = (
            normalise_result(&ra.method, &ra.result),
            normalise_result(&rb.method, &rb.result),
        );
        if x != y {
            notes.push(format!("{what}: {}={x} {}={y}", label(a.0), label(b.0)));
        }
    };
    for method in ["spf", "dmarc", "arc"] {
        if let (Some(ra), Some(rb)) = (a.1.result_for(method), b.1.result_for(method)) {
            note(method.to_string(), ra, rb);
        }
    }
    for ra in a.1.results.iter().filter(|r| r.method == "dkim") {
        let Some(key) = dkim_key(ra) else { continue };
        let rb = b.1.results.iter().find(|r| {
            r.method == "dkim" && dkim_key(r).is_some_and(|k| k.eq_ignore_ascii_case(key))
        });
        if let Some(rb) = rb {
            note(format!("dkim {key}"), ra, rb);
        }
    }
    notes
}

fn dkim_key(r: &MethodResult) -> Option<&str> {
    r.prop("header", "d").or_else(|| r.prop("header", "i"))
}

#[cfg(test)]
#[path = "authsel_tests.rs"]
mod tests;
