//! Tests of the digest: contents, bounds, restore after a failed send.

use super::*;

fn summary(i: i64, from: &str, verdict: Verdict) -> Summary {
    Summary {
        id: i,
        uid: format!("uid-{i}"),
        verdict: Some(verdict),
        score: Some(7),
        from_address: Some(from.into()),
        subject: Some(format!("subject {i}\r\nBcc: x@y.test")),
        ..Summary::default()
    }
}

#[test]
fn lists_counts_per_domain_ids_verdicts_and_subjects() {
    let mut d = Digest::default();
    let over = Why::Budget(Limit::Domain);
    for i in 0..3 {
        let s = summary(i, "a@mail.junk.test", Verdict::Suspicious);
        assert!(d.add(Item::record(&s, None, over)));
    }
    let s = summary(10, "ceo@examp1e.com", Verdict::Malicious);
    assert!(d.add(Item::record(&s, None, Why::QueueFull)));
    assert!(d.add(Item::record(&s, Some("bob@example.com"), over)));
    assert!(d.add(Item::health(
        "gateway 192.0.2.1 silent",
        Why::Budget(Limit::Kind)
    )));

    let p = d.take(Kind::Threat).expect("threats pending");
    assert_eq!(p.total, 4);
    let counts: Vec<_> = p.by_domain.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(counts, [("examp1e.com", 1), ("junk.test", 3)]);
    let (subject, body) = render(Kind::Threat, &p, Duration::from_secs(900));
    assert_eq!(subject, "[authsense] digest: 4 threat alerts held back");
    let junk = format!("  {:<40} 3\n", "junk.test");
    for want in [
        "digest every 15m",
        junk.as_str(),
        "id 10 uid uid-10: malicious score 7/10, from examp1e.com, subject \"subject 10  Bcc: x@y.test\" (alert queue full; /messages/10)",
        "id 2 uid uid-2: suspicious score 7/10, from junk.test",
        "per_domain_per_hour reached",
    ] {
        assert!(body.contains(want), "{want:?} missing from\n{body}");
    }
    assert!(!body.contains("\nBcc:"), "{body}");
    assert!(d.take(Kind::Threat).is_none(), "taken");

    let (_, warn) = render(
        Kind::Warning,
        &d.take(Kind::Warning).unwrap(),
        Duration::from_secs(60),
    );
    assert!(warn.contains("not warned: bob@example.com"), "{warn}");
    let (hs, hb) = render(
        Kind::Health,
        &d.take(Kind::Health).unwrap(),
        Duration::from_secs(60),
    );
    assert!(hs.contains("1 health alerts"), "{hs}");
    assert!(
        hb.contains("gateway 192.0.2.1 silent (health_per_hour reached)"),
        "{hb}"
    );
    assert!(!hb.contains("By sender domain"));
}

#[test]
fn bounded_lines_and_domains_but_exact_totals() {
    let mut p = Pending::default();
    let over = Why::Budget(Limit::Kind);
    let n = MAX_ITEMS + 20;
    let mut refused = 0;
    for i in 0..n {
        let s = summary(i as i64, &format!("x@d{i}.test"), Verdict::Suspicious);
        if !p.add(Item::record(&s, None, over)) {
            refused += 1;
        }
    }
    assert_eq!(refused, 20);
    assert_eq!(p.total, n as u64);
    assert_eq!(p.items.len(), MAX_ITEMS);
    assert_eq!(p.unlisted, 20);
    assert_eq!(p.by_domain.len(), MAX_DOMAINS);
    assert_eq!(p.other_domains, (n - MAX_DOMAINS) as u64);
    let (_, body) = render(Kind::Threat, &p, Duration::from_secs(60));
    assert!(body.contains("… and 20 more not listed"), "{body}");
    let other = format!("  {:<40} {}\n", "(other domains)", n - MAX_DOMAINS);
    assert!(body.contains(&other), "{body}");
}

#[test]
fn a_digest_that_was_not_sent_goes_back_in_front() {
    let mut d = Digest::default();
    let over = Why::Budget(Limit::Overall);
    d.add(Item::record(
        &summary(1, "a@one.test", Verdict::Malicious),
        None,
        over,
    ));
    let older = d.take(Kind::Threat).unwrap();
    d.add(Item::record(
        &summary(2, "b@two.test", Verdict::Suspicious),
        None,
        over,
    ));
    d.add(Item::record(
        &summary(3, "c@one.test", Verdict::Suspicious),
        None,
        over,
    ));
    assert!(d.restore(Kind::Threat, older).is_empty());
    let p = d.take(Kind::Threat).unwrap();
    assert_eq!(p.total, 3);
    let ids: Vec<_> = p.items.iter().map(|i| i.id.unwrap()).collect();
    assert_eq!(ids, [1, 2, 3], "oldest first");
    assert_eq!(p.by_domain["one.test"], 2);

    // Restoring into a full digest hands back what no longer fits.
    let mut full = Pending::default();
    for i in 0..MAX_ITEMS {
        full.add(Item::record(
            &summary(i as i64, "x@x.test", Verdict::Suspicious),
            None,
            over,
        ));
    }
    let mut d = Digest::default();
    let m = summary(9999, "m@m.test", Verdict::Malicious);
    d.add(Item::record(&m, None, over));
    let lost = d.restore(Kind::Threat, full);
    assert_eq!(lost.len(), 1);
    assert_eq!(lost[0].uid, "uid-9999");
    let p = d.take(Kind::Threat).unwrap();
    assert_eq!((p.total, p.unlisted), (MAX_ITEMS as u64 + 1, 1));
}
