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

mod trust {
    //! The trust rules of issue 17: strict grammar, no fall-back, seals,
    //! position.
    use super::*;
    use crate::headers::seal::{Keys, Sealed};

    const ID: &str = "mx.example.com";
    const NOW: u64 = 1_800_000_000;
    const BODY: &[u8] = b"\r\nPay https://bank.example/ now.\r\n";

    fn keys() -> Keys {
        Keys::new(vec![vec![9u8; 32]]).unwrap()
    }

    /// The milter's stamps and seal on top of `rest`, as the sensor sees
    /// them after the copy hop added its Received.
    fn sealed_copy(xa: &str, ar: &str, rest: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut bound = Sealed::default();
        for (n, v) in rest {
            bound.header(n, v.as_bytes());
        }
        bound.body(BODY);
        let seal = bound.seal(&keys(), xa, Some(ar), NOW);
        let mut h = vec![
            ("Received", " from perimeter by copy.example"),
            ("X-Authsense-Seal", seal.as_str()),
            (XA, xa),
            (AR, ar),
        ];
        h.extend_from_slice(rest);
        hdrs(&h)
    }

    fn original() -> Vec<(&'static str, &'static str)> {
        vec![
            (
                "Received",
                " from evil.example (evil.example [198.51.100.7]) by mx.example.com",
            ),
            ("From", " CEO <ceo@bank.example>"),
            ("Subject", " Pay now"),
        ]
    }

    fn trust<'a>(
        trusted: &'a [String],
        sealed: &'a [String],
        k: &'a Keys,
        body: &'a [u8],
    ) -> Trust<'a> {
        Trust {
            trusted,
            sealed,
            seal: Some(SealCheck {
                keys: k,
                body,
                raw_values: &[],
                now: NOW + 60,
                max_age: 86_400,
            }),
        }
    }

    #[test]
    fn a_sealed_stamp_is_believed_and_says_where_it_sat() {
        let xa = " mx.example.com; spf=fail smtp.mailfrom=a@evil.example smtp.helo=evil.example";
        let ar = " mx.example.com; spf=fail smtp.mailfrom=a@evil.example; dmarc=fail header.from=bank.example";
        let h = sealed_copy(xa, ar, &original());
        let (t, s, k) = (vec![ID.to_string()], vec![ID.to_string()], keys());
        let (info, idx) = choose(&h, &trust(&t, &s, &k, BODY));
        assert_eq!(info.source, AuthSource::XAgari);
        assert!(info.sealed);
        assert_eq!(idx, Some(2));
        assert_eq!((info.position, info.received_above), (Some(2), Some(1)));
        assert_eq!(info.spf.as_ref().unwrap().result, "fail");
        // dmarc comes from the sealed AR of the group.
        assert_eq!(info.dmarc.as_ref().unwrap().result, "fail");
    }

    #[test]
    fn without_a_valid_seal_a_sealed_id_is_tampered() {
        let xa = " mx.example.com; spf=pass smtp.mailfrom=a@evil.example smtp.helo=evil.example";
        let ar = " mx.example.com; spf=pass smtp.mailfrom=a@evil.example";
        let (t, s, k) = (vec![ID.to_string()], vec![ID.to_string()], keys());
        // Forged by an outsider while the milter was down: no seal at all.
        let mut h = original();
        h.insert(1, (XA, xa));
        let (info, _) = choose(&hdrs(&h), &trust(&t, &s, &k, BODY));
        assert_eq!(info.source, AuthSource::Tampered);
        assert!(
            info.tamper.as_deref().unwrap().contains("no seal"),
            "{info:?}"
        );
        assert_eq!(info.spf.as_ref().unwrap().result, "unknown");
        assert!(!info.sealed);
        // A genuine seal lifted from another message: body differs.
        let lifted = sealed_copy(xa, ar, &original());
        let (info, _) = choose(&lifted, &trust(&t, &s, &k, b"\r\nanother body\r\n"));
        assert_eq!(info.source, AuthSource::Tampered);
        // The stamp edited after sealing.
        let mut edited = sealed_copy(xa, ar, &original());
        edited[2].1 = edited[2].1.replace("spf=pass", "spf=pass ");
        edited[3].1 = ar.replace("a@evil", "b@evil");
        let (info, _) = choose(&edited, &trust(&t, &s, &k, BODY));
        assert_eq!(info.source, AuthSource::Tampered, "{info:?}");
        // An id that needs no seal (a Proofpoint gateway) is believed.
        let none: Vec<String> = Vec::new();
        let mut h = original();
        h.insert(1, (XA, xa));
        let (info, _) = choose(&hdrs(&h), &trust(&t, &none, &k, BODY));
        assert_eq!((info.source, info.sealed), (AuthSource::XAgari, false));
    }

    #[test]
    fn an_id_assembled_by_the_transport_is_not_trusted_and_never_falls_back() {
        let t = vec![ID.to_string()];
        // What Postfix's line breaking makes of `mx.example.comx`: the
        // strict grammar refuses it, so the copy is tampered, and the forged
        // AR below is not used instead.
        let h = hdrs(&[
            (AR, " (pad) mx.example.com\r\n x; spf=pass"),
            ("Received", " from evil by mx.example.com"),
            (AR, " mx.example.com; spf=pass dkim=pass"),
        ]);
        let info = select(&h, &t);
        assert_eq!(info.source, AuthSource::Tampered);
        assert_eq!(info.spf.unwrap().result, "unknown");
        // The milter deletes such a header before it could get there.
        assert!(crate::headers::stamp::milter_deletes(
            AR,
            " mx.example.com\n x; spf=pass",
            ID
        ));
    }

    #[test]
    fn trusted_headers_below_the_perimeters_received_are_ignored() {
        let t = vec![ID.to_string()];
        let h = hdrs(&[
            (XA, " mx.example.com; spf=fail smtp.mailfrom=a@evil.example"),
            ("Received", " from evil by mx.example.com"),
            (
                AR,
                " mx.example.com; spf=pass; dkim=pass header.d=bank.example; dmarc=pass",
            ),
        ]);
        let info = select(&h, &t);
        assert_eq!(info.source, AuthSource::XAgari);
        assert_eq!(info.spf.as_ref().unwrap().result, "fail");
        assert!(info.dkim.is_empty() && info.dmarc.is_none(), "{info:?}");
        assert!(info
            .conflicts
            .iter()
            .any(|c| c.contains("outside the stamp's group")));
    }
}
