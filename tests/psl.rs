//! The Public Suffix List's own conformance cases (`tests/data/psl/test_psl.txt`,
//! publicsuffix/list) through [`organizational_domain`] (RFC 7489 §3.2).
//!
//! Every active `checkPublicSuffix(input, expected)` line is one case; `null`
//! as expected means "no registrable domain" (`None`), and the `null` input
//! case is run as the empty string, which must also give `None`. A case listed
//! in [`KNOWN_FAILURES`] may fail (and is reported when it starts passing);
//! any other failure fails the test.

use authsense::auth::organizational_domain;

/// Cases expected to fail, as (input, reason). Empty: the `psl` crate carries
/// both the U-label and A-label forms of IDN rules.
const KNOWN_FAILURES: &[(&str, &str)] = &[];

/// One `checkPublicSuffix` argument: `null` or a single-quoted string.
fn arg(s: &str) -> Option<String> {
    let s = s.trim();
    if s == "null" {
        return None;
    }
    Some(s.trim_matches('\'').to_string())
}

fn cases() -> Vec<(Option<String>, Option<String>)> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/psl/test_psl.txt"
    ))
    .expect("read test_psl.txt");
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("checkPublicSuffix("))
        .map(|rest| {
            let inner = rest.trim_end().trim_end_matches(';').trim_end_matches(')');
            let (input, expected) = inner.split_once(',').expect("two arguments");
            (arg(input), arg(expected))
        })
        .collect()
}

#[test]
fn psl_conformance() {
    let cases = cases();
    assert_eq!(cases.len(), 78, "active checkPublicSuffix lines");
    let (mut passed, mut failures, mut known, mut fixed) = (0, vec![], 0, vec![]);
    for (input, expected) in &cases {
        let input = input.as_deref().unwrap_or("");
        let got = organizational_domain(input);
        let is_known = KNOWN_FAILURES.iter().any(|(i, _)| *i == input);
        if got == *expected {
            passed += 1;
            if is_known {
                fixed.push(input.to_string());
            }
        } else if is_known {
            known += 1;
        } else {
            failures.push(format!("{input:?}: want {expected:?}, got {got:?}"));
        }
    }
    println!(
        "PSL conformance: {passed}/{} passed, {known} known failures",
        cases.len()
    );
    assert!(
        fixed.is_empty(),
        "known failures now pass, update KNOWN_FAILURES: {fixed:?}"
    );
    assert!(failures.is_empty(), "regressions:\n{}", failures.join("\n"));
}

#[test]
fn normalisation() {
    assert_eq!(
        organizational_domain("WWW.Example.Co.UK."),
        Some("example.co.uk".into())
    );
    assert_eq!(
        organizational_domain("example.co.uk."),
        Some("example.co.uk".into())
    );
    assert_eq!(organizational_domain("co.uk."), None);
    assert_eq!(organizational_domain("user@example.com"), None);
    assert_eq!(organizational_domain("example.com.."), None);
    assert_eq!(organizational_domain(&"a".repeat(64)), None);
    // Private section of the list: a hosted subdomain is its own organization.
    assert_eq!(
        organizational_domain("mail.alice.github.io"),
        Some("alice.github.io".into())
    );
}
