//! The sensor's `[alerts]` across a reload: new alert tasks with the new
//! relay and recipients for the next copies, while a copy in progress is
//! alerted by the tasks it started with (retired, not cut off); and alerts
//! turned off by a reload send nothing more.

use super::capture::Capture;
use super::sensor::{connect_from, live_sensor, record, start_copy, start_transaction};
use super::ConfigFile;
use std::time::Duration;

/// `[analysis]` that flags a lookalike of example.com, `[alerts]` to `to`
/// through `cap` (or no `[alerts]` without one).
fn config(cap: Option<&Capture>, to: &str) -> String {
    let alerts = cap.map_or(String::new(), |c| {
        format!(
            "[alerts]\nrelay = \"{}\"\nfrom = \"authsense@sensor.test\"\nto = [\"{to}\"]\n\
             threshold = \"suspicious\"\n",
            c.relay()
        )
    });
    format!("[sensor]\nallow = [\"127.0.0.1/32\"]\n[analysis]\norg_domains = [\"example.com\"]\n{alerts}")
}

/// A copy from a lookalike of example.com.
fn lookalike(subject: &str) -> String {
    format!(
        "From: Example CEO <ceo@examp1e.com>\r\nTo: bob@example.com\r\nSubject: {subject}\r\n\
         Message-ID: <{subject}@examp1e.com>\r\nDate: Fri, 27 Nov 2026 10:00:00 +0000\r\n\r\n\
         Please wire the money today.\r\n"
    )
}

/// Whether the record of `subject` meets the alert threshold.
fn flagged(store: &authsense::store::Store, subject: &str) -> bool {
    use authsense::model::Verdict;
    let verdict = record(store, subject).verdict;
    matches!(verdict, Some(Verdict::Suspicious | Verdict::Malicious))
}

/// The mails at `cap` once `n` arrived (15 s at most) and a little longer.
async fn settled(cap: &Capture, n: usize) -> Vec<super::capture::Mail> {
    cap.wait_for(n, Duration::from_secs(15)).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    cap.all()
}

#[tokio::test]
async fn alert_settings_change_for_the_next_copies() {
    let (one, two) = (Capture::start().await, Capture::start().await);
    let file = ConfigFile::new("reload-alerts", &config(Some(&one), "a@example.org"));
    let mut s = live_sensor(&file).await;
    let (mut c, greeting) = connect_from(s.addr, [127, 0, 0, 1]).await;
    assert!(greeting.starts_with("220"), "{greeting}");
    // A flagged copy in progress across the reload.
    start_copy(&mut c).await;
    let text = lookalike("before-reload");
    let (head, tail) = text.split_at(text.len() / 2);
    c.send(head).await;
    file.write(&config(Some(&two), "b@example.org"));
    let mut report = s.reloader.reload().unwrap();
    report.changed.sort();
    assert_eq!(report.changed, ["alerts.relay", "alerts.to"]);
    c.send(&format!("{tail}.\r\n")).await;
    assert!(c.reply().await.starts_with("250 2.0.0 Ok: stored as"));
    // The next copy on the same session: the new alert settings.
    start_transaction(&mut c).await;
    c.send(&format!("{}.\r\n", lookalike("after-reload"))).await;
    assert!(c.reply().await.starts_with("250 2.0.0 Ok: stored as"));
    assert!(flagged(&s.store, "after-reload"));
    let old = settled(&one, 1).await;
    assert_eq!(old.len(), 1, "old relay: {old:#?}");
    assert_eq!(old[0].rcpts, ["<a@example.org>"]);
    assert!(old[0].text().contains("before-reload"), "{}", old[0].data);
    let new = settled(&two, 1).await;
    assert_eq!(new.len(), 1, "new relay: {new:#?}");
    assert_eq!(new[0].rcpts, ["<b@example.org>"]);
    assert!(new[0].text().contains("after-reload"), "{}", new[0].data);

    // Alerts turned off: the next flagged copy alerts nobody.
    file.write(&config(None, ""));
    let report = s.reloader.reload().unwrap();
    assert!(
        report.changed.iter().any(|k| k.starts_with("alerts.")),
        "{report:?}"
    );
    start_transaction(&mut c).await;
    c.send(&format!("{}.\r\n", lookalike("alerts-off"))).await;
    assert!(c.reply().await.starts_with("250 2.0.0 Ok: stored as"));
    assert!(flagged(&s.store, "alerts-off"));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        (one.all().len(), two.all().len()),
        (1, 1),
        "no alert after [alerts] went off"
    );
    assert!(c.cmd("QUIT").await.starts_with("221"));
    let _ = s.stop.send(true);
}
