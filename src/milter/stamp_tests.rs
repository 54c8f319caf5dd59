//! Tests of the stamp: the guide's shape, left-out values, folding and
//! the deletion of forgeries.
use super::*;
use crate::auth::{SpfCheck, SpfResult};

fn verdict(mf: SpfResult, identity: &str) -> SpfVerdict {
    SpfVerdict {
        helo: SpfCheck {
            result: SpfResult::None,
            identity: "postmaster@h".into(),
            explanation: None,
        },
        mail_from: SpfCheck {
            result: mf,
            identity: identity.into(),
            explanation: None,
        },
        timed_out: false,
    }
}

#[test]
fn stamp_is_the_guides_shape() {
    let v = verdict(SpfResult::Pass, "user@example.org");
    let r = |helo, v| Results {
        helo,
        ip: [192, 0, 2, 1].into(),
        spf: v,
        checks: None,
        dmarc: None,
    };
    assert_eq!(
        r("mail.example.org", &v).x_agari("mx.example.com", &[Method::Spf]),
        "mx.example.com; spf=pass smtp.mailfrom=user@example.org smtp.helo=mail.example.org"
    );
    let v = verdict(SpfResult::None, "postmaster@[192.0.2.1]");
    assert_eq!(
        r("[192.0.2.1]", &v).x_agari("mx.example.com", &[Method::Spf]),
        "mx.example.com; spf=none smtp.mailfrom=\"postmaster@[192.0.2.1]\" smtp.helo=\"[192.0.2.1]\""
    );
}

#[test]
fn absurd_values_are_left_out_and_long_stamps_folded() {
    let helo = "h".repeat(1100);
    let v = verdict(
        SpfResult::Fail,
        &format!("{}@evil.example", "a".repeat(1000)),
    );
    let r = Results {
        helo: &helo,
        ip: [192, 0, 2, 1].into(),
        spf: &v,
        checks: None,
        dmarc: None,
    };
    let xa = r.x_agari("mx.example.com", &[Method::Spf]);
    assert_eq!(
        xa,
        "mx.example.com; spf=fail (omitted: smtp.mailfrom of 1013 octets, smtp.helo of 1100 octets)"
    );
    // Within the cap but together over 998: folded between elements.
    let helo = "h".repeat(250);
    let v = verdict(SpfResult::Pass, &format!("{}@x.example", "a".repeat(240)));
    let sig = |d: &str| crate::auth::DkimCheck {
        result: crate::auth::Outcome::Pass,
        reason: None,
        domain: d.repeat(250),
        selector: "s".into(),
        identity: None,
        b_prefix: String::new(),
    };
    let checks = MessageChecks {
        dkim: vec![sig("d"), sig("e")],
        arc: crate::auth::ArcCheck {
            result: crate::auth::Outcome::None,
            reason: None,
        },
        iprev: crate::auth::IprevCheck {
            result: crate::auth::Outcome::None,
            ptr: None,
        },
        authors: Default::default(),
    };
    let r = Results {
        helo: &helo,
        spf: &v,
        checks: Some(&checks),
        ..r
    };
    let ar = r.authentication_results("mx.example.com");
    assert!(ar.contains("\n\t"), "{ar}");
    let lines: Vec<usize> = ar.split('\n').map(str::len).collect();
    assert!(
        lines.iter().all(|&l| l + AUTH_RESULTS.len() + 2 <= 998),
        "{lines:?}"
    );
    assert_eq!(
        crate::headers::authres::parse_strict(&ar)
            .unwrap()
            .results
            .len(),
        7,
        "every result survives folding"
    );
}

#[test]
fn forged_headers_by_name_and_id() {
    let mut f = Forgeries::default();
    f.observe(
        "x-agari-authentication-results",
        "other.example; spf=pass",
        "mx.example.com",
    );
    f.observe(
        "Authentication-Results",
        "other.example; spf=pass",
        "mx.example.com",
    );
    f.observe(
        "Authentication-Results",
        "(c) \"MX.Example.COM\" ; spf=pass",
        "mx.example.com",
    );
    f.observe(
        "Authentication-Results",
        "mx.example.com/1; spf=pass",
        "mx.example.com",
    );
    f.observe(
        "X-Agari-Authentication-Results",
        "mx.example.com; spf=pass",
        "mx.example.com",
    );
    f.observe("Received", "from x", "mx.example.com");
    let got: Vec<_> = f.deletions().collect();
    assert_eq!(
        got,
        [
            (X_AGARI, 2),
            (X_AGARI, 1),
            (AUTH_RESULTS, 3),
            (AUTH_RESULTS, 2)
        ]
    );
}
