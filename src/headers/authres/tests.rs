//! Tests for the `authres` module: our own cases (the perimeter's
//! `X-Agari-Authentication-Results` shape, folding, comments, quoting, the
//! round trip, a deterministic fuzz of parse → format → parse) here, and the
//! vendored third-party vectors in `tests/vectors.rs`.

mod vectors;

use super::*;

fn prop(ptype: &str, property: &str, value: &str) -> Property {
    Property {
        ptype: ptype.into(),
        property: property.into(),
        value: value.into(),
    }
}

fn result(method: &str, result: &str, props: Vec<Property>) -> MethodResult {
    MethodResult {
        method: method.into(),
        method_version: None,
        result: result.into(),
        reason: None,
        props,
        comment: None,
    }
}

fn header(id: &str, results: Vec<MethodResult>) -> AuthResults {
    AuthResults {
        authserv_id: id.into(),
        version: None,
        results,
    }
}

fn spf(result_: &str, mailfrom: &str, helo: &str) -> AuthResults {
    header(
        "mx.example.com",
        vec![result(
            "spf",
            result_,
            vec![
                prop("smtp", "mailfrom", mailfrom),
                prop("smtp", "helo", helo),
            ],
        )],
    )
}

#[test]
fn stamp_is_the_vendor_shape_byte_for_byte() {
    let ar = spf("pass", "user@example.org", "mail.example.org");
    assert_eq!(
        ar.to_string(),
        "mx.example.com; spf=pass smtp.mailfrom=user@example.org smtp.helo=mail.example.org"
    );
    let null_sender = spf("none", "postmaster@mail.example.org", "mail.example.org");
    assert_eq!(
        null_sender.to_string(),
        "mx.example.com; spf=none smtp.mailfrom=postmaster@mail.example.org smtp.helo=mail.example.org"
    );
    let literal = spf("neutral", "postmaster@[192.0.2.1]", "[192.0.2.1]");
    assert_eq!(
        literal.to_string(),
        "mx.example.com; spf=neutral smtp.mailfrom=\"postmaster@[192.0.2.1]\" smtp.helo=\"[192.0.2.1]\""
    );
    assert_eq!(
        header("mx.example.com", vec![]).to_string(),
        "mx.example.com; none"
    );
}

#[test]
fn unexpanded_template_parses_as_tokens() {
    let v = "mx.example.com; spf=${SPFResult} smtp.mailfrom=${OriginalSender} smtp.helo=${Helo}";
    let ar = parse(v).expect("template parses");
    assert_eq!(
        ar,
        spf("${spfresult}", "${OriginalSender}", "${Helo}"),
        "result lowercased, values as given"
    );
}

#[test]
fn empty_result_lists_parse_to_nothing() {
    for v in [
        "mx.example.com;",
        "mx.example.com; ",
        "mx.example.com",
        "mx.example.com; none",
    ] {
        let ar = parse(v).unwrap_or_else(|e| panic!("{v:?}: {e}"));
        assert_eq!(ar, header("mx.example.com", vec![]), "{v:?}");
    }
    assert!(parse("mx.example.com; none; spf=pass").is_err());
    assert!(parse("mx.example.com; spf=pass; none").is_err());
}

#[test]
fn comments_everywhere() {
    let v = "(c0) mx.example.com (c1 (nested \\) paren)) ; (c2) spf (c3) = (c4) pass (c5) \
             smtp (c6) . (c7) mailfrom (c8) = (c9) user@example.org (c10) smtp.helo=mail.example.org (c11);";
    let ar = parse(v).expect("comments are CFWS");
    assert_eq!(ar, spf("pass", "user@example.org", "mail.example.org"));
    assert_eq!(authserv_id(v).as_deref(), Ok("mx.example.com"));
}

#[test]
fn folded_values() {
    let want = spf("pass", "user@example.org", "mail.example.org");
    let crlf = "mx.example.com;\r\n\tspf=pass\r\n\tsmtp.mailfrom=user@example.org\r\n\tsmtp.helo=mail.example.org";
    let lf = "mx.example.com;\n spf=pass (folded\n comment) smtp.mailfrom=user@example.org\n smtp.helo=mail.example.org\n";
    assert_eq!(parse(crlf), Ok(want.clone()));
    assert_eq!(parse(lf), Ok(want));
    let quoted =
        parse("mx.example.com; spf=pass reason=\"two\r\n words\"").expect("fold in quotes");
    assert_eq!(quoted.results[0].reason.as_deref(), Some("two words"));
    // A line break must be a fold, and CR must be part of CRLF.
    assert!(parse("mx.example.com;\r\nspf=pass").is_err());
    assert!(parse("mx.example.com; spf=pass\rsmtp.helo=x").is_err());
}

#[test]
fn versions_reason_and_lookups() {
    let ar = parse(
        "example.com 1; DKIM/1=Pass reason=\"good sig\" Header.D=Example.NET header.b=Qgi/FoC0",
    )
    .expect("parses");
    assert_eq!(ar.version, Some(1));
    let dkim = ar.result_for("Dkim").expect("dkim present");
    assert_eq!(
        (dkim.method.as_str(), dkim.method_version),
        ("dkim", Some(1))
    );
    assert_eq!(dkim.result, "pass");
    assert_eq!(dkim.reason.as_deref(), Some("good sig"));
    assert_eq!(dkim.prop("HEADER", "d"), Some("Example.NET"));
    assert_eq!(dkim.prop("header", "b"), Some("Qgi/FoC0"));
    assert_eq!(dkim.prop("header", "i"), None);
    assert!(ar.result_for("spf").is_none());
    assert!(parse("example.com 99999999999; spf=pass").is_err());
    assert!(parse("example.com; dkim/x=pass").is_err());
}

#[test]
fn pvalue_shapes() {
    let ar = parse(
        "a.example; x=pass smtp.mailfrom=\"john doe\"@example.org header.i=@example.org \
         smtp.rcptto=a=b?c@example.org policy.iprev=\"2001:db8::1\" x-bits=1024",
    )
    .expect("parses");
    let r = &ar.results[0];
    assert_eq!(r.prop("smtp", "mailfrom"), Some("\"john doe\"@example.org"));
    assert_eq!(r.prop("header", "i"), Some("@example.org"));
    assert_eq!(r.prop("smtp", "rcptto"), Some("a=b?c@example.org"));
    assert_eq!(r.prop("policy", "iprev"), Some("2001:db8::1"));
    assert_eq!(r.prop("", "x-bits"), Some("1024"));
    assert!(parse("a.example; iprev=pass policy.iprev=2001:db8::1").is_err());
    assert!(parse("a.example; spf=pass smtp.mailfrom=user@").is_err());
    assert!(parse("a.example; spf=pass smtp.mailfrom=\"x\"y").is_err());
}

#[test]
fn quoting_rules() {
    assert!(is_token("mx.example.com"));
    assert!(is_token("${SPFResult}"));
    assert!(
        is_token("m\u{fc}ller.example"),
        "non-ASCII counts (RFC 6532)"
    );
    for s in [
        "",
        "a b",
        "a/b",
        "[192.0.2.1]",
        "a;b",
        "a=b",
        "a\"b",
        "a\tb",
        "a\u{7f}",
    ] {
        assert!(!is_token(s), "{s:?}");
    }
    assert_eq!(quote_value("good signature"), "\"good signature\"");
    assert_eq!(quote_value("a\"b\\c"), "\"a\\\"b\\\\c\"");
    assert_eq!(quote_value("a\r\nb"), "\"a??b\"", "no header injection");
    assert_eq!(quote_value(""), "\"\"");
    assert!(matches!(quote_value("pass"), std::borrow::Cow::Borrowed(_)));
    for bare in [
        "user@example.org",
        "@example.org",
        "a.b+c=d@x-y.example",
        "example.org",
        "fm1",
        "\"john doe\"@example.org",
        "\"a@b\\\"c\"@example.org",
    ] {
        assert_eq!(quote_pvalue(bare), bare);
    }
    for (s, q) in [
        ("[192.0.2.1]", "\"[192.0.2.1]\""),
        ("postmaster@[192.0.2.1]", "\"postmaster@[192.0.2.1]\""),
        ("user@localhost", "\"user@localhost\""),
        ("a..b@example.org", "\"a..b@example.org\""),
        ("user@-bad.example", "\"user@-bad.example\""),
        ("2001:db8::1", "\"2001:db8::1\""),
        ("Qgi/FoC0", "\"Qgi/FoC0\""),
        (
            "\"unterminated@example.org",
            "\"\\\"unterminated@example.org\"",
        ),
        ("\"a\"b\"@example.org", "\"\\\"a\\\"b\\\"@example.org\""),
    ] {
        assert_eq!(quote_pvalue(s), q);
    }
}

#[test]
fn round_trip_format_parse() {
    let mut dkim = result(
        "dkim",
        "fail",
        vec![
            prop("header", "d", "example.net"),
            prop("header", "b", "Qgi/FoC0"),
        ],
    );
    dkim.method_version = Some(1);
    dkim.reason = Some("bad signature \"really\" \\o/".into());
    let table = vec![
        spf("pass", "user@example.org", "mail.example.org"),
        spf("none", "postmaster@[192.0.2.1]", "[192.0.2.1]"),
        spf("softfail", "\"john doe\"@example.org", "helo with spaces"),
        spf("pass", "", "x;y=z(w)"),
        spf(
            "temperror",
            "m\u{fc}ller@b\u{fc}cher.example",
            "[IPv6:2001:db8::1]",
        ),
        header("mx.example.com", vec![]),
        AuthResults {
            authserv_id: "weird id; with \"quotes\"".into(),
            version: Some(1),
            results: vec![
                dkim,
                result("arc", "none", vec![]),
                result("x-tls", "pass", vec![prop("", "bits", "128/128")]),
            ],
        },
        header(
            "mx.example.com",
            vec![result(
                "iprev",
                "pass",
                vec![prop("policy", "iprev", "2001:db8::1")],
            )],
        ),
    ];
    for ar in table {
        let text = ar.to_string();
        assert!(!text.contains(['\r', '\n']), "one line: {text}");
        assert_eq!(parse(&text), Ok(ar.clone()), "{text}");
        assert_eq!(authserv_id(&text), Ok(ar.authserv_id.clone()), "{text}");
    }
}

#[test]
fn authserv_id_only_looks_at_the_front() {
    assert_eq!(
        authserv_id("mx.example.com; garbage = = ="),
        Ok("mx.example.com".into())
    );
    assert_eq!(
        authserv_id("  \"MX.Example.COM\"(c);x"),
        Ok("MX.Example.COM".into())
    );
    assert_eq!(authserv_id("mx.example.com"), Ok("mx.example.com".into()));
    for bad in [
        "mx.example.com/1; spf=pass",
        "",
        "  ",
        "; spf=pass",
        "\"\"; spf=pass",
        "mx (open",
        "\"mx",
        "mx\rx",
    ] {
        assert!(authserv_id(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn errors_have_positions_and_messages() {
    let e = parse("mx.example.com; spf pass").expect_err("no '='");
    assert_eq!(e.position(), 20);
    assert_eq!(e.message(), "expected '=' after method");
    assert_eq!(
        e.to_string(),
        "Authentication-Results syntax error at byte 20: expected '=' after method"
    );
    let e = parse("mx.example.com; spf=pass (open").expect_err("unterminated");
    assert_eq!((e.position(), e.message()), (25, "unterminated comment"));
    let e = parse("mx.example.com; spf=pass reason=\"open").expect_err("unterminated");
    assert_eq!(
        (e.position(), e.message()),
        (32, "unterminated quoted-string")
    );
    let boxed: Box<dyn std::error::Error> = Box::new(e);
    assert!(boxed.to_string().contains("quoted-string"));
}

#[test]
fn microsoft_repeated_authserv_id() {
    let ar = parse(
        "outlook.com; spf=pass smtp.mailfrom=a.example; outlook.com; dkim=none header.d=none",
    )
    .expect("spaced repetition is skipped");
    let methods: Vec<_> = ar.results.iter().map(|r| r.method.as_str()).collect();
    assert_eq!(methods, ["spf", "dkim"]);
    assert!(parse("outlook.com; spf=pass;outlook.com; dkim=none").is_err());
    assert!(parse("outlook.com; spf=pass; other.example; dkim=none").is_err());
}

/// Deterministic fuzzing: generated headers, some with random fragments
/// inserted, never panic, and whatever parses formats to text that parses
/// back to the same value.
mod stable;
