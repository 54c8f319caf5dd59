//! DMARC with unusual and several authors (RFC 7489 §6.6.1, issue 17 class
//! 5), through the milter protocol and at the evaluator: CFWS in the From
//! domain is not part of it (`a@ bank.example` fails under the bank's
//! `p=reject` instead of escaping as `none`), two From fields or several
//! addresses give the strictest result, and no usable From is `permerror`.

mod common;

use authsense::auth::{
    Authenticator, Authors, DmarcInput, DmarcPolicy, DmarcResult, SpfResult, MAX_AUTHOR_DOMAINS,
};
use authsense::config::Method;
use common::{config_for, dns::FakeDns, dns::Rec, dns::Zone, spf_zone, TestMilter};
use indymilter_test::{EomAction, MacroStage, ProtoOpts};
use std::time::Duration;

const XA: &str = "X-Agari-Authentication-Results";
const AR: &str = "Authentication-Results";

/// The SPF zone (MAIL FROM alice@pass.example passes from 192.0.2.10) and
/// a DMARC record for each policy.
fn zone() -> Zone {
    let mut z = spf_zone();
    z.add("_dmarc.pass.example", Rec::txt("v=DMARC1; p=reject"))
        .add("_dmarc.bank.example", Rec::txt("v=DMARC1; p=reject"))
        .add("_dmarc.q.example", Rec::txt("v=DMARC1; p=quarantine"))
        .add("_dmarc.mon.example", Rec::txt("v=DMARC1; p=none"));
    z.timeout.insert("_dmarc.slow.example".into());
    z
}

/// The `dmarc=` results of the X-Agari and Authentication-Results headers
/// the milter inserts for a message with these `From:` values.
async fn dmarc_for(milter: &TestMilter, from: &[&str]) -> (String, String) {
    let mut conn = milter.open().await;
    conn.connect("client.example", ([192, 0, 2, 10], 4000))
        .await
        .unwrap();
    conn.helo("mail.pass.example").await.unwrap();
    conn.macros(MacroStage::Mail, [("i", "Q1")]).await.unwrap();
    conn.mail(["<alice@pass.example>"]).await.unwrap();
    common::rcpt_data(&mut conn, "<bob@example.net>").await;
    for value in from {
        conn.header("From", *value).await.unwrap();
    }
    conn.header("Subject", "authors").await.unwrap();
    if !conn.negotiated_opts().contains(ProtoOpts::NO_EOH) {
        conn.eoh().await.unwrap();
    }
    conn.body("Hello.\r\n").await.unwrap();
    let (actions, _) = conn.eom().await.unwrap();
    let dmarc_of = |want: &str| {
        let value = actions
            .actions
            .iter()
            .find_map(|a| match a {
                EomAction::InsertHeader { name, value, .. }
                    if name.to_bytes() == want.as_bytes() =>
                {
                    Some(value.to_str().unwrap().trim().to_string())
                }
                _ => None,
            })
            .unwrap_or_else(|| panic!("no {want}: {actions:?}"));
        value
            .split("; ")
            .find(|p| p.starts_with("dmarc="))
            .unwrap_or_else(|| panic!("no dmarc in {value}"))
            .to_string()
    };
    (dmarc_of(XA), dmarc_of(AR))
}

#[tokio::test]
async fn author_domains_through_the_milter() {
    let dns = FakeDns::start(zone()).await;
    let mut cfg = config_for(&dns);
    cfg.milter.methods = vec![Method::Spf, Method::Dmarc];
    cfg.milter.add_authentication_results = true;
    let milter = TestMilter::spawn(cfg).await;
    let bank_fails = "dmarc=fail header.from=bank.example policy.dmarc=reject";
    for (from, want) in [
        // Baseline: one author, aligned SPF.
        (
            &["Alice <alice@pass.example>"][..],
            "dmarc=pass header.from=pass.example policy.dmarc=reject",
        ),
        // CFWS in the domain was `header.from=" bank.example"` and `none`.
        (&["a@ bank.example"], bank_fails),
        (&["a@(comment)bank.example"], bank_fails),
        (&["Bank <a@\r\n\tBANK.example>"], bank_fails),
        // Several addresses, two From fields: the strictest.
        (&["alice@pass.example, a@bank.example"], bank_fails),
        (&["alice@pass.example", "a@bank.example"], bank_fails),
        (&["a@bank.example", "alice@pass.example"], bank_fails),
        (
            &["a@mon.example, b@q.example"],
            "dmarc=fail header.from=q.example policy.dmarc=quarantine",
        ),
        (
            &["g: a@mon.example;", "alice@pass.example"],
            "dmarc=fail header.from=mon.example policy.dmarc=none",
        ),
        // Pass only when every author passes.
        (
            &["alice@pass.example, x@nodmarc.example"],
            "dmarc=none header.from=nodmarc.example",
        ),
        // No usable From: permerror, with no header.from to name.
        (&[], "dmarc=permerror"),
        (&["undisclosed-recipients:;"], "dmarc=permerror"),
        (&["Postmaster\\@bank.example@xxx.com"], "dmarc=permerror"),
        (&["a@[192.0.2.1]"], "dmarc=permerror"),
        (&["alice@pass.example", "garbage"], "dmarc=permerror"),
        // A failing policy still beats the unusable field.
        (&["a@bank.example", "garbage"], bank_fails),
    ] {
        let (xa, ar) = dmarc_for(&milter, from).await;
        assert_eq!(xa, want, "From {from:?}");
        assert_eq!(ar, want, "From {from:?} (Authentication-Results)");
    }
    milter.stop().await;
}

async fn authenticator(dns: &FakeDns) -> Authenticator {
    Authenticator::new(&config_for(dns).dns).unwrap()
}

/// SPF passed for pass.example; no DKIM signature passed.
fn spf_pass() -> DmarcInput<'static> {
    DmarcInput {
        from_domain: "",
        spf_result: SpfResult::Pass,
        spf_domain: "pass.example",
        dkim_pass_domains: &[],
    }
}

#[tokio::test]
async fn a_slow_author_does_not_hide_a_failing_one() {
    let dns = FakeDns::start(zone()).await;
    let auth = authenticator(&dns).await;
    let authors = Authors::from_fields(["x@slow.example, a@bank.example"]);
    let budget = Duration::from_millis(300);
    let v = auth
        .check_dmarc_authors(&authors, &spf_pass(), 0, budget)
        .await;
    assert_eq!(
        (v.result, v.from_domain.as_str(), v.policy),
        (DmarcResult::Fail, "bank.example", Some(DmarcPolicy::Reject))
    );
    // Alone, the slow author is a temperror (not none, not pass).
    let authors = Authors::from_fields(["x@slow.example, alice@pass.example"]);
    let v = auth
        .check_dmarc_authors(&authors, &spf_pass(), 0, budget)
        .await;
    assert_eq!(
        (v.result, v.from_domain.as_str()),
        (DmarcResult::TempError, "slow.example")
    );
}

#[tokio::test]
async fn too_many_authors_is_a_permerror_unless_one_fails() {
    let dns = FakeDns::start(zone()).await;
    let auth = authenticator(&dns).await;
    let many: Vec<String> = (0..=MAX_AUTHOR_DOMAINS)
        .map(|i| format!("u@d{i}.pass.example"))
        .collect();
    let budget = Duration::from_secs(3);
    // Every evaluated author passes (relaxed SPF alignment), but more
    // authors than are evaluated: permerror.
    let authors = Authors::from_fields([many.join(", ")]);
    assert_eq!(authors.domains.len(), MAX_AUTHOR_DOMAINS + 1);
    let v = auth
        .check_dmarc_authors(&authors, &spf_pass(), 0, budget)
        .await;
    assert_eq!(
        (v.result, v.from_domain.as_str()),
        (DmarcResult::PermError, "")
    );
    // Exactly the cap: every one evaluated, all pass.
    let authors = Authors::from_fields([many[..MAX_AUTHOR_DOMAINS].join(", ")]);
    let v = auth
        .check_dmarc_authors(&authors, &spf_pass(), 0, budget)
        .await;
    assert_eq!(v.result, DmarcResult::Pass);
    // A failing author among the evaluated ones is stricter.
    let mut with_bank = many.clone();
    with_bank.insert(0, "a@bank.example".into());
    let authors = Authors::from_fields([with_bank.join(", ")]);
    let v = auth
        .check_dmarc_authors(&authors, &spf_pass(), 0, budget)
        .await;
    assert_eq!(
        (v.result, v.policy),
        (DmarcResult::Fail, Some(DmarcPolicy::Reject))
    );
}
