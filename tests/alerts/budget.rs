//! Budgets per sender domain (junk from one domain cannot silence the alert
//! about another's message; what it loses goes into the digest) and who
//! receives recipient warnings (only envelope recipients inside
//! `org_domains`, never header addresses, never outsiders).

use super::capture::{Capture, Mail};
use super::{config, exactly, flagged, start, store, stored};
use authsense::model::{Journal, Mailbox};
use std::time::Duration;

fn rcpts(all: &[Mail]) -> Vec<String> {
    all.iter().map(|m| m.rcpts.join(",")).collect()
}

#[tokio::test]
async fn junk_from_one_domain_does_not_silence_another_domains_alert() {
    let cap = Capture::start().await;
    let (_dir, store) = store();
    let cfg = config(
        &cap,
        "per_domain_per_hour = 2\nthreat_per_hour = 20\ndigest_interval = \"3s\"\n",
    );
    let (a, _running) = start(&cfg, &store);
    let mut junk_ids = Vec::new();
    for i in 0..6 {
        let mut r = flagged(&format!("j-{i}"), &format!("junk {i}"));
        r.from = Some(Mailbox {
            name: None,
            address: Some(format!("spam{i}@mail{i}.junk.test")),
        });
        junk_ids.push(stored(&store, &a, r).await);
    }
    stored(&store, &a, flagged("real-1", "Wire the money")).await;
    let all = exactly(&cap, 3).await;
    let subjects: Vec<String> = all.iter().map(|m| m.subject()).collect();
    assert!(
        subjects[0].contains("spam0@mail0.junk.test"),
        "{subjects:?}"
    );
    assert!(
        subjects[1].contains("spam1@mail1.junk.test"),
        "{subjects:?}"
    );
    assert!(
        subjects[2].contains("ceo@examp1e.com"),
        "the real alert went out at once: {subjects:?}"
    );
    // The four junk alerts over junk.test's budget come in the digest.
    let all = cap.wait_for(4, Duration::from_secs(10)).await;
    let d = &all[3].text();
    assert_eq!(
        all[3].subject(),
        "[authsense] digest: 4 threat alerts held back"
    );
    assert!(d.contains(&format!("  {:<40} 4", "junk.test")), "{d}");
    for (i, id) in junk_ids.iter().enumerate().skip(2) {
        let want = format!("id {id} uid j-{i}: malicious score 8/10, from junk.test, subject \"junk {i}\" (per_domain_per_hour reached");
        assert!(d.contains(&want), "{want:?} missing from\n{d}");
    }
    assert!(!d.contains("real-1"), "the real alert is not in the digest");
    exactly(&cap, 4).await;
}

#[tokio::test]
async fn warnings_go_only_to_envelope_recipients_inside_the_organisation() {
    let cap = Capture::start().await;
    let (_dir, store) = store();
    let (a, _running) = start(&config(&cap, "notify_recipient = true\n"), &store);
    let mut r = flagged("w-1", "Shared document");
    r.rcptto = vec![
        "bob@example.com".into(),
        "mallory@evil.test".into(),
        "x@hr.example.com".into(),
        "victim%evil.test@example.com".into(),
        "eve@example.com.evil.test".into(),
    ];
    // A header address inside the organisation that is not an envelope
    // recipient of this copy is never warned.
    r.to.push(Mailbox {
        name: None,
        address: Some("alice@example.com".into()),
    });
    stored(&store, &a, r).await;
    let all = exactly(&cap, 3).await;
    assert_eq!(
        rcpts(&all),
        [
            "<admin@example.org>",
            "<bob@example.com>",
            "<x@hr.example.com>"
        ]
    );
    assert!(all[1].subject().contains("Caution"), "{}", all[1].subject());

    // An unwrapped journal report: the record's rcptto as it is, nothing
    // from the report's own recipients.
    let mut j = flagged("w-2", "Journal copy");
    j.rcptto = vec!["carol@example.com".into(), "outsider@evil.test".into()];
    j.journal = Some(Journal {
        report_rcptto: vec!["journal@example.com".into()],
        ..Journal::default()
    });
    stored(&store, &a, j).await;
    let all = exactly(&cap, 5).await;
    assert_eq!(
        rcpts(&all[3..]),
        ["<admin@example.org>", "<carol@example.com>"]
    );
}

#[tokio::test]
async fn a_later_copy_still_warns_recipients_the_first_did_not_reach() {
    let cap = Capture::start().await;
    let (_dir, store) = store();
    let (a, _running) = start(&config(&cap, "notify_recipient = true\n"), &store);
    let mut r = flagged("c-1", "Campaign");
    r.rcptto = vec!["bob@example.com".into()];
    stored(&store, &a, r).await;
    exactly(&cap, 2).await;
    // Same campaign (same sender, From, subject): no second admin alert,
    // no second warning to bob, but dave is warned.
    let mut r = flagged("c-2", "Campaign");
    r.rcptto = vec!["bob@example.com".into(), "dave@example.com".into()];
    stored(&store, &a, r).await;
    let all = exactly(&cap, 3).await;
    assert_eq!(all[2].rcpts, ["<dave@example.com>"]);
}
