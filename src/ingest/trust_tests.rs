//! Table-driven tests of header selection ([`super`]).
use super::*;

const XA: &str = X_AGARI;
const AR: &str = AUTH_RESULTS;

fn hdrs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

fn trusted() -> Vec<String> {
    vec!["mx.example.com".to_string(), "Gw.Example.COM".to_string()]
}

#[test]
fn selection_table() {
    // (headers, source, authserv_id, spf result, chosen index, conflicts, untrusted)
    type Case<'a> = (
        Vec<(&'a str, &'a str)>,
        AuthSource,
        Option<&'a str>,
        Option<&'a str>,
        Option<usize>,
        Vec<&'a str>,
        Vec<&'a str>,
    );
    let cases: Vec<Case> = vec![
        (vec![], AuthSource::None, None, None, None, vec![], vec![]),
        (
            vec![(AR, " mx.example.com; spf=fail"), (XA, " mx.example.com; spf=pass")],
            AuthSource::XAgari,
            Some("mx.example.com"),
            Some("pass"),
            Some(1),
            vec!["spf: x-agari=pass authentication-results=fail"],
            vec![],
        ),
        (
            vec![("authentication-results", " MX.EXAMPLE.COM; spf=softfail")],
            AuthSource::AuthenticationResults,
            Some("MX.EXAMPLE.COM"),
            Some("softfail"),
            Some(0),
            vec![],
            vec![],
        ),
        (
            vec![
                (XA, " evil.example; spf=pass"),
                (AR, " evil.example; spf=pass"),
                (AR, " Evil.Example; dkim=pass"),
                (AR, " gw.example.com; spf=neutral"),
            ],
            AuthSource::AuthenticationResults,
            Some("gw.example.com"),
            Some("neutral"),
            Some(3),
            vec![],
            vec!["evil.example"],
        ),
        (
            vec![(XA, " mx.example.com; spf=${SPFResult} smtp.mailfrom=${OriginalSender} smtp.helo=${Helo}")],
            AuthSource::XAgari,
            Some("mx.example.com"),
            Some("unknown"),
            Some(0),
            vec![],
            vec![],
        ),
        (
            // X-Agari carries no spf: spf comes from the trusted AR.
            vec![(XA, " mx.example.com;"), (AR, " mx.example.com; spf=pass")],
            AuthSource::XAgari,
            Some("mx.example.com"),
            Some("pass"),
            Some(0),
            vec![],
            vec![],
        ),
        (
            // The topmost trusted stamp is broken: tampered, and the AR
            // below is not used instead.
            vec![(XA, " mx.example.com; spf=pass ; ; =garbage"), (AR, " mx.example.com; spf=pass")],
            AuthSource::Tampered,
            Some("mx.example.com"),
            Some("unknown"),
            Some(0),
            vec![],
            vec![],
        ),
        (
            vec![(XA, " ;;;"), (XA, "")],
            AuthSource::None,
            None,
            None,
            None,
            vec![],
            vec![],
        ),
    ];
    for (i, (h, source, id, spf, index, conflicts, untrusted)) in cases.into_iter().enumerate() {
        let (info, idx) = select_with_index(&hdrs(&h), &trusted());
        assert_eq!(info.source, source, "case {i}");
        assert_eq!(info.authserv_id.as_deref(), id, "case {i}");
        assert_eq!(
            info.spf.as_ref().map(|m| m.result.as_str()),
            spf,
            "case {i}"
        );
        assert_eq!(idx, index, "case {i}");
        assert_eq!(
            info.conflicts.len(),
            conflicts.len(),
            "case {i}: {:?}",
            info.conflicts
        );
        for (got, want) in info.conflicts.iter().zip(&conflicts) {
            assert!(got.starts_with(want), "case {i}: {got}");
        }
        assert_eq!(info.untrusted_ids, untrusted, "case {i}");
    }
}

#[test]
fn methods_and_dkim_conflicts() {
    let h = hdrs(&[
        (
            XA,
            " mx.example.com; spf=pass smtp.mailfrom=a@example.org smtp.helo=mail.example.org; \
             dkim=pass header.d=example.org header.s=s1; dkim=fail reason=\"bad sig\" header.d=other.example; \
             dmarc=pass header.from=example.org; arc=none; iprev=pass policy.iprev=192.0.2.1",
        ),
        (AR, " mx.example.com; dkim=fail header.d=example.org; dmarc=pass; arc=fail"),
    ]);
    let info = select(&h, &trusted());
    assert_eq!(info.dkim.len(), 2);
    assert_eq!(info.dkim[1].result, "fail");
    assert_eq!(info.dkim[1].reason.as_deref(), Some("bad sig"));
    assert_eq!(info.dmarc.as_ref().map(|m| m.result.as_str()), Some("pass"));
    assert_eq!(info.arc.as_ref().map(|m| m.result.as_str()), Some("none"));
    assert_eq!(
        smtp_property(&info, "mailfrom").as_deref(),
        Some("a@example.org")
    );
    assert_eq!(
        smtp_property(&info, "helo").as_deref(),
        Some("mail.example.org")
    );
    assert_eq!(
        info.conflicts,
        vec![
            "arc: x-agari=none authentication-results=fail",
            "dkim example.org: x-agari=pass authentication-results=fail",
        ]
    );
}

#[test]
fn unexpanded_template_properties_are_not_used() {
    let h = hdrs(&[(
        XA,
        " mx.example.com; spf=${SPFResult} smtp.mailfrom=${OriginalSender} smtp.helo=${Helo}",
    )]);
    let info = select(&h, &trusted());
    assert_eq!(smtp_property(&info, "mailfrom"), None);
    assert_eq!(smtp_property(&info, "helo"), None);
    assert_eq!(info.spf.map(|m| m.props.len()), Some(2));
}

#[test]
fn each_method_from_the_topmost_trusted_header_that_carries_it() {
    let h = hdrs(&[
        (XA, " mx.example.com; spf=pass smtp.mailfrom=a@x.example smtp.helo=h.example"),
        (AR, " mx.example.com; spf=fail smtp.mailfrom=a@x.example; dkim=pass header.d=x.example; dmarc=pass header.from=x.example"),
        (AR, " mx.example.com; arc=pass"),
    ]);
    let info = select(&h, &trusted());
    let spf = info.spf.as_ref().unwrap();
    assert_eq!(
        (spf.result.as_str(), spf.source),
        ("pass", AuthSource::XAgari)
    );
    assert_eq!(info.dkim.len(), 1);
    assert_eq!(info.dkim[0].source, AuthSource::AuthenticationResults);
    let dmarc = info.dmarc.as_ref().unwrap();
    assert_eq!(
        (dmarc.result.as_str(), dmarc.source),
        ("pass", AuthSource::AuthenticationResults)
    );
    // Only the topmost AR is consulted for what X-Agari lacks.
    assert!(info.arc.is_none());
    assert_eq!(info.source, AuthSource::XAgari);
    assert!(
        info.conflicts.iter().any(|c| c.starts_with("spf:")),
        "{:?}",
        info.conflicts
    );
}

#[test]
fn per_identity_spf_results() {
    // authsense's own Authentication-Results: one spf result per identity,
    // in either order.
    for value in [
        " mx.example.com; spf=fail smtp.mailfrom=u@fail.example; spf=pass smtp.helo=mail.example",
        " mx.example.com; spf=pass smtp.helo=mail.example; spf=fail smtp.mailfrom=u@fail.example",
    ] {
        let info = select(&hdrs(&[(AR, value)]), &trusted());
        assert_eq!(
            info.spf.as_ref().map(|m| m.result.as_str()),
            Some("fail"),
            "{value}"
        );
        assert_eq!(
            info.spf_helo.as_ref().map(|m| m.result.as_str()),
            Some("pass"),
            "{value}"
        );
        assert_eq!(
            smtp_property(&info, "mailfrom").as_deref(),
            Some("u@fail.example")
        );
        assert_eq!(
            smtp_property(&info, "helo").as_deref(),
            Some("mail.example")
        );
    }
}

#[test]
fn normalisation_table() {
    let cases = [
        ("spf", "PASS", "pass"),
        ("spf", "hardfail", "fail"),
        ("spf", "softfail", "softfail"),
        ("spf", "${spfresult}", "unknown"),
        ("spf", "", "unknown"),
        ("spf", "passed", "unknown"),
        ("dkim", "policy", "policy"),
        ("dkim", "softfail", "unknown"),
        ("dmarc", "temperror", "temperror"),
        ("dmarc", "neutral", "unknown"),
        ("arc", "pass", "pass"),
        ("arc", "temperror", "unknown"),
        ("dkim", "hardfail", "unknown"),
    ];
    for (method, result, want) in cases {
        assert_eq!(normalise_result(method, result), want, "{method}={result}");
    }
}

#[path = "trust_seal_tests.rs"]
mod trust;
