//! `[sensor] sealed_gateways`: a copy delivered by a perimeter where our
//! milter stamps is believed only with our seal, whatever trusted
//! authserv-id its stamp claims. Without it, a stamp of a trusted gateway
//! that cannot seal, forged by an outsider and sent through our perimeter
//! while its milter is down, was believed (postfix-test/e2e-forgery, case
//! forged-unsealed-gateway in the milter-down phases).

use authsense::headers::seal::{Keys, Sealed};
use authsense::ingest::extract::{extract, Envelope, ExtractOptions};
use authsense::model::{AuthSource, Gateway, Record};
use authsense::sensor::extract_options_for;
use ipnet::IpNet;
use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const MX: &str = "mx.example.com";
const PP: &str = "pp.example.com";
const OURS: &str = "192.0.2.25";
const THEIRS: &str = "198.51.100.7";
const FORGED: &str = "Received: from mail.evil.example (mail.evil.example [203.0.113.9])\r\n\
    \tby perimeter.example.com (Postfix); Thu, 27 Nov 2025 12:00:00 +0000\r\n\
    Authentication-Results: pp.example.com; spf=pass smtp.mailfrom=ceo@bank.example;\r\n \
    dmarc=pass header.from=bank.example\r\n\
    From: CEO <ceo@bank.example>\r\nSubject: wire the money\r\n\r\nToday.\r\n";

fn keys() -> Keys {
    Keys::new(vec![vec![7u8; 32]]).unwrap()
}

fn opts() -> ExtractOptions {
    ExtractOptions {
        trusted_authserv_ids: vec![MX.into(), PP.into()],
        sealed_authserv_ids: vec![MX.into()],
        seal_keys: Some(keys()),
        ..ExtractOptions::default()
    }
}

fn gateways() -> Vec<IpNet> {
    vec![format!("{OURS}/32").parse().unwrap()]
}

/// The copy `raw` as delivered by `ip`, read with the options for `ip`.
fn read(raw: &[u8], ip: &str, at: SystemTime) -> Record {
    let addr: IpAddr = ip.parse().unwrap();
    let env = Envelope {
        uid: "u-1".into(),
        received_at: at,
        gateway: Gateway {
            ip: ip.into(),
            ..Gateway::default()
        },
        mailfrom: "blackhole@example.com".into(),
        rcptto: vec!["bob@example.com".into()],
    };
    extract(raw, env, &extract_options_for(&opts(), &gateways(), addr))
}

#[test]
fn a_stamp_of_an_unsealed_id_from_a_sealed_gateway_is_tampered() {
    let r = read(FORGED.as_bytes(), OURS, SystemTime::now());
    assert_eq!(r.auth.source, AuthSource::Tampered, "{:?}", r.auth);
    assert_eq!(r.auth.spf.as_ref().unwrap().result, "unknown");
    assert_eq!(r.auth.dmarc.as_ref().unwrap().result, "unknown");
    assert!(
        r.auth.tamper.as_deref().unwrap().contains(PP),
        "{:?}",
        r.auth.tamper
    );
    // From the gateway that cannot seal, its stamp is believed as before.
    let r = read(FORGED.as_bytes(), THEIRS, SystemTime::now());
    assert_eq!(r.auth.source, AuthSource::AuthenticationResults);
    assert_eq!(r.auth.spf.as_ref().unwrap().result, "pass");
    assert!(!r.auth.sealed);
    // A peer address written IPv4-mapped is the same gateway.
    let mapped: IpAddr = format!("::ffff:{OURS}").parse().unwrap();
    let o = extract_options_for(&opts(), &gateways(), mapped);
    assert_eq!(o.sealed_authserv_ids, [MX, PP]);
    let o = extract_options_for(&opts(), &[], OURS.parse().unwrap());
    assert_eq!(o.sealed_authserv_ids, [MX]);
}

#[test]
fn our_sealed_stamp_from_a_sealed_gateway_is_believed() {
    let xa = "mx.example.com; spf=fail smtp.mailfrom=a@evil.example smtp.helo=h.evil.example";
    let (from, subject, body) = (" CEO <ceo@bank.example>", " wire the money", "Today.\r\n");
    let at = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let mut s = Sealed::default();
    s.header("From", from.as_bytes());
    s.header("Subject", subject.as_bytes());
    s.body(body.as_bytes());
    let seal = s.seal(&keys(), xa, None, 1_800_000_000);
    let raw = format!(
        "X-Authsense-Seal: {seal}\r\nX-Agari-Authentication-Results: {xa}\r\n\
         Received: from h.evil.example (h.evil.example [203.0.113.9])\r\n\
         \tby perimeter.example.com (Postfix); Thu, 27 Nov 2025 12:00:00 +0000\r\n\
         Authentication-Results: pp.example.com; spf=pass smtp.mailfrom=ceo@bank.example\r\n\
         From:{from}\r\nSubject:{subject}\r\n\r\n{body}"
    );
    let r = read(raw.as_bytes(), OURS, at);
    assert_eq!(r.auth.source, AuthSource::XAgari, "{:?}", r.auth);
    assert!(r.auth.sealed);
    assert_eq!(r.auth.spf.as_ref().unwrap().result, "fail");
    // The forged header of the unsealed id below the perimeter's trace
    // is left out, as before.
    assert!(
        r.auth.conflicts.iter().any(|c| c.contains(PP)),
        "{:?}",
        r.auth.conflicts
    );
}
