//! Tables of field values and the mailboxes (or the error) they give.

use super::{parse_address_list, AddressError, Mailbox};
use std::time::{Duration, Instant};

/// `(display name, address, lowercased domain)` of every mailbox.
fn parsed(value: &str) -> Vec<(Option<String>, String, String)> {
    parse_address_list(value)
        .unwrap_or_else(|e| panic!("{value:?}: {e}"))
        .into_iter()
        .map(|m| (m.display_name.clone(), m.address(), m.domain))
        .collect()
}

fn one(value: &str) -> Mailbox {
    let mut list = parse_address_list(value).unwrap_or_else(|e| panic!("{value:?}: {e}"));
    assert_eq!(list.len(), 1, "{value:?}: {list:?}");
    list.remove(0)
}

fn fails(value: &str) -> AddressError {
    match parse_address_list(value) {
        Ok(list) => panic!("{value:?} parsed as {list:?}"),
        Err(e) => e,
    }
}

#[test]
fn cfws_is_never_part_of_the_domain() {
    for value in [
        "a@example.com",
        "a@ example.com",
        "a @example.com",
        " a @ example.com ",
        "a@(comment)example.com",
        "a@example.com(comment)",
        "(c)a(c)@(c)example(c).(c)com(c)",
        "a@\r\n example.com",
        "a@example\t.\tcom",
        "a@((nested (comments)) here)example.com",
        "a@(quoted \\) paren)example.com",
        "<a@ example.com>",
        "< a@(x)example.com >",
        "Name <a@\r\n\texample.com>",
        "a@EXAMPLE.com",
    ] {
        let m = one(value);
        assert_eq!(m.domain, "example.com", "{value:?}");
        assert_eq!(m.local_part, "a", "{value:?}");
        assert!(!m.domain_as_written.contains([' ', '(', '\t', '\r']));
    }
    assert_eq!(one("a@ EXAMPLE.com").address(), "a@EXAMPLE.com");
}

#[test]
fn comments_in_every_position_of_a_name_addr() {
    let m = one(
        "(c1) John (c2) Smith (c3) < (c4) john (c5) @ (c6) example (c7) . (c8) com (c9) > (c10)",
    );
    assert_eq!(m.display_name.as_deref(), Some("John Smith"));
    assert_eq!(m.address(), "john@example.com");
    // A comment alone is not a display name.
    assert_eq!(one("(Just a comment) <a@example.com>").display_name, None);
    // Old-style trailing comment name.
    let m = one("a@example.com (Alice Example)");
    assert_eq!(
        (m.display_name.clone(), m.address()),
        (None, "a@example.com".into())
    );
}

#[test]
fn display_names() {
    let m = one("\"Smith, John\" <john@example.com>");
    assert_eq!(m.display_name.as_deref(), Some("Smith, John"));
    let m = one("\"quote \\\" and \\\\ slash\" <j@example.com>");
    assert_eq!(m.display_name.as_deref(), Some("quote \" and \\ slash"));
    // obs-phrase: a dot in an unquoted name.
    let m = one("John Q. Public <jqp@example.com>");
    assert_eq!(m.display_name.as_deref(), Some("John Q. Public"));
    // Encoded words stay raw here.
    let m = one("=?utf-8?q?J=C3=B6rg?= <j@example.de>");
    assert_eq!(m.display_name.as_deref(), Some("=?utf-8?q?J=C3=B6rg?="));
    // UTF-8 header (RFC 6532).
    let m = one("Jörg Müller <jörg@bücher.example>");
    assert_eq!(m.display_name.as_deref(), Some("Jörg Müller"));
    assert_eq!(m.domain, "bücher.example");
    // The leniency: an address in the display name is only a name.
    let m = one("ceo@bank.example <attacker@evil.example>");
    assert_eq!(m.display_name.as_deref(), Some("ceo@bank.example"));
    assert_eq!(m.domain, "evil.example");
    assert_eq!(one("\"\" <a@example.com>").display_name, None);
}

#[test]
fn several_addresses_and_groups() {
    assert_eq!(
        parsed("a@x.example, \"B\" <b@y.example>,c@z.example"),
        [
            (None, "a@x.example".into(), "x.example".into()),
            (Some("B".into()), "b@y.example".into(), "y.example".into()),
            (None, "c@z.example".into(), "z.example".into()),
        ]
    );
    // Empty groups give no mailbox but are a valid list.
    assert_eq!(parsed("undisclosed-recipients:;"), []);
    assert_eq!(parsed("undisclosed-recipients: (none) ;"), []);
    assert_eq!(
        parsed("g: a@x.example, B <b@y.example>;, c@z.example, empty:;"),
        [
            (None, "a@x.example".into(), "x.example".into()),
            (Some("B".into()), "b@y.example".into(), "y.example".into()),
            (None, "c@z.example".into(), "z.example".into()),
        ]
    );
    // obs-mbox-list: empty elements.
    assert_eq!(parsed(", a@x.example,, ,b@y.example,").len(), 2);
}

#[test]
fn none_at_all() {
    for value in ["", "   ", "\r\n ", "(only a comment)", ",", " , ,"] {
        assert_eq!(fails(value).problem, "no address", "{value:?}");
    }
}

#[test]
fn quoted_local_parts_and_literals() {
    let m = one("\"john doe\"@example.com");
    assert_eq!(m.local_part, "john doe");
    assert_eq!(m.address(), "\"john doe\"@example.com");
    let m = one("<\"a\\\"b\"@example.com>");
    assert_eq!(m.address(), "\"a\\\"b\"@example.com");
    // The quoted and unquoted forms are the same address (§3.4.1).
    assert_eq!(one("\"john\"@example.com").address(), "john@example.com");
    let m = one("postmaster@[192.0.2.1]");
    assert!(m.is_literal());
    assert_eq!(m.domain, "[192.0.2.1]");
    assert_eq!(one("a@[ IPv6:2001:DB8::1 ]").domain, "[ipv6:2001:db8::1]");
}

#[test]
fn obsolete_forms() {
    // obs-local-part and obs-domain: CFWS around the dots.
    let m = one("john . doe @ mail . example . com");
    assert_eq!(m.address(), "john.doe@mail.example.com");
    let m = one("\"john\".doe@example.com");
    assert_eq!(m.local_part, "john.doe");
    // obs-route, read and dropped.
    let m = one("Route <@relay1.example,@relay2.example:user@example.com>");
    assert_eq!(m.address(), "user@example.com");
    assert_eq!(one("<,@r.example,:u@example.com>").domain, "example.com");
}

#[test]
fn garbage_is_an_error_not_a_guess() {
    for (value, problem) in [
        (
            "Postmaster\\@example.com@xxx.com",
            "character not allowed outside quotes",
        ),
        ("a@b@example.com", "more than one '@' in an address"),
        (
            "a@example.com@evil.example",
            "more than one '@' in an address",
        ),
        ("John Smith", "address without '@'"),
        ("John Smith@example.com", "malformed local-part"),
        ("a@exa mple.com", "malformed domain"),
        ("a@example..com", "malformed domain"),
        ("a@example.com.", "malformed domain"),
        ("a@", "malformed domain"),
        ("@example.com", "malformed local-part"),
        ("a..b@example.com", "malformed local-part"),
        (
            "a@example.com b@example.net",
            "more than one '@' in an address",
        ),
        ("a@example.com net", "malformed domain"),
        (
            "g: a@x.example; b@y.example",
            "expected ',' between addresses",
        ),
        ("<>", "address without '@'"),
        ("<a@example.com", "expected '>'"),
        ("a@example.com>", "expected ',' between addresses"),
        (
            "Name <a@example.com> junk",
            "expected ',' between addresses",
        ),
        ("a@(unterminated example.com", "unterminated comment"),
        (
            "\"unterminated <a@example.com>",
            "unterminated quoted-string",
        ),
        ("a@[192.0.2.1", "unterminated domain-literal"),
        ("a@ex\0ample.com", "NUL octet"),
        ("a@ex\x07ample.com", "control character"),
        ("g: a@x.example", "group without its closing ';'"),
        ("g: h: a@x.example;;", "group inside a group"),
        (": a@x.example;", "group without a name"),
        ("a@x.example;", "expected ',' between addresses"),
        ("[x] <a@example.com>", "not allowed in a display name"),
        ("<@relay a@example.com>", "malformed domain in a route"),
        ("<relay: a@example.com>", "expected '>'"),
        (
            "<@relay.example;a@example.com>",
            "malformed route before the address",
        ),
    ] {
        assert_eq!(fails(value).problem, problem, "{value:?}");
    }
    // The offset points at the problem.
    assert_eq!(fails("a@b@example.com").offset, 3);
    assert_eq!(fails("a@ex\0ample.com").to_string(), "NUL octet at octet 4");
}

#[test]
fn hostile_sizes_are_linear() {
    let t = Instant::now();
    let deep = format!("a@{}example.com", "(".repeat(500_000));
    assert_eq!(fails(&deep).problem, "unterminated comment");
    let nested = format!(
        "a@{}{}example.com",
        "(".repeat(200_000),
        ")".repeat(200_000)
    );
    assert_eq!(one(&nested).domain, "example.com");
    let many = vec!["a@x.example"; 50_000].join(",");
    assert_eq!(parse_address_list(&many).map(|l| l.len()), Ok(50_000));
    let long_quote = format!("\"{}", "\\\"".repeat(300_000));
    assert_eq!(fails(&long_quote).problem, "unterminated quoted-string");
    let dots = format!("a@{}", "x.".repeat(300_000));
    assert_eq!(fails(&dots).problem, "malformed domain");
    let ats = "@".repeat(500_000);
    assert_eq!(fails(&ats).problem, "more than one '@' in an address");
    // Quadratic work on these inputs would take hours, linear work well
    // under a second even in a debug build on a shared machine.
    assert!(t.elapsed() < Duration::from_secs(20), "{:?}", t.elapsed());
}
