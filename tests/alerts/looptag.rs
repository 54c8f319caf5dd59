//! The loop tag through the real sensor: our own alert mail, delivered back
//! to the sensor as a copy, is stored but raises no alert; the same mail
//! with a forged tag, with only `Auto-Submitted`, or with the real tag
//! pasted onto a message from another address does raise one.
//!
//! `threshold = 0` makes every analysed copy alert-worthy, so the only
//! thing that can keep an alert back is the tag.

use super::capture::Capture;
use super::common::sensor::Client;
use super::common::tempdir::TempDir;
use super::{exactly, flagged};
use authsense::alerts::Summary;
use authsense::config::Config;
use authsense::sensor::{self as sensor_mod, setup};
use std::net::SocketAddr;
use std::time::Duration;

/// `data` with its header unfolded (one line per field).
fn unfold(data: &str) -> String {
    let (head, body) = data.split_once("\r\n\r\n").expect("header end");
    let head = head.replace("\r\n ", " ").replace("\r\n\t", " ");
    format!("{head}\r\n\r\n{body}")
}

/// `data` with every header line starting with `name` replaced by `new`
/// (or removed when `new` is empty).
fn set_field(data: &str, name: &str, new: &str) -> String {
    let (head, body) = data.split_once("\r\n\r\n").unwrap();
    let lines: Vec<&str> = head
        .split("\r\n")
        .map(|l| if l.starts_with(name) { new } else { l })
        .filter(|l| !l.is_empty())
        .collect();
    format!("{}\r\n\r\n{body}", lines.join("\r\n"))
}

/// Delivers `data` to the sensor as a copy; returns the 250 reply.
async fn deliver(addr: SocketAddr, data: &str) -> String {
    let mut c = Client::connect(addr).await;
    assert!(c.reply().await.starts_with("220"));
    for cmd in [
        "EHLO gw.test",
        "MAIL FROM:<b@blackhole.test>",
        "RCPT TO:<admin@example.org>",
    ] {
        assert!(c.cmd(cmd).await.starts_with("250"), "{cmd}");
    }
    assert!(c.cmd("DATA").await.starts_with("354"));
    let stuffed = data.replace("\r\n.", "\r\n..");
    let end = if stuffed.ends_with("\r\n") {
        ""
    } else {
        "\r\n"
    };
    c.send(&format!("{stuffed}{end}")).await;
    let r = c.cmd(".").await;
    assert!(r.starts_with("250 2.0.0 Ok: stored as"), "{r}");
    c.cmd("QUIT").await;
    r
}

#[tokio::test]
async fn own_alert_mail_coming_back_raises_no_alert_but_forgeries_do() {
    let cap = Capture::start().await;
    let mut cfg = Config::parse(&format!(
        "[alerts]\nrelay = \"{}\"\nfrom = \"authsense@sensor.test\"\n\
         to = [\"admin@example.org\"]\nthreshold = 0\n",
        cap.relay()
    ))
    .unwrap();
    let dir = TempDir::new("alerts-loop");
    cfg.store.path = dir.join("a.db");
    let built = setup::build(&cfg).unwrap();
    let sensor = built.sensor.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(sensor_mod::run(listener, sensor.clone(), async move {
        let _ = stopped.await;
    }));

    // The sensor's own alerter mails an alert, tagged with its key.
    let r = flagged("l-1", "Invoice");
    let id = sensor.store.insert(r.clone()).await.unwrap();
    sensor
        .settings()
        .alerts
        .as_ref()
        .unwrap()
        .notify(Summary::of(&r, id));
    let alert = unfold(&exactly(&cap, 1).await.remove(0).data);
    let tag = alert
        .lines()
        .find_map(|l| l.strip_prefix("X-Authsense-Alert: "))
        .expect("alert mail carries the loop tag")
        .to_string();
    assert!(alert.contains("Auto-Submitted: auto-generated"));

    // It comes back through the perimeter: stored, no alert about it.
    deliver(addr, &alert).await;
    assert_eq!(sensor.store.count().unwrap(), 2);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(cap.all().len(), 1, "alerted on our own alert mail");

    // Each forgery is another subject (another dedup key) and alerts.
    let (uid, mac) = tag.split_once("; ").unwrap();
    let flipped: String = mac
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if i == 0 {
                if c == '0' {
                    '1'
                } else {
                    '0'
                }
            } else {
                c
            }
        })
        .collect();
    let forged = set_field(
        &alert,
        "X-Authsense-Alert:",
        &format!("X-Authsense-Alert: {uid}; {flipped}"),
    );
    let untagged = set_field(&alert, "X-Authsense-Alert:", "");
    let pasted = set_field(&alert, "From:", "From: The Boss <ceo@examp1e.com>");
    for (n, (what, data)) in [
        ("forged", forged),
        ("untagged", untagged),
        ("pasted", pasted),
    ]
    .into_iter()
    .enumerate()
    {
        let data = set_field(&data, "Subject:", &format!("Subject: {what} copy"));
        assert!(data.contains("Auto-Submitted: auto-generated"), "{what}");
        deliver(addr, &data).await;
        let all = exactly(&cap, n + 2).await;
        let last = &all[n + 1];
        assert!(
            last.text().contains(&format!("{what} copy")),
            "{what}: {}",
            last.text()
        );
    }
    let _ = stop.send(());
    task.await.unwrap().unwrap();
}
