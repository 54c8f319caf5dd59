//! The per-record analysis rules (src/sensor/analysis/): each rule fires on
//! a crafted record and not on a clean one, the points add up to the
//! documented verdicts, and a broken history only drops `first-seen-domain`.
//! Alignment cases are in `analysis_alignment.rs`; the sensor, journal
//! unwrapping and the CLI in `analysis_sensor.rs`.

mod common;

use authsense::config::{AnalysisConfig, Config};
use authsense::ingest::analysis::{analyse, Analysis, History, SeenAll};
use authsense::model::{AuthInfo, AuthSource, Record, Verdict};
use common::analysis::{clean, mailbox, method};

/// A history that knows some domains.
struct Seen(&'static [&'static str]);

impl History for Seen {
    fn seen_sender_domain(&self, domain: &str) -> Result<bool, String> {
        Ok(self.0.contains(&domain))
    }
}

/// A history whose store is unreadable.
struct Broken;

impl History for Broken {
    fn seen_sender_domain(&self, _: &str) -> Result<bool, String> {
        Err("database is locked".into())
    }
}

fn cfg() -> AnalysisConfig {
    Config::parse(
        "[analysis]\norg_domains = [\"example.com\", \"bücher.example\"]\n\
         vip_names = [\"Jane Doe\", \"Bob Smith\"]\n",
    )
    .unwrap()
    .analysis
}

fn rules(a: &Analysis) -> Vec<&str> {
    a.reasons.iter().map(|r| r.rule.as_str()).collect()
}

/// `clean()` changed by `f`, analysed with every domain already seen.
fn with(f: impl FnOnce(&mut Record)) -> Analysis {
    let mut r = clean();
    f(&mut r);
    analyse(&r, &cfg(), &SeenAll)
}

/// `From:` set to `address`; the stamp's DMARC result names its domain,
/// as the perimeter's does for the author it evaluated.
fn from(r: &mut Record, name: &str, address: &str) {
    r.from = Some(mailbox(Some(name), address));
    let domain = address.rsplit_once('@').map_or(address, |(_, d)| d);
    if let Some(dmarc) = r.auth.dmarc.as_mut() {
        dmarc.props = vec![("header.from".into(), domain.into())];
    }
}

/// SPF and DKIM pass for `domain` (so alignment holds for mail from it).
fn aligned_for(r: &mut Record, domain: &str) {
    r.original.mailfrom = Some(format!("bounce@{domain}"));
    r.auth.spf = Some(method(
        "pass",
        &[("smtp.mailfrom", &format!("bounce@{domain}"))],
    ));
    r.auth.dkim = vec![method("pass", &[("header.d", domain)])];
}

#[test]
fn clean_message_scores_zero_and_is_trusted() {
    let a = analyse(&clean(), &cfg(), &Seen(&["sender.example"]));
    assert_eq!((a.score, a.verdict), (0, Verdict::Trusted));
    assert!(a.reasons.is_empty(), "{:?}", a.reasons);
    // A protected person writing from an organisation domain is not
    // impersonating anyone.
    let a = with(|r| {
        from(r, "Jane Doe", "jane@mail.example.com");
        aligned_for(r, "example.com");
    });
    assert!(a.reasons.is_empty(), "{:?}", a.reasons);
}

#[test]
fn auth_fail() {
    let a = with(|r| r.auth.spf.as_mut().unwrap().result = "fail".into());
    assert_eq!(rules(&a), ["auth-fail"]);
    assert_eq!(a.reasons[0].points, 2);
    assert!(a.reasons[0].detail.contains("SPF fail for sender.example"));
    let a = with(|r| {
        r.auth.dkim = vec![method("fail", &[("header.d", "sender.example")])];
        r.auth.dmarc = Some(method("fail", &[("header.from", "sender.example")]));
    });
    assert_eq!(rules(&a), ["auth-fail"]);
    assert_eq!(a.reasons[0].points, 5);
    // One failing signature next to a passing one is not a DKIM failure.
    let a = with(|r| {
        r.auth
            .dkim
            .push(method("fail", &[("header.d", "list.example")]))
    });
    assert!(a.reasons.is_empty(), "{:?}", a.reasons);
}

#[test]
fn dmarc_unaligned() {
    let a = with(|r| aligned_for(r, "mailer.test"));
    assert_eq!(rules(&a), ["dmarc-unaligned"]);
    let d = &a.reasons[0].detail;
    assert!(
        d.contains("sender.example") && d.contains("mailer.test"),
        "{d}"
    );
    // DKIM alone aligned is enough; SPF alone aligned is enough.
    let a = with(|r| {
        r.auth.spf = Some(method("pass", &[("smtp.mailfrom", "b@mailer.test")]));
    });
    assert!(a.reasons.is_empty(), "{:?}", a.reasons);
    let a = with(|r| r.auth.dkim.clear());
    assert!(a.reasons.is_empty(), "{:?}", a.reasons);
    // A failing aligned identifier does not align.
    let a = with(|r| {
        r.auth.dkim.clear();
        r.auth.spf.as_mut().unwrap().result = "softfail".into();
    });
    assert_eq!(rules(&a), ["auth-fail", "dmarc-unaligned"]);
}

#[test]
fn no_auth_results() {
    let a = with(|r| r.auth = AuthInfo::default());
    assert_eq!(rules(&a), ["no-auth-results"]);
    assert_eq!(a.verdict, Verdict::Trusted);
}

#[test]
fn display_name_impersonation() {
    for name in ["Jane Doe", "DOE, Jane", "J\u{430}ne Doe (CEO)", "jane  doe"] {
        let a = with(|r| {
            from(r, name, "jane.doe@freemail.test");
            aligned_for(r, "freemail.test");
        });
        assert_eq!(rules(&a), ["display-name-impersonation"], "{name}");
        assert_eq!(a.reasons[0].points, 4);
        assert!(a.reasons[0].detail.contains("freemail.test"));
    }
    let a = with(|r| from(r, "\"bob@example.com\"", "alice@sender.example"));
    assert_eq!(rules(&a), ["display-name-impersonation"]);
    assert!(a.reasons[0].detail.contains("example.com"));
    // Not: another name, or the sender's own address as its name.
    for (name, addr) in [
        ("Jane Dolittle", "alice@sender.example"),
        ("alice@sender.example", "alice@sender.example"),
        ("Alice (alice@mail.sender.example)", "alice@sender.example"),
    ] {
        let a = with(|r| from(r, name, addr));
        assert!(a.reasons.is_empty(), "{name}: {:?}", a.reasons);
    }
}

#[test]
fn lookalike_domain() {
    let cyrillic = idna::domain_to_ascii("ex\u{430}mple.com").unwrap();
    for (domain, how) in [
        ("examp1e.com", "confusable"),
        ("exarnple.com", "confusable"),
        (cyrillic.as_str(), "confusable"),
        ("example.net", "another suffix"),
        ("example.co.uk", "another suffix"),
        ("example.com.evil.test", "embeds"),
        ("exmaple.com", "edit distance"),
        ("examples.com", "edit distance"),
        ("bucher.example", "edit distance"),
    ] {
        let a = with(|r| {
            from(r, "Alice", &format!("alice@{domain}"));
            aligned_for(r, domain);
        });
        assert_eq!(rules(&a), ["lookalike-domain"], "{domain}");
        let d = &a.reasons[0].detail;
        assert!(d.contains(domain) && d.contains(how), "{domain}: {d}");
        assert_eq!(a.reasons[0].points, 5);
    }
    // Punycode is shown decoded too.
    let a = with(|r| from(r, "A", &format!("a@{cyrillic}")));
    let r = a.reasons.iter().find(|r| r.rule == "lookalike-domain");
    assert!(r.unwrap().detail.contains("ex\u{430}mple.com"), "{a:?}");
    // Reply-To and the envelope sender are candidates as well.
    let a = with(|r| r.reply_to = vec![mailbox(None, "pay@examp1e.com")]);
    assert!(rules(&a).contains(&"lookalike-domain"));
    // Not: the organisation itself, its subdomains, its IDN, far names.
    for domain in [
        "example.com",
        "mail.example.com",
        "xn--bcher-kva.example",
        "sample.org",
        "exam.com",
    ] {
        let a = with(|r| {
            from(r, "Alice", &format!("alice@{domain}"));
            aligned_for(r, domain);
        });
        assert!(!rules(&a).contains(&"lookalike-domain"), "{domain}");
    }
    // A hostile megabyte-long "domain" is no host name: no match, no
    // quadratic work.
    let long = format!("a@{}examp1e.com", "x".repeat(1 << 20));
    let started = std::time::Instant::now();
    let a = with(|r| from(r, "A", &long));
    assert!(!rules(&a).contains(&"lookalike-domain"));
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    // Distance 0 keeps only confusables, suffixes and embedding.
    let mut c = cfg();
    c.lookalike_max_distance = 0;
    let mut r = clean();
    from(&mut r, "A", "a@exmaple.com");
    aligned_for(&mut r, "exmaple.com");
    assert!(analyse(&r, &c, &SeenAll).reasons.is_empty());
}

#[test]
fn reply_to_mismatch() {
    let a = with(|r| r.reply_to = vec![mailbox(None, "collect@elsewhere.test")]);
    assert_eq!(rules(&a), ["reply-to-mismatch"]);
    assert!(a.reasons[0].detail.contains("elsewhere.test"));
    assert!(a.reasons[0].detail.contains("sender.example"));
    let a = with(|r| r.reply_to = vec![mailbox(None, "list@lists.sender.example")]);
    assert!(a.reasons.is_empty());
}

#[test]
fn first_seen_domain() {
    let a = analyse(&clean(), &cfg(), &Seen(&["other.example"]));
    assert_eq!(rules(&a), ["first-seen-domain"]);
    assert!(a.reasons[0].detail.contains("sender.example"));
    // The envelope sender's domain is asked, else the From domain.
    let mut r = clean();
    r.original.mailfrom = None;
    r.from = Some(mailbox(None, "x@sender.example"));
    assert!(analyse(&r, &cfg(), &Seen(&["sender.example"]))
        .reasons
        .is_empty());
    // An unreadable history drops only this rule.
    let a = analyse(&clean(), &cfg(), &Broken);
    assert!(a.reasons.is_empty());
}

#[test]
fn verdicts_add_up() {
    // Spoofing an organisation domain: unaligned (3) + DMARC fail (3).
    let mut spoof = clean();
    from(&mut spoof, "IT desk", "it@example.com");
    spoof.auth.dmarc = Some(method("fail", &[("header.from", "example.com")]));
    let a = analyse(&spoof, &cfg(), &SeenAll);
    assert_eq!(rules(&a), ["auth-fail", "dmarc-unaligned"]);
    assert_eq!((a.score, a.verdict), (6, Verdict::Malicious));
    // A new domain whose replies go elsewhere: 1 + 2.
    let mut r = clean();
    r.reply_to = vec![mailbox(None, "x@elsewhere.test")];
    let a = analyse(&r, &cfg(), &Seen(&[]));
    assert_eq!((a.score, a.verdict), (3, Verdict::Suspicious));
    // Everything at once is capped at 10.
    let mut all = spoof.clone();
    from(&mut all, "Jane Doe", "jane@examp1e.com");
    all.auth.spf.as_mut().unwrap().result = "fail".into();
    all.reply_to = vec![mailbox(None, "x@elsewhere.test")];
    let a = analyse(&all, &cfg(), &Seen(&[]));
    assert_eq!((a.score, a.verdict), (10, Verdict::Malicious));
    assert!(a.reasons.iter().map(|r| u32::from(r.points)).sum::<u32>() > 10);
    // Thresholds come from the configuration.
    let mut c = cfg();
    c.suspicious_score = 1;
    c.malicious_score = 3;
    let a = analyse(&clean(), &c, &Seen(&[]));
    assert_eq!((a.score, a.verdict), (1, Verdict::Suspicious));
}

#[test]
fn unknown_results_are_not_passes() {
    let a = with(|r| {
        r.auth.source = AuthSource::XAgari;
        r.auth.spf = Some(method("unknown", &[("smtp.mailfrom", "a@sender.example")]));
        r.auth.dkim.clear();
    });
    assert_eq!(rules(&a), ["dmarc-unaligned"]);
}
