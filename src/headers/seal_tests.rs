//! Tests of the seal: it verifies over the same message whatever the hops
//! do to white space, and fails for any other message, stamp, key or time.

use super::*;

const NOW: u64 = 1_800_000_000;
const DAY: u64 = 86_400;
const XA: &str = "mx.example.test; spf=fail smtp.mailfrom=a@evil.example smtp.helo=h.evil.example";
const AR: &str =
    "mx.example.test; spf=fail smtp.mailfrom=a@evil.example; dmarc=fail header.from=bank.example";

fn keys() -> Keys {
    Keys::new(vec![vec![7u8; 32]]).unwrap()
}

fn message(subject: &str, body: &[&[u8]]) -> Sealed {
    let mut s = Sealed::default();
    s.header("From", b" CEO <ceo@bank.example>");
    s.header("Received", b" from x by y");
    s.header("Subject", subject.as_bytes());
    s.header("To", b" a@corp.example");
    for chunk in body {
        s.body(chunk);
    }
    s
}

fn sealed() -> String {
    message(" Pay now", &[b"Click https://bank.example/\r\n"]).seal(&keys(), XA, Some(AR), NOW)
}

#[test]
fn verifies_the_same_message_through_hops_that_fold_and_break_lines() {
    let seal = sealed();
    assert!(seal.starts_with("v=1; k="), "{seal}");
    assert!(seal.contains("h=from:to:subject;"), "{seal}");
    // The hops: a long line broken with CRLF + space, LF instead of CRLF,
    // the stamps folded differently, the body delivered in other chunks.
    let there = message(
        " Pay\r\n  now",
        &[b"Click https://ba", b"nk.ex\r\n ample/\n"],
    );
    let xa_folded = XA.replace(" smtp.helo", "\r\n\tsmtp.helo");
    assert_eq!(
        there.verify(&seal, &keys(), &xa_folded, Some(AR), NOW + DAY, 10 * DAY),
        Ok(true)
    );
}

#[test]
fn any_visible_change_breaks_it() {
    let seal = sealed();
    let check =
        |m: &Sealed, xa: &str, ar: Option<&str>| m.verify(&seal, &keys(), xa, ar, NOW, 10 * DAY);
    let same = || message(" Pay now", &[b"Click https://bank.example/\r\n"]);
    assert!(check(&same(), XA, Some(AR)).is_ok());
    // Another body (the phishing link changed).
    let other_body = message(" Pay now", &[b"Click https://evil.example/\r\n"]);
    assert!(check(&other_body, XA, Some(AR)).is_err());
    // Another subject.
    assert!(check(
        &message(" Pay later", &[b"Click https://bank.example/\r\n"]),
        XA,
        Some(AR)
    )
    .is_err());
    // The stamp edited to pass.
    let pass = XA.replace("spf=fail", "spf=pass");
    assert!(check(&same(), &pass, Some(AR)).is_err());
    assert!(check(&same(), XA, Some(&AR.replace("dmarc=fail", "dmarc=pass"))).is_err());
    // The sealed AR removed.
    assert!(check(&same(), XA, None).is_err());
    // A bound field added after sealing (a second From, a Reply-To).
    let mut more = same();
    more.header("Reply-To", b" thief@evil.example");
    assert!(check(&more, XA, Some(AR)).is_err());
    let mut two_from = same();
    two_from.header("from", b" other@bank.example");
    assert!(check(&two_from, XA, Some(AR)).is_err());
}

#[test]
fn wrong_key_old_seal_and_malformed_seals_fail() {
    let seal = sealed();
    let m = message(" Pay now", &[b"Click https://bank.example/\r\n"]);
    let other = Keys::new(vec![vec![8u8; 32]]).unwrap();
    assert!(m
        .verify(&seal, &other, XA, Some(AR), NOW, 10 * DAY)
        .unwrap_err()
        .contains("not one of ours"));
    // Rotation: a key set that holds the old key second still verifies.
    let rotated = Keys::new(vec![vec![8u8; 32], vec![7u8; 32]]).unwrap();
    assert!(m
        .verify(&seal, &rotated, XA, Some(AR), NOW, 10 * DAY)
        .is_ok());
    assert!(m
        .verify(&seal, &keys(), XA, Some(AR), NOW + 11 * DAY, 10 * DAY)
        .is_err());
    assert!(m
        .verify(&seal, &keys(), XA, Some(AR), NOW - 2 * 3600, 10 * DAY)
        .is_err());
    for bad in [
        "",
        "v=2; k=1; t=1; c=x; h=; s=00",
        &seal.replace("c=x:a", "c=y"),
        &seal.replace("; s=", "; s=zz"),
        &format!("{seal}; t=1"),
    ] {
        assert!(
            m.verify(bad, &keys(), XA, Some(AR), NOW, 10 * DAY).is_err(),
            "{bad:?}"
        );
    }
}

#[test]
fn key_files_parse_and_short_keys_are_refused() {
    let text = Keys::generate().unwrap();
    let k = Keys::parse(&text).unwrap();
    assert_eq!(k.0.len(), 1);
    assert_eq!(k.0[0].len(), 32);
    assert!(Keys::parse("# only a comment\n").is_err());
    assert!(Keys::parse("abcd\n").unwrap_err().contains("at least 32"));
    assert!(Keys::parse("xyz\n").unwrap_err().contains("line 1"));
    assert_ne!(Keys::generate().unwrap(), text, "two keys are not the same");
}

#[test]
fn a_line_broken_inside_a_utf8_character_still_verifies() {
    // Postfix breaks at octet 998 whatever is there: here between the two
    // octets of `é`, which no decoder can read before the break is removed.
    let subject = " Facture réglée";
    let keys = keys();
    let seal = message(subject, &[b"x\r\n"]).seal(&keys, XA, None, NOW);
    let mut broken = Sealed::default();
    broken.header("From", b" CEO <ceo@bank.example>");
    broken.header("Subject", b" Facture r\xc3\r\n \xa9gl\xc3\xa9e");
    broken.header("To", b" a@corp.example");
    broken.body(b"x\r\n");
    assert_eq!(broken.verify(&seal, &keys, XA, None, NOW, DAY), Ok(false));
}

#[test]
fn moving_a_line_end_is_a_visible_change() {
    // A quoted-printable soft break and its removal differ only in white
    // space, yet decode differently (`12=\r\n34` is 1234, `12=34` is 12 and
    // octet 0x34): the seal tells them apart.
    let keys = keys();
    let seal = message(" s", &[b"Amount: 12=\r\n34\r\n"]).seal(&keys, XA, None, NOW);
    let moved = message(" s", &[b"Amount: 12=34\r\n"]);
    assert!(moved.verify(&seal, &keys, XA, None, NOW, DAY).is_err());
    let spaced = message(" s", &[b"Amount: 12=\r\n 34\r\n"]);
    assert!(spaced.verify(&seal, &keys, XA, None, NOW, DAY).is_err());
    let same = message(" s", &[b"Amount: 12=\r", b"\n34\r\n"]);
    assert!(same.verify(&seal, &keys, XA, None, NOW, DAY).is_ok());
}
