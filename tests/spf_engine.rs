//! authsense's SPF evaluation beyond the OpenSPF suite, through
//! `Authenticator::check_spf` against the in-process DNS server: a MAIL FROM
//! local part that is not RFC 5321 syntax (over 64 octets, as long VERP
//! addresses are, or with an unquoted space) still gets its domain's real
//! result, never `none`; `%{l}` expands it as given; a `/0` CIDR length
//! matches every client.

mod common;

use authsense::auth::{Authenticator, SpfRequest, SpfResult};
use common::{config_for, dns::FakeDns, dns::Rec, spf_zone, CLIENT4};
use std::time::Duration;

async fn mail_from(auth: &Authenticator, ip: [u8; 4], from: &str) -> (SpfResult, Option<String>) {
    let req = SpfRequest {
        ip: ip.into(),
        helo: "mail.pass.example",
        mail_from: from,
        receiver: "mx.example.com",
    };
    let check = auth.check_spf(&req, Duration::from_secs(5)).await.mail_from;
    assert_eq!(check.identity, from);
    (check.result, check.explanation)
}

#[tokio::test]
async fn any_local_part_gets_the_domain_result() {
    let mut zone = spf_zone();
    zone.add(
        "lp.example",
        Rec::txt("v=spf1 exists:%{l}.u.lp.example -all"),
    )
    .add("joe.u.lp.example", Rec::A([127, 0, 0, 2].into()))
    .add("joe smith.u.lp.example", Rec::A([127, 0, 0, 2].into()))
    .add("zero.example", Rec::txt("v=spf1 -ip4:203.0.113.1/0 +all"));
    let dns = FakeDns::start(zone).await;
    let auth = Authenticator::new(&config_for(&dns).dns).unwrap();
    let long = "v".repeat(1000);
    for local in ["user", "joe smith", long.as_str(), &"b".repeat(65)] {
        let (result, exp) = mail_from(&auth, CLIENT4, &format!("{local}@fail.example")).await;
        assert_eq!(result, SpfResult::Fail, "{local}");
        assert_eq!(
            exp.as_deref(),
            Some("192.0.2.10 is not one of fail.example's designated mail servers")
        );
        let (result, _) = mail_from(&auth, CLIENT4, &format!("{local}@pass.example")).await;
        assert_eq!(result, SpfResult::Pass, "{local}");
    }
    for (local, want) in [
        ("joe", SpfResult::Pass),
        ("joe smith", SpfResult::Pass),
        ("ann", SpfResult::Fail),
        // A label over 63 octets is no name to query: no match (§4.8).
        (long.as_str(), SpfResult::Fail),
    ] {
        let (result, _) = mail_from(&auth, CLIENT4, &format!("{local}@lp.example")).await;
        assert_eq!(result, want, "%{{l}} = {local}");
    }
    for ip in [CLIENT4, [203, 0, 113, 1], [10, 1, 2, 3]] {
        let (result, _) = mail_from(&auth, ip, "a@zero.example").await;
        assert_eq!(result, SpfResult::Fail, "{ip:?} is in 0.0.0.0/0");
    }
}
