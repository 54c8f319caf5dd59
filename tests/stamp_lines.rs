//! Property test of the milter↔sensor contract (issue 17): for random HELO,
//! MAIL FROM and DKIM tag values up to 4,000 octets, the milter's
//! `X-Agari-Authentication-Results` and `Authentication-Results` never have
//! a line over 998 octets, and after a simulated transport that breaks
//! lines at 998 (Postfix's `smtp_line_length_limit`, CRLF + space) and
//! unfolds them, the sensor reads back the same results.

use authsense::auth::{
    ArcCheck, DkimCheck, DmarcPolicy, DmarcResult, DmarcVerdict, IprevCheck, MessageChecks,
    Outcome, SpfCheck, SpfResult, SpfVerdict,
};
use authsense::config::Method;
use authsense::headers::stamp::{longest_line, MAX_LINE, MAX_PVALUE};
use authsense::ingest::trust::select;
use authsense::milter::stamp::{Results, AUTH_RESULTS, X_AGARI};
use authsense::model::AuthSource;
use proptest::prelude::*;

const ID: &str = "mx.example.test";

/// What a hostile SMTP client can put in a HELO or MAIL FROM, or a
/// signer in a DKIM tag: printable ASCII with the header specials, spaces
/// and some UTF-8, up to 4,000 octets.
fn hostile(max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            8 => proptest::char::range('!', '~'),
            1 => Just(' '),
            1 => prop_oneof![Just('é'), Just('Ж'), Just('😀')],
        ],
        0..max,
    )
    .prop_map(|v| v.into_iter().collect())
}

fn outcome() -> impl Strategy<Value = Outcome> {
    prop_oneof![
        Just(Outcome::Pass),
        Just(Outcome::Fail),
        Just(Outcome::None),
        Just(Outcome::Neutral),
        Just(Outcome::PermError),
        Just(Outcome::TempError),
    ]
}

/// The wire: LF folds become CRLF, and any line over 998 octets is broken
/// with CRLF + space as Postfix's SMTP client does.
fn transport(name: &str, value: &str) -> String {
    let wire = format!("{name}:{value}").replace('\n', "\r\n");
    let mut out = String::new();
    for (i, line) in wire.split("\r\n").enumerate() {
        if i > 0 {
            out.push_str("\r\n");
        }
        let mut col = 0;
        for c in line.chars() {
            if col + c.len_utf8() > MAX_LINE {
                out.push_str("\r\n ");
                col = 1;
            }
            out.push(c);
            col += c.len_utf8();
        }
    }
    out
}

/// The header as the sensor gets it: `(name, value)` split at the colon.
fn received(wire: &str) -> (String, String) {
    let (n, v) = wire.split_once(':').expect("a colon");
    (n.to_string(), v.to_string())
}

fn verdict(helo: &str, mail_from: &str) -> SpfVerdict {
    let check = |result, identity: &str| SpfCheck {
        result,
        identity: identity.to_string(),
        explanation: None,
    };
    SpfVerdict {
        helo: check(SpfResult::Fail, &format!("postmaster@{helo}")),
        mail_from: check(SpfResult::Fail, mail_from),
        timed_out: false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, .. ProptestConfig::default() })]

    #[test]
    fn stamps_fit_the_line_limit_and_read_back_the_same(
        helo in hostile(1200),
        local in hostile(4000),
        tags in proptest::collection::vec((hostile(4000), hostile(300), hostile(4000), outcome()), 0..3),
        reason in hostile(500),
    ) {
        let spf = verdict(&helo, &format!("{local}@sender.example"));
        let dkim = tags.iter().map(|(d, s, i, r)| DkimCheck {
            result: *r,
            reason: (*r != Outcome::Pass).then(|| reason.clone()),
            domain: d.clone(),
            selector: s.clone(),
            identity: Some(i.clone()),
            b_prefix: "AbCdEfGh".into(),
        }).collect();
        let checks = MessageChecks {
            dkim,
            arc: ArcCheck { result: Outcome::Fail, reason: None },
            iprev: IprevCheck { result: Outcome::Fail, ptr: None },
            authors: Default::default(),
        };
        let dmarc = DmarcVerdict {
            result: DmarcResult::Fail,
            from_domain: "bank.example".into(),
            policy: Some(DmarcPolicy::Reject),
            applied_policy: Some(DmarcPolicy::Reject),
            spf_aligned: false,
            dkim_aligned: false,
            record_domain: Some("bank.example".into()),
        };
        let r = Results { helo: &helo, ip: [192, 0, 2, 7].into(), spf: &spf, checks: Some(&checks), dmarc: Some(&dmarc) };
        let all = [Method::Spf, Method::Dkim, Method::Dmarc, Method::Arc, Method::Iprev];
        for (name, value) in [(X_AGARI, r.x_agari(ID, &all)), (AUTH_RESULTS, r.authentication_results(ID))] {
            // The milter inserts `name: value` with the value after a space.
            let value = format!(" {value}");
            prop_assert!(longest_line(name, &value) <= MAX_LINE, "{name} has a line of {}", longest_line(name, &value));
            let wire = transport(name, &value);
            prop_assert_eq!(&wire, &format!("{name}:{value}").replace('\n', "\r\n"), "the transport had to break a line");
            let info = select(&[received(&wire)], &[ID.to_string()]);
            prop_assert_ne!(info.source, AuthSource::Tampered, "{:?}", info.tamper);
            prop_assert_eq!(info.spf.as_ref().map(|m| m.result.as_str()), Some("fail"));
            prop_assert_eq!(info.dmarc.as_ref().map(|m| m.result.as_str()), Some("fail"));
            prop_assert_eq!(info.arc.as_ref().map(|m| m.result.as_str()), Some("fail"));
            let want: Vec<&str> = tags.iter().map(|t| t.3.as_str()).collect();
            let got: Vec<&str> = info.dkim.iter().map(|m| m.result.as_str()).collect();
            if tags.is_empty() {
                prop_assert_eq!(got, vec!["none"]);
            } else {
                prop_assert_eq!(got, want);
            }
            // A value within the cap is carried; an absurd one is left out.
            let mf = info.spf.as_ref().unwrap().props.iter().find(|(k, _)| k == "smtp.mailfrom").is_some();
            prop_assert_eq!(mf, local.len() + "@sender.example".len() <= MAX_PVALUE);
        }
    }
}

#[test]
fn the_transport_model_breaks_long_lines() {
    // The model itself: a 1,100-octet line is broken once, and a header
    // whose id straddles column 998 comes out as id + fold + rest.
    let pad = "a".repeat(MAX_LINE - AUTH_RESULTS.len() - 1 - 4 - ID.len());
    let value = format!(" ({pad}) {ID}x; spf=pass");
    let wire = transport(AUTH_RESULTS, &value);
    assert!(
        wire.contains(&format!("{ID}\r\n x;")),
        "{}",
        &wire[wire.len() - 40..]
    );
    let info = select(&[received(&wire)], &[ID.to_string()]);
    assert_eq!(info.source, AuthSource::Tampered);
}
