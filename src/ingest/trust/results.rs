//! Reading a chosen header's results into the record: one
//! [`MethodInfo`] per result, normalised to the registered results, and
//! notes where two trusted headers disagree.

use crate::headers::authres::{AuthResults, MethodResult};
use crate::model::{AuthInfo, AuthSource, MethodInfo};

/// Adds the results of `ar` (from `source`) for the methods `wanted` accepts.
pub(super) fn add_results(
    info: &mut AuthInfo,
    source: AuthSource,
    ar: &AuthResults,
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

pub(super) fn label(source: AuthSource) -> &'static str {
    match source {
        AuthSource::XAgari => "x-agari",
        AuthSource::AuthenticationResults => "authentication-results",
        AuthSource::None => "none",
        AuthSource::Tampered => "tampered",
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
pub(super) fn disagreements(
    a: (AuthSource, &AuthResults),
    b: (AuthSource, &AuthResults),
) -> Vec<String> {
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
