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
