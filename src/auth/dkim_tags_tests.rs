//! Unit tests of the strict tag-list reading (RFC 6376 §3.2, §3.5; RFC 8617
//! §4.1.2, §4.1.3; RFC 8301 §3.1).

use super::{check, loose, Kind, Refusal, TagList};

const DKIM: &str = "v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.com; s=sel;\r\n\t\
                    t=1700000000; h=from:to:subject; bh=YWJj; b=ZGVm\r\n";
const AMS: &str = "i=1; a=rsa-sha256; c=relaxed/relaxed; d=example.org; s=dummy; t=12345;\r\n    \
                   h=from:to:date:subject:mime-version:arc-authentication-results; bh=YWJj; b=ZGVm";
const SEAL: &str = "i=1; a=rsa-sha256; cv=none; d=example.org; s=dummy; t=12345; b=ZGVm";

/// `base` with the first occurrence of `from` replaced by `to`.
fn with(base: &str, from: &str, to: &str) -> String {
    assert!(base.contains(from), "{from:?} not in {base:?}");
    base.replacen(from, to, 1)
}

fn refusal(kind: Kind, value: &str) -> Option<Refusal> {
    check(kind, value.as_bytes()).err()
}

#[test]
fn well_formed_headers_are_accepted() {
    for (kind, value) in [(Kind::Dkim, DKIM), (Kind::Ams, AMS), (Kind::Seal, SEAL)] {
        assert_eq!(refusal(kind, value), None, "{kind:?}");
    }
    // ed25519-sha256 (RFC 8463), upper-case algorithm (ABNF strings are
    // case-insensitive), a final ";" with trailing FWS, unknown tags, FWS
    // around "=", a folded b= value, v= in an AMS (ignored).
    for (kind, value) in [
        (Kind::Dkim, with(DKIM, "a=rsa-sha256", "a=ed25519-sha256")),
        (Kind::Dkim, with(DKIM, "a=rsa-sha256", "a=RSA-SHA256")),
        (Kind::Dkim, with(DKIM, "b=ZGVm\r\n", "b=ZGVm; \r\n")),
        (
            Kind::Dkim,
            with(DKIM, "s=sel;", "s=sel; zz=unknown; x_1=2;"),
        ),
        (
            Kind::Dkim,
            with(DKIM, "d=example.com", "d \r\n\t= example.com"),
        ),
        (Kind::Dkim, with(DKIM, "b=ZGVm", "b=ZG\r\n\tVm")),
        (Kind::Ams, with(AMS, "i=1;", "i=1; v=1;")),
        (Kind::Seal, with(SEAL, "i=1;", "i=50;")),
    ] {
        assert_eq!(refusal(kind, &value), None, "{value:?}");
    }
}

#[test]
fn rsa_sha1_is_weak_for_every_kind() {
    for (kind, value) in [(Kind::Dkim, DKIM), (Kind::Ams, AMS), (Kind::Seal, SEAL)] {
        for alg in ["rsa-sha1", "RSA-SHA1"] {
            let r = refusal(kind, &with(value, "rsa-sha256", alg));
            assert_eq!(r, Some(Refusal::WeakAlgorithm), "{kind:?} {alg}");
            assert!(r.unwrap().is_weak());
        }
    }
    assert!(Refusal::WeakAlgorithm.to_string().contains("RFC 8301"));
}

#[test]
fn missing_or_unknown_algorithm_is_invalid() {
    for (kind, value) in [(Kind::Dkim, DKIM), (Kind::Ams, AMS), (Kind::Seal, SEAL)] {
        let r = refusal(kind, &with(value, "a=rsa-sha256; ", ""));
        assert_eq!(r, Some(Refusal::MissingTag("a")), "{kind:?}");
        assert!(!r.unwrap().is_weak());
        for alg in ["", "rsa-sha512", "rsa-sha256x"] {
            let r = refusal(kind, &with(value, "rsa-sha256", alg));
            assert_eq!(r, Some(Refusal::UnknownAlgorithm), "{kind:?} a={alg}");
        }
    }
}

#[test]
fn required_tags_per_kind() {
    for (kind, value, tags) in [
        (
            Kind::Dkim,
            DKIM,
            &[
                "v=1; ",
                "d=example.com; ",
                "s=sel;",
                "h=from:to:subject; ",
                "bh=YWJj; ",
            ][..],
        ),
        (
            Kind::Ams,
            AMS,
            &["i=1; ", "d=example.org; ", "s=dummy; ", "bh=YWJj; "][..],
        ),
        (
            Kind::Seal,
            SEAL,
            &["i=1; ", "cv=none; ", "d=example.org; ", "s=dummy; "][..],
        ),
    ] {
        for tag in tags {
            let name = tag.split('=').next().unwrap();
            let r = refusal(kind, &with(value, tag, ""));
            assert_eq!(
                r,
                Some(Refusal::MissingTag(name)),
                "{kind:?} without {name}"
            );
        }
    }
}

#[test]
fn tag_list_syntax_errors() {
    let cases = [
        (
            "duplicate tag",
            with(DKIM, "s=sel;", "s=sel; s=sel;"),
            "appears twice",
        ),
        (
            "duplicate, other value",
            with(SEAL, "s=dummy;", "s=dummy; s=other;"),
            "appears twice",
        ),
        (
            "empty tag-spec",
            with(DKIM, "s=sel;", "s=sel;;"),
            "empty tag-spec",
        ),
        (
            "blank tag-spec",
            with(SEAL, "s=dummy;", "s=dummy; ;"),
            "empty tag-spec",
        ),
        ("leading ;", format!(";{SEAL}"), "empty tag-spec"),
        (
            "name starts with _",
            with(SEAL, "t=12345", "_=12345"),
            "invalid tag name",
        ),
        (
            "name starts with digit",
            with(DKIM, "t=1700000000", "1t=1"),
            "invalid tag name",
        ),
        (
            "space inside name",
            with(DKIM, "bh=", "b h="),
            "invalid tag name",
        ),
        ("no =", with(DKIM, "s=sel;", "s=sel; junk;"), "without"),
        (
            "control octet",
            with(DKIM, "d=example.com", "d=exa\u{1}mple.com"),
            "invalid character",
        ),
        ("empty value", String::new(), "empty tag-spec"),
    ];
    for (what, value, want) in cases {
        for kind in [Kind::Dkim, Kind::Ams, Kind::Seal] {
            let r = refusal(kind, &value);
            let Some(Refusal::Syntax(why)) = &r else {
                panic!("{what} ({kind:?}): {r:?}");
            };
            assert!(why.contains(want), "{what}: {why}");
            assert!(!r.unwrap().is_weak());
        }
    }
    assert_eq!(
        TagList::parse(b"\xff=1").unwrap_err(),
        Refusal::Syntax("the tag-list is not ASCII or UTF-8 (RFC 6376 section 3.2)".into())
    );
}

#[test]
fn tag_names_are_case_sensitive() {
    // `S=` is an unknown tag, so s= is missing (mail-auth reads it as s=).
    assert_eq!(
        refusal(Kind::Seal, &with(SEAL, "s=dummy", "S=dummy")),
        Some(Refusal::MissingTag("s"))
    );
    let tags = TagList::parse(b"A=1; a=2").unwrap();
    assert_eq!((tags.get("a"), tags.get("A")), (Some("2"), Some("1")));
}

#[test]
fn tag_values_are_checked_where_mail_auth_is_lenient() {
    let cases = [
        (Kind::Dkim, with(DKIM, "v=1", "v=2"), "v= is not 1"),
        (
            Kind::Dkim,
            with(DKIM, "t=1700000000", "t=1 700000000"),
            "t= is not a number",
        ),
        (
            Kind::Dkim,
            with(DKIM, "t=1700000000", "t=1700000000; x=soon"),
            "x= is not a number",
        ),
        (
            Kind::Dkim,
            with(DKIM, "t=1700000000", "t=1700000000; l=-1"),
            "l= is not a number",
        ),
        (
            Kind::Seal,
            with(SEAL, "t=12345", "t=12 345"),
            "t= is not a number",
        ),
        (
            Kind::Dkim,
            with(DKIM, "c=relaxed/relaxed", "c=relaxed/fancy"),
            "invalid c=",
        ),
        (Kind::Ams, with(AMS, "i=1", "i=0"), "i= is not an instance"),
        (Kind::Ams, with(AMS, "i=1", "i=51"), "i= is not an instance"),
        (
            Kind::Seal,
            with(SEAL, "i=1", "i=01x"),
            "i= is not an instance",
        ),
        (
            Kind::Seal,
            with(SEAL, "cv=none;", "cv=none; h=from;"),
            "ARC-Seal with h=",
        ),
        (
            Kind::Dkim,
            with(DKIM, "h=from:to:subject", "h="),
            "invalid h= list",
        ),
        (
            Kind::Dkim,
            with(DKIM, "h=from:to:subject", "h= : "),
            "invalid h= list",
        ),
        (
            Kind::Dkim,
            with(DKIM, "h=from:to", "h=from:t o"),
            "invalid h= list",
        ),
        (
            Kind::Ams,
            with(AMS, "h=from:to", "h=from:tö"),
            "invalid h= list",
        ),
    ];
    for (kind, value, want) in cases {
        match refusal(kind, &value) {
            Some(Refusal::Syntax(why)) => assert!(why.contains(want), "{value}: {why}"),
            other => panic!("{value}: {other:?}"),
        }
    }
}

#[test]
fn signed_header_rules() {
    // DKIM must sign From (RFC 6376 §6.1.1); case and FWS do not matter.
    let r = refusal(Kind::Dkim, &with(DKIM, "h=from:to:subject", "h=to:subject"));
    assert!(
        matches!(&r, Some(Refusal::Syntax(w)) if w.contains("From is not signed")),
        "{r:?}"
    );
    let ok = with(DKIM, "h=from:to:subject", "h=To : FROM\r\n\t: subject");
    assert_eq!(refusal(Kind::Dkim, &ok), None);
    // An empty entry names no header and is let through.
    let empty = with(DKIM, "h=from:to:subject", "h=from::to:");
    assert_eq!(refusal(Kind::Dkim, &empty), None);
    // An AMS must not sign ARC-Seal (RFC 8617 §4.1.2), in any case.
    for h in ["from:arc-seal:to", "from:to:ARC-Seal", "from : Arc-Seal"] {
        let r = refusal(Kind::Ams, &with(AMS, "from:to:date:subject", h));
        assert!(
            matches!(&r, Some(Refusal::Syntax(w)) if w.contains("h= lists ARC-Seal")),
            "{h}: {r:?}"
        );
    }
    // ... but it may sign other ARC headers, and DKIM may sign ARC-Seal.
    let ams = with(AMS, "from:to", "from:arc-message-signature:to");
    assert_eq!(refusal(Kind::Ams, &ams), None);
    let dkim = with(DKIM, "from:to", "from:arc-seal:to");
    assert_eq!(refusal(Kind::Dkim, &dkim), None);
}

#[test]
fn loose_reading_is_for_display_only() {
    let v = b"v=1; d=Example.COM; d=other; s = sel ; b=ab\r\n cd; ;";
    assert!(TagList::parse(v).is_err());
    assert_eq!(loose(v, "d").as_deref(), Some("Example.COM"));
    assert_eq!(loose(v, "s").as_deref(), Some("sel"));
    assert_eq!(loose(v, "b").as_deref(), Some("abcd"));
    assert_eq!(loose(v, "i"), None);
}
