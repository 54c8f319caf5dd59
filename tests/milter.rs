//! The milter driven through the milter protocol (indymilter-test as the MTA)
//! against an in-process DNS server: each SPF result, IPv6, null sender, the
//! HELO identity, forged headers, perimeter roles, DNS faults, internal errors.

mod common;

use common::{config_for, dns::FakeDns, rcpt_data, spf_zone, TestMilter, CLIENT4};
use indymilter_test::{EomAction, EomActions};
use indymilter_test::{MacroStage, ProtoOpts, SocketInfo, Status, TestConnection};
use std::{
    net::IpAddr,
    time::{Duration, Instant},
};

const XA: &str = "X-Agari-Authentication-Results";
const AR: &str = "Authentication-Results";

struct Msg<'a> {
    ip: IpAddr,
    helo: &'a str,
    from: &'a str,
    headers: Vec<(&'a str, &'a str)>,
    auth: Option<&'a str>,
}

impl<'a> Msg<'a> {
    fn new(helo: &'a str, from: &'a str) -> Self {
        Msg {
            ip: IpAddr::from(CLIENT4),
            helo,
            from,
            headers: vec![],
            auth: None,
        }
    }
}

/// Continue, or no reply where the milter negotiated none.
fn acked(s: Status) -> bool {
    matches!(s, Status::Continue | Status::Noreply)
}

async fn send(conn: &mut TestConnection, m: &Msg<'_>) -> (EomActions, Status) {
    assert!(acked(
        conn.connect("client.example", (m.ip, 40000)).await.unwrap()
    ));
    transaction(conn, m).await
}

async fn transaction(conn: &mut TestConnection, m: &Msg<'_>) -> (EomActions, Status) {
    assert!(acked(conn.helo(m.helo).await.unwrap()));
    if let Some(user) = m.auth {
        conn.macros(MacroStage::Mail, [("{auth_authen}", user)])
            .await
            .unwrap();
    }
    let st = conn.mail([format!("<{}>", m.from)]).await.unwrap();
    if !acked(st.clone()) {
        return (EomActions { actions: vec![] }, st);
    }
    for st in rcpt_data(conn, "<rcpt@example.net>")
        .await
        .into_iter()
        .flatten()
    {
        assert!(acked(st));
    }
    for (n, v) in &m.headers {
        conn.header(*n, *v).await.unwrap();
    }
    conn.header("Subject", "test").await.unwrap();
    // Like Postfix, skip the steps the milter opted out of.
    if !conn.negotiated_opts().contains(ProtoOpts::NO_EOH) {
        conn.eoh().await.unwrap();
    }
    conn.eom().await.unwrap()
}

/// The inserted X-Agari value, asserting there is exactly one at index 0.
fn stamp(actions: &EomActions) -> String {
    let inserted: Vec<_> = actions
        .actions
        .iter()
        .filter_map(|a| match a {
            EomAction::InsertHeader { index, name, value } if name.to_bytes() == XA.as_bytes() => {
                assert_eq!(*index, 0, "stamp must go on top");
                Some(value.to_str().unwrap().trim_start().to_string())
            }
            _ => None,
        })
        .collect();
    assert_eq!(inserted.len(), 1, "one stamp expected: {actions:?}");
    inserted[0].clone()
}

/// The inserted standard Authentication-Results value.
fn ar_value(actions: &EomActions) -> String {
    actions
        .actions
        .iter()
        .find_map(|a| match a {
            EomAction::InsertHeader { name, value, .. } if name.to_bytes() == AR.as_bytes() => {
                Some(value.to_str().unwrap().trim_start().to_string())
            }
            _ => None,
        })
        .expect("an Authentication-Results header")
}

fn deletions(actions: &EomActions) -> Vec<(String, i32)> {
    actions
        .actions
        .iter()
        .filter_map(|a| match a {
            EomAction::DeleteHeader { name, index } => {
                Some((name.to_str().unwrap().to_string(), *index))
            }
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn each_spf_result_is_stamped_exactly() {
    let dns = FakeDns::start(spf_zone()).await;
    let milter = TestMilter::spawn(config_for(&dns)).await;
    let cases = [
        ("pass.example", "pass"),
        ("fail.example", "fail"),
        ("softfail.example", "softfail"),
        ("neutral.example", "neutral"),
        ("none.example", "none"),
        ("nxdomain.example", "none"),
        ("permerror.example", "permerror"),
        ("syntax.example", "permerror"),
        ("include.example", "permerror"),
        ("servfail.example", "temperror"),
        ("temperror.example", "temperror"),
    ];
    for (domain, want) in cases {
        let mut conn = milter.open().await;
        let from = format!("user@{domain}");
        let (actions, status) = send(&mut conn, &Msg::new("mail.pass.example", &from)).await;
        assert_eq!(status, Status::Accept, "{domain}");
        assert_eq!(
            stamp(&actions),
            format!("mx.example.com; spf={want} smtp.mailfrom={from} smtp.helo=mail.pass.example"),
            "{domain}"
        );
        conn.close().await.unwrap();
    }
    milter.stop().await;
}

#[tokio::test]
async fn ipv6_and_ipv4_mapped_clients() {
    let dns = FakeDns::start(spf_zone()).await;
    let milter = TestMilter::spawn(config_for(&dns)).await;
    let cases = [
        ("2001:db8::10", "pass.example", "pass"),
        ("2001:db9::10", "pass.example", "fail"),
        // RFC 7208 §5: an IPv4-mapped address is IPv4: `mx` must match the A record.
        ("::ffff:192.0.2.10", "mx.example", "pass"),
        ("::ffff:192.0.2.10", "pass.example", "pass"),
        ("2001:db8::99", "mx.example", "pass"),
    ];
    for (ip, domain, want) in cases {
        let mut conn = milter.open().await;
        let from = format!("a@{domain}");
        let mut m = Msg::new("mail.pass.example", &from);
        m.ip = ip.parse().unwrap();
        let (actions, _) = send(&mut conn, &m).await;
        assert!(
            stamp(&actions).contains(&format!("spf={want} ")),
            "{ip} {domain}: {actions:?}"
        );
    }
    milter.stop().await;
}

#[tokio::test]
async fn null_sender_uses_postmaster_at_helo_and_helo_identity_is_checked() {
    let dns = FakeDns::start(spf_zone()).await;
    let mut cfg = config_for(&dns);
    cfg.milter.add_authentication_results = true;
    let milter = TestMilter::spawn(cfg).await;
    let mut conn = milter.open().await;
    let (actions, _) = send(&mut conn, &Msg::new("mail.pass.example", "")).await;
    assert_eq!(
        stamp(&actions),
        "mx.example.com; spf=pass smtp.mailfrom=postmaster@mail.pass.example smtp.helo=mail.pass.example"
    );
    // The HELO identity's own result is in the standard header.
    assert!(
        ar_value(&actions).starts_with(
            "mx.example.com; spf=pass smtp.mailfrom=postmaster@mail.pass.example; spf=pass smtp.helo=mail.pass.example;"
        ),
        "{actions:?}"
    );

    // HELO fails while MAIL FROM passes: both results recorded separately.
    let mut conn = milter.open().await;
    let (actions, _) = send(&mut conn, &Msg::new("mail.fail.example", "u@pass.example")).await;
    assert_eq!(
        stamp(&actions),
        "mx.example.com; spf=pass smtp.mailfrom=u@pass.example smtp.helo=mail.fail.example"
    );
    let ar = actions
        .actions
        .iter()
        .find_map(|a| match a {
            EomAction::InsertHeader { name, value, .. } if name.to_bytes() == AR.as_bytes() => {
                Some(value.to_str().unwrap().to_string())
            }
            _ => None,
        })
        .unwrap();
    assert!(ar.contains("spf=fail smtp.helo=mail.fail.example"), "{ar}");

    // An address-literal HELO with a null sender has no checkable identity.
    let mut conn = milter.open().await;
    let (actions, _) = send(&mut conn, &Msg::new("[192.0.2.10]", "")).await;
    assert_eq!(
        stamp(&actions),
        "mx.example.com; spf=none smtp.mailfrom=\"postmaster@[192.0.2.10]\" smtp.helo=\"[192.0.2.10]\""
    );
    milter.stop().await;
}

#[tokio::test]
async fn standard_header_is_added_below_the_stamp_by_default() {
    let dns = FakeDns::start(spf_zone()).await;
    // config_for keeps MilterConfig's defaults: add_authentication_results on.
    let milter = TestMilter::spawn(config_for(&dns)).await;
    let mut conn = milter.open().await;
    let (actions, status) = send(&mut conn, &Msg::new("mail.pass.example", "u@fail.example")).await;
    assert_eq!(status, Status::Accept);
    assert_eq!(
        stamp(&actions),
        "mx.example.com; spf=fail smtp.mailfrom=u@fail.example smtp.helo=mail.pass.example"
    );
    // Both at index 0, the standard header first: the stamp ends on top with
    // ours directly below it. Nothing else is added.
    let inserted: Vec<(i32, String, String)> = actions
        .actions
        .iter()
        .filter_map(|a| match a {
            EomAction::InsertHeader { index, name, value } => Some((
                *index,
                name.to_str().unwrap().to_string(),
                value.to_str().unwrap().trim_start().to_string(),
            )),
            _ => None,
        })
        .collect();
    assert_eq!(
        inserted
            .iter()
            .map(|(i, n, _)| (*i, n.as_str()))
            .collect::<Vec<_>>(),
        [(0, AR), (0, XA)],
        "{actions:?}"
    );
    // The message has no From field: DMARC permerror (RFC 7489 §6.6.1).
    assert!(
        inserted[0].2.starts_with(
            "mx.example.com; spf=fail smtp.mailfrom=u@fail.example; spf=pass smtp.helo=mail.pass.example; dkim=none; dmarc=permerror;"
        ),
        "{actions:?}"
    );
    assert!(
        inserted[0].2.contains("; arc=none") && inserted[0].2.contains("; iprev="),
        "{actions:?}"
    );
    milter.stop().await;

    // add_authentication_results = false: the stamp alone.
    let mut cfg = config_for(&dns);
    cfg.milter.add_authentication_results = false;
    let milter = TestMilter::spawn(cfg).await;
    let mut conn = milter.open().await;
    let (actions, _) = send(&mut conn, &Msg::new("mail.pass.example", "u@pass.example")).await;
    stamp(&actions);
    assert_eq!(
        actions
            .actions
            .iter()
            .filter(|a| matches!(a, EomAction::InsertHeader { .. }))
            .count(),
        1,
        "{actions:?}"
    );
    milter.stop().await;
}

#[tokio::test]
async fn forged_x_agari_headers_are_all_deleted_highest_first() {
    let dns = FakeDns::start(spf_zone()).await;
    let milter = TestMilter::spawn(config_for(&dns)).await;
    let mut conn = milter.open().await;
    let mut m = Msg::new("mail.pass.example", "u@pass.example");
    m.headers = vec![
        (
            XA,
            "mx.example.com; spf=pass smtp.mailfrom=forged@x smtp.helo=forged",
        ),
        ("Received", "from somewhere"),
        ("x-agari-authentication-results", "other.example; spf=pass"),
        ("X-AGARI-AUTHENTICATION-RESULTS", "garbage ((("),
    ];
    let (actions, status) = send(&mut conn, &m).await;
    assert_eq!(status, Status::Accept);
    assert_eq!(
        deletions(&actions),
        [
            (XA.to_string(), 3),
            (XA.to_string(), 2),
            (XA.to_string(), 1)
        ]
    );
    // Deletions come before the insertion.
    assert!(matches!(
        actions.actions.last(),
        Some(EomAction::InsertHeader { .. })
    ));
    stamp(&actions);
    milter.stop().await;
}

#[tokio::test]
async fn authentication_results_claiming_our_id_are_deleted() {
    // Vectors from glts spf-milter/dkim-milter (tests/data/authserv-id-deletion);
    // we also delete #2, whose authserv-id cannot be parsed (as
    // authentication_milter does), so it cannot pose as ours downstream.
    let raw = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/authserv-id-deletion/vectors.json"
    ))
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(&raw).unwrap();
    let own = v["own_authserv_id"].as_str().unwrap();
    let dns = FakeDns::start(spf_zone()).await;
    let mut cfg = config_for(&dns);
    cfg.milter.authserv_id = Some(own.to_string());
    let milter = TestMilter::spawn(cfg).await;
    let mut conn = milter.open().await;
    let values: Vec<String> = v["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["value"].as_str().unwrap().replace("\r\n", "\n"))
        .collect();
    let mut m = Msg::new("mail.pass.example", "u@pass.example");
    m.headers = values.iter().map(|v| (AR, v.as_str())).collect();
    m.headers.push((AR, "Mail.Gluet.CH; spf=pass"));
    m.headers.push((AR, "other.example; spf=fail"));
    m.headers
        .push((AR, "(folded\n  comment) mail.gluet.ch\n 1; dkim=pass"));
    let (actions, _) = send(&mut conn, &m).await;
    assert_eq!(
        deletions(&actions),
        [
            (AR.to_string(), 6),
            (AR.to_string(), 4),
            (AR.to_string(), 3),
            (AR.to_string(), 2)
        ]
    );
    milter.stop().await;
}

#[tokio::test]
async fn trusted_network_is_left_alone() {
    let dns = FakeDns::start(spf_zone()).await;
    let mut cfg = config_for(&dns);
    cfg.milter.trusted_networks = vec!["192.0.2.0/24".parse().unwrap()];
    let milter = TestMilter::spawn(cfg).await;
    let mut conn = milter.open().await;
    let mut m = Msg::new("mail.pass.example", "u@fail.example");
    m.headers = vec![
        (XA, "mx.example.com; spf=pass"),
        (AR, "mx.example.com; spf=pass"),
    ];
    let (actions, status) = send(&mut conn, &m).await;
    assert_eq!(status, Status::Accept);
    assert!(actions.actions.is_empty(), "{actions:?}");
    // Not evaluated at all: the DNS server saw no query.
    assert_eq!(dns.queries.load(std::sync::atomic::Ordering::SeqCst), 0);
    // A client outside the trusted network is stamped.
    let mut conn = milter.open().await;
    let mut m = Msg::new("mail.pass.example", "u@pass.example");
    m.ip = "198.51.100.7".parse().unwrap();
    let (actions, _) = send(&mut conn, &m).await;
    assert!(stamp(&actions).contains("spf=fail"));
    milter.stop().await;
}

#[tokio::test]
async fn authenticated_client_is_not_stamped_but_forgeries_go() {
    let dns = FakeDns::start(spf_zone()).await;
    let milter = TestMilter::spawn(config_for(&dns)).await;
    let mut conn = milter.open().await;
    let mut m = Msg::new("laptop", "u@fail.example");
    m.auth = Some("alice");
    m.headers = vec![
        (XA, "mx.example.com; spf=pass"),
        (AR, "mx.example.com; spf=pass"),
        (AR, "other.example; spf=pass"),
    ];
    let (actions, status) = send(&mut conn, &m).await;
    assert_eq!(status, Status::Accept);
    assert_eq!(
        deletions(&actions),
        [(XA.to_string(), 1), (AR.to_string(), 1)]
    );
    assert!(!actions
        .actions
        .iter()
        .any(|a| matches!(a, EomAction::InsertHeader { .. })));
    milter.stop().await;
}

#[tokio::test]
async fn downstream_mode_changes_nothing() {
    let dns = FakeDns::start(spf_zone()).await;
    let mut cfg = config_for(&dns);
    cfg.milter.mode = authsense::config::Mode::Downstream;
    let milter = TestMilter::spawn(cfg).await;
    let mut conn = milter.open().await;
    let mut m = Msg::new("mail.pass.example", "u@pass.example");
    m.headers = vec![
        (XA, "mx.example.com; spf=pass"),
        (AR, "mx.example.com; spf=pass"),
    ];
    let (actions, status) = send(&mut conn, &m).await;
    assert_eq!(status, Status::Accept);
    assert!(actions.actions.is_empty(), "{actions:?}");
    milter.stop().await;
}

#[tokio::test]
async fn dns_timeout_gives_temperror_within_the_budget() {
    let dns = FakeDns::start(spf_zone()).await;
    // DNS timeout longer than the message budget: the budget decides.
    let mut cfg = config_for(&dns);
    cfg.dns.timeout_ms = 10_000;
    cfg.milter.auth_timeout_ms = 700;
    let milter = TestMilter::spawn(cfg).await;
    let mut conn = milter.open().await;
    let t = Instant::now();
    let (actions, status) = send(
        &mut conn,
        &Msg::new("mail.pass.example", "u@temperror.example"),
    )
    .await;
    let took = t.elapsed();
    assert_eq!(status, Status::Accept);
    assert!(stamp(&actions).contains("spf=temperror"));
    assert!(took < Duration::from_millis(700 + 1000), "took {took:?}");
    milter.stop().await;

    // DNS timeout shorter than the budget: the resolver gives up by itself.
    let mut cfg = config_for(&dns);
    cfg.dns.timeout_ms = 300;
    cfg.milter.auth_timeout_ms = 10_000;
    let milter = TestMilter::spawn(cfg).await;
    let mut conn = milter.open().await;
    let t = Instant::now();
    let (actions, _) = send(
        &mut conn,
        &Msg::new("mail.pass.example", "u@temperror.example"),
    )
    .await;
    let took = t.elapsed();
    assert!(stamp(&actions).contains("spf=temperror"));
    assert!(took < Duration::from_millis(3000), "took {took:?}");
    milter.stop().await;
}

#[tokio::test]
async fn lost_udp_answer_is_retried_quickly() {
    let dns = FakeDns::start(spf_zone()).await;
    let mut cfg = config_for(&dns);
    cfg.dns.timeout_ms = 5000;
    cfg.milter.auth_timeout_ms = 10_000;
    let milter = TestMilter::spawn(cfg).await;
    dns.drop_udp.store(1, std::sync::atomic::Ordering::SeqCst);
    let mut conn = milter.open().await;
    let t = Instant::now();
    let (actions, _) = send(&mut conn, &Msg::new("mail.pass.example", "u@pass.example")).await;
    let took = t.elapsed();
    assert!(stamp(&actions).contains("spf=pass"));
    assert!(
        took < Duration::from_millis(2500),
        "a lost packet cost {took:?} of a 5 s timeout"
    );
    milter.stop().await;
}

#[tokio::test]
async fn internal_error_accepts_without_stamp() {
    let dns = FakeDns::start(spf_zone()).await;
    let milter = TestMilter::spawn(config_for(&dns)).await;
    // No client address: SPF cannot be evaluated.
    let mut conn = milter.open().await;
    conn.connect("localhost", SocketInfo::Unknown)
        .await
        .unwrap();
    let mut m = Msg::new("mail.pass.example", "u@pass.example");
    m.headers = vec![(XA, "mx.example.com; spf=pass")];
    let (actions, status) = transaction(&mut conn, &m).await;
    assert_eq!(status, Status::Accept);
    assert!(
        !actions
            .actions
            .iter()
            .any(|a| matches!(a, EomAction::InsertHeader { .. })),
        "{actions:?}"
    );
    assert_eq!(deletions(&actions), [(XA.to_string(), 1)]);
    milter.stop().await;

    let mut cfg = config_for(&dns);
    cfg.milter.on_error = authsense::config::OnError::Tempfail;
    let milter = TestMilter::spawn(cfg).await;
    let mut conn = milter.open().await;
    conn.connect("localhost", SocketInfo::Unknown)
        .await
        .unwrap();
    let (_, status) =
        transaction(&mut conn, &Msg::new("mail.pass.example", "u@pass.example")).await;
    assert_eq!(status, Status::Tempfail { message: None });
    milter.stop().await;
}

#[tokio::test]
async fn reject_policy_and_several_messages_per_connection() {
    let dns = FakeDns::start(spf_zone()).await;
    let mut cfg = config_for(&dns);
    cfg.milter.reject_spf = vec![authsense::config::SpfResultName(
        authsense::auth::SpfResult::Fail,
    )];
    let milter = TestMilter::spawn(cfg).await;
    let mut conn = milter.open().await;
    let (_, status) = send(&mut conn, &Msg::new("mail.pass.example", "u@fail.example")).await;
    let Status::Reject {
        message: Some(reply),
    } = status
    else {
        panic!("{status:?}")
    };
    let reply = reply.to_str().unwrap();
    assert!(
        reply.starts_with("550 5.7.23 SPF fail: u@fail.example does not designate 192.0.2.10"),
        "{reply}"
    );
    // The domain's exp= explanation, macro-expanded (RFC 7208 §6.2).
    assert!(
        reply.contains("192.0.2.10 is not one of fail.example's designated mail servers"),
        "{reply}"
    );
    // Same connection, next transaction: softfail is not in the policy.
    let (actions, status) = transaction(
        &mut conn,
        &Msg::new("mail.pass.example", "u@softfail.example"),
    )
    .await;
    assert_eq!(status, Status::Accept);
    assert!(stamp(&actions).contains("spf=softfail smtp.mailfrom=u@softfail.example"));
    let (actions, _) =
        transaction(&mut conn, &Msg::new("mail.pass.example", "v@pass.example")).await;
    assert!(stamp(&actions).contains("spf=pass smtp.mailfrom=v@pass.example"));
    milter.stop().await;
}

#[tokio::test]
async fn no_reply_options_only_where_the_mta_offers_them() {
    let dns = FakeDns::start(spf_zone()).await;
    let milter = TestMilter::spawn(config_for(&dns)).await;
    // A modern MTA: connect, HELO, MAIL (nothing is decided there by
    // default), RCPT and headers need no reply; end of message is answered.
    let conn = milter.open().await;
    let opts = conn.negotiated_opts();
    assert!(opts.contains(ProtoOpts::NOREPLY_CONNECT | ProtoOpts::NOREPLY_HELO));
    assert!(opts.contains(ProtoOpts::NOREPLY_MAIL));
    assert!(opts.contains(ProtoOpts::NOREPLY_RCPT | ProtoOpts::NOREPLY_HEADER));
    assert!(!opts.intersects(ProtoOpts::NOREPLY_DATA));
    // RCPT and DATA are not sent at all; the body is (the default
    // Authentication-Results header carries DKIM, so it needs the message).
    assert!(opts.contains(ProtoOpts::NO_RCPT | ProtoOpts::NO_DATA));
    assert!(!opts.contains(ProtoOpts::NO_BODY));
    let mut conn = conn;
    let (actions, status) = send(&mut conn, &Msg::new("mail.pass.example", "u@pass.example")).await;
    assert_eq!(status, Status::Accept);
    assert!(stamp(&actions).contains("spf=pass"), "{actions:?}");
    // An MTA without no-reply support gets a reply at every step.
    // An MTA without no-reply support, and that cannot skip steps, gets a
    // reply at every step and may send the body.
    let without_noreply = ProtoOpts::all()
        - (ProtoOpts::NO_RCPT
            | ProtoOpts::NO_DATA
            | ProtoOpts::NO_BODY
            | ProtoOpts::NOREPLY_CONNECT
            | ProtoOpts::NOREPLY_HELO
            | ProtoOpts::NOREPLY_MAIL
            | ProtoOpts::NOREPLY_RCPT
            | ProtoOpts::NOREPLY_DATA
            | ProtoOpts::NOREPLY_HEADER
            | ProtoOpts::NOREPLY_EOH
            | ProtoOpts::NOREPLY_BODY
            | ProtoOpts::NOREPLY_UNKNOWN);
    let mut conn = milter.open_with_opts(without_noreply).await;
    assert_eq!(
        conn.connect("c", (IpAddr::from(CLIENT4), 1)).await.unwrap(),
        Status::Continue
    );
    assert_eq!(
        conn.helo("mail.pass.example").await.unwrap(),
        Status::Continue
    );
    assert_eq!(
        conn.mail(["<u@pass.example>"]).await.unwrap(),
        Status::Continue
    );
    assert_eq!(
        conn.rcpt(["<r@example.net>"]).await.unwrap(),
        Status::Continue
    );
    assert_eq!(conn.data().await.unwrap(), Status::Continue);
    assert_eq!(conn.header("Subject", "x").await.unwrap(), Status::Continue);
    assert_eq!(conn.body("hello\r\n").await.unwrap(), Status::Continue);
    let (actions, status) = conn.eom().await.unwrap();
    assert_eq!(status, Status::Accept);
    assert!(stamp(&actions).contains("spf=pass"));
    milter.stop().await;
}

/// With only the X-Agari SPF stamp to write, the body is not needed: the
/// MTA is asked not to send it, and the stamp is the same.
#[tokio::test]
async fn spf_only_asks_the_mta_not_to_send_the_body() {
    let dns = FakeDns::start(spf_zone()).await;
    let mut cfg = config_for(&dns);
    cfg.milter.add_authentication_results = false;
    let milter = TestMilter::spawn(cfg).await;
    let mut conn = milter.open().await;
    assert!(conn
        .negotiated_opts()
        .contains(ProtoOpts::NO_RCPT | ProtoOpts::NO_DATA | ProtoOpts::NO_BODY));
    let mut m = Msg::new("mail.pass.example", "u@pass.example");
    m.headers = vec![(XA, "mx.example.com; spf=pass")];
    let (actions, status) = send(&mut conn, &m).await;
    assert_eq!(status, Status::Accept);
    assert_eq!(
        stamp(&actions),
        "mx.example.com; spf=pass smtp.mailfrom=u@pass.example smtp.helo=mail.pass.example"
    );
    assert_eq!(deletions(&actions), [(XA.to_string(), 1)]);
    // An MTA that cannot skip the body still gets the same stamp.
    let mut conn = milter
        .open_with_opts(ProtoOpts::all() - ProtoOpts::NO_BODY)
        .await;
    assert!(!conn.negotiated_opts().contains(ProtoOpts::NO_BODY));
    let (actions, status) = send(&mut conn, &m).await;
    assert_eq!(status, Status::Accept);
    assert!(stamp(&actions).contains("spf=pass"), "{actions:?}");
    milter.stop().await;
}

#[tokio::test]
async fn external_relay_evaluates_the_first_external_hop() {
    let dns = FakeDns::start(spf_zone()).await;
    let mut cfg = config_for(&dns);
    cfg.milter.trusted_networks = vec!["10.0.0.0/8".parse().unwrap()];
    cfg.milter.external_relay = true;
    let milter = TestMilter::spawn(cfg).await;
    let relay = "from relay1.corp (relay1.corp [10.1.1.1]) by relay2.corp (Postfix) with ESMTP id B; Fri, 27 Nov 2026 10:00:01 +0000";
    let external = "from mail.pass.example (mail.pass.example [198.51.100.7]) by relay1.corp (Postfix) with ESMTPS id C; Fri, 27 Nov 2026 10:00:00 +0000";
    let below =
        "from forged.example ([192.0.2.10]) by mail.pass.example; Fri, 27 Nov 2026 09:59:59 +0000";
    let mut conn = milter.open().await;
    let mut m = Msg::new("relay2.corp", "u@pass.example");
    m.ip = "10.1.1.2".parse().unwrap();
    m.headers = vec![
        (XA, "mx.example.com; spf=pass"),
        ("Received", relay),
        ("Received", external),
        ("Received", below),
    ];
    let (actions, status) = send(&mut conn, &m).await;
    assert_eq!(status, Status::Accept);
    // 198.51.100.7 is not in pass.example's SPF (the forged lower hop's
    // 192.0.2.10 would be): the external hop, not the relay or the forgery.
    assert_eq!(
        stamp(&actions),
        "mx.example.com; spf=fail smtp.mailfrom=u@pass.example smtp.helo=mail.pass.example"
    );
    assert_eq!(deletions(&actions), [(XA.to_string(), 1)]);
    // Mail that never left the internal network is left alone.
    let mut conn = milter.open().await;
    let mut m = Msg::new("relay2.corp", "u@pass.example");
    m.ip = "10.1.1.2".parse().unwrap();
    m.headers = vec![(XA, "mx.example.com; spf=pass"), ("Received", relay)];
    let (actions, _) = send(&mut conn, &m).await;
    assert!(actions.actions.is_empty(), "{actions:?}");
    milter.stop().await;
}

/// MAIL is answered at once while SPF runs (its DNS time overlaps the rest
/// of the message), unless MAIL's answer may depend on SPF (`reject_spf`):
/// then MAIL waits for the result.
#[tokio::test]
async fn mail_waits_for_spf_only_when_it_may_reject() {
    let dns = FakeDns::start(spf_zone()).await;
    for reject in [false, true] {
        let mut cfg = config_for(&dns);
        cfg.dns.timeout_ms = 10_000;
        cfg.milter.auth_timeout_ms = 800;
        if reject {
            cfg.milter.reject_spf =
                authsense::config::Config::parse("[milter]\nreject_spf = [\"fail\"]\n")
                    .unwrap()
                    .milter
                    .reject_spf;
        }
        let milter = TestMilter::spawn(cfg).await;
        let mut conn = milter.open().await;
        conn.connect("client.example", (IpAddr::from(CLIENT4), 40000))
            .await
            .unwrap();
        conn.helo("mail.pass.example").await.unwrap();
        let t = Instant::now();
        let st = conn.mail(["<u@temperror.example>"]).await.unwrap();
        let at_mail = t.elapsed();
        // MAIL is answered only where its answer may be a rejection.
        let noreply = conn.negotiated_opts().contains(ProtoOpts::NOREPLY_MAIL);
        assert_eq!(noreply, !reject);
        assert_eq!(
            st,
            if reject {
                Status::Continue
            } else {
                Status::Noreply
            }
        );
        rcpt_data(&mut conn, "<rcpt@example.net>").await;
        conn.header("Subject", "t").await.unwrap();
        let (actions, _) = conn.eom().await.unwrap();
        let total = t.elapsed();
        assert!(stamp(&actions).contains("spf=temperror"));
        if reject {
            assert!(
                at_mail >= Duration::from_millis(700),
                "MAIL answered after {at_mail:?}"
            );
        } else {
            assert!(
                at_mail < Duration::from_millis(300),
                "MAIL answered after {at_mail:?}"
            );
            assert!(
                total >= Duration::from_millis(700),
                "end of message after {total:?}"
            );
        }
        milter.stop().await;
    }
}
