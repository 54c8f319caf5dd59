//! The verdict of a conformance-suite runner: prints N/M and every failure,
//! fails on a failure not listed as known (a regression) and on a known
//! failure that now passes (so the list and docs/conformance.md stay true).
#![allow(dead_code)]

/// Checks `failures` (name, why) of a suite of `total` cases against `known`.
pub fn verdict(suite: &str, total: usize, failures: &[(String, String)], known: &[(&str, &str)]) {
    println!("{suite}: {}/{total} passed", total - failures.len());
    for (name, why) in failures {
        println!("  FAIL {name}: {why}");
    }
    let unexpected: Vec<_> = failures
        .iter()
        .filter(|(n, _)| !known.iter().any(|(k, _)| k == n))
        .collect();
    assert!(unexpected.is_empty(), "regressions: {unexpected:?}");
    let fixed: Vec<_> = known
        .iter()
        .filter(|(k, _)| !failures.iter().any(|(n, _)| n == k))
        .collect();
    assert!(
        fixed.is_empty(),
        "now passing, remove from KNOWN_FAILURES and docs/conformance.md: {fixed:?}"
    );
}
