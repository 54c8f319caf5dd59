//! RFC 8601 `Authentication-Results` parser: `authres::parse` and
//! `authres::authserv_id` on arbitrary input (invalid UTF-8 replaced, as the
//! milter does with header bytes).
//!
//! Oracles, the same as the deterministic fuzz in src/authres/tests.rs
//! (`parse_format_parse_is_stable`):
//! - whenever `parse` succeeds, `authserv_id` returns the same id;
//! - what parsed formats (`Display`) to one line that parses back to the
//!   same value, unless a parsed string holds an ASCII control character
//!   other than tab (the formatter writes those as `?`, by design).
#![no_main]

use authsense::headers::authres::{authserv_id, parse, AuthResults};
use libfuzzer_sys::fuzz_target;

fn has_ctl(s: &str) -> bool {
    s.chars().any(|c| c.is_ascii_control() && c != '\t')
}

fn any_ctl(ar: &AuthResults) -> bool {
    has_ctl(&ar.authserv_id)
        || ar.results.iter().any(|r| {
            has_ctl(&r.method)
                || has_ctl(&r.result)
                || r.reason.as_deref().is_some_and(has_ctl)
                || r.props
                    .iter()
                    .any(|p| has_ctl(&p.ptype) || has_ctl(&p.property) || has_ctl(&p.value))
        })
}

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let id = authserv_id(&s);
    let Ok(ar) = parse(&s) else { return };
    assert_eq!(
        id.as_ref(),
        Ok(&ar.authserv_id),
        "authserv_id vs parse: {s:?}"
    );
    if any_ctl(&ar) {
        return;
    }
    let text = ar.to_string();
    assert!(
        !text.contains(['\r', '\n']),
        "formatted on one line: {text:?}"
    );
    assert_eq!(
        parse(&text).as_ref(),
        Ok(&ar),
        "round trip: {s:?} -> {text:?}"
    );
    assert_eq!(authserv_id(&text).as_ref(), Ok(&ar.authserv_id), "{text:?}");
});
