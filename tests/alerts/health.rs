//! Health alerts: a silent gateway alerts exactly once and re-arms when it
//! sends again; the stamp-health share alerts once below its minimum and
//! re-arms on recovery; the periodic checker started with the sensor sends
//! the silence alert on its own (real clock, seconds).
//!
//! The first two drive `health::check` with explicit times over records
//! whose receive times are set, so they take no sleeps.

use super::capture::Capture;
use super::{config, exactly, store};
use authsense::alerts::{health, Context};
use authsense::model::{AuthSource, Gateway, MethodInfo, Record};
use authsense::sensor::setup;
use authsense::store::Store;
use std::time::{Duration, SystemTime};

/// A copy from `gateway` received at `at`, with trusted results or none.
async fn copy(store: &Store, uid: &str, gateway: &str, at: SystemTime, trusted: bool) {
    let mut r = Record {
        uid: uid.into(),
        ts: humantime::format_rfc3339_millis(at).to_string(),
        gateway: Gateway {
            ip: gateway.into(),
            ..Gateway::default()
        },
        ..Record::default()
    };
    if trusted {
        r.auth.source = AuthSource::XAgari;
        r.auth.spf = Some(MethodInfo {
            result: "pass".into(),
            ..MethodInfo::default()
        });
    }
    store.insert(r).await.unwrap();
}

#[tokio::test]
async fn silent_gateway_alerts_once_then_rearms() {
    let cap = Capture::start().await;
    let (_dir, store) = store();
    let cfg = config(&cap, "gateway_silence = \"1h\"\n").alerts;
    let ctx = Context::new(&cfg, store.clone(), "sensor.test", &super::wiring()).unwrap();
    let t0 = SystemTime::now() - Duration::from_secs(6 * 3600);
    let min = |m: u64| t0 + Duration::from_secs(60 * m);
    copy(&store, "g-1", "192.0.2.25", t0, true).await;
    copy(&store, "g-2", "192.0.2.26", t0, true).await;
    copy(&store, "g-3", "192.0.2.26", min(50), true).await;
    assert_eq!(health::check(&ctx, min(30)).await, 0, "not silent yet");
    assert_eq!(
        health::check(&ctx, min(61)).await,
        1,
        ".25 silent for 61 min"
    );
    assert_eq!(
        health::check(&ctx, min(90)).await,
        0,
        "still silent: no repeat"
    );
    let all = exactly(&cap, 1).await;
    assert!(
        all[0].subject().contains("gateway 192.0.2.25 silent"),
        "{}",
        all[0].subject()
    );
    assert_eq!(all[0].rcpts, ["<admin@example.org>"]);
    // .26 went silent too (last copy at 50 min) …
    assert_eq!(health::check(&ctx, min(111)).await, 1);
    // … and .25 comes back, which re-arms it; silent again an hour later.
    copy(&store, "g-4", "192.0.2.25", min(120), true).await;
    assert_eq!(health::check(&ctx, min(121)).await, 0);
    assert_eq!(health::check(&ctx, min(150)).await, 0);
    assert_eq!(
        health::check(&ctx, min(181)).await,
        1,
        "second silence, second alert"
    );
    let all = exactly(&cap, 3).await;
    assert!(all[1].subject().contains("192.0.2.26"));
    assert!(all[2].subject().contains("192.0.2.25"));
}

#[tokio::test]
async fn health_alerts_over_their_budget_go_into_the_health_digest() {
    let cap = Capture::start().await;
    let (_dir, store) = store();
    let cfg = config(&cap, "gateway_silence = \"1h\"\nhealth_per_hour = 1\n").alerts;
    let ctx = Context::new(&cfg, store.clone(), "sensor.test", &super::wiring()).unwrap();
    let t0 = SystemTime::now() - Duration::from_secs(6 * 3600);
    copy(&store, "b-1", "192.0.2.31", t0, true).await;
    copy(&store, "b-2", "192.0.2.32", t0, true).await;
    let later = t0 + Duration::from_secs(2 * 3600);
    assert_eq!(health::check(&ctx, later).await, 1, "one within the budget");
    assert_eq!(ctx.flush_digests().await, 1);
    let all = exactly(&cap, 2).await;
    assert!(all[0].subject().contains("gateway 192.0.2.31 silent"));
    assert_eq!(
        all[1].subject(),
        "[authsense] digest: 1 health alerts held back"
    );
    assert!(
        all[1].text().contains(
            "[authsense] health: gateway 192.0.2.32 silent for 2h (health_per_hour reached)"
        ),
        "{}",
        all[1].text()
    );
    assert_eq!(
        health::check(&ctx, later).await,
        0,
        "held back, not repeated"
    );
    assert_eq!(ctx.flush_digests().await, 0, "nothing new to digest");
}

#[tokio::test]
async fn stamp_health_alerts_once_then_rearms() {
    let cap = Capture::start().await;
    let (_dir, store) = store();
    let extra = "stamp_health_min_share = 0.5\nstamp_health_window = \"1h\"\n\
                 stamp_health_min_copies = 4\ngateway_silence = \"0s\"\n";
    let cfg = config(&cap, extra).alerts;
    let ctx = Context::new(&cfg, store.clone(), "sensor.test", &super::wiring()).unwrap();
    let t0 = SystemTime::now() - Duration::from_secs(6 * 3600);
    let at = |s: u64| t0 + Duration::from_secs(s);
    for i in 0..3 {
        copy(&store, &format!("s-{i}"), "192.0.2.25", at(i), false).await;
    }
    assert_eq!(
        health::check(&ctx, at(10)).await,
        0,
        "3 copies: too few to judge"
    );
    copy(&store, "s-3", "192.0.2.25", at(3), false).await;
    assert_eq!(health::check(&ctx, at(10)).await, 1, "0 of 4 trusted");
    assert_eq!(health::check(&ctx, at(20)).await, 0, "no repeat while low");
    let all = exactly(&cap, 1).await;
    assert!(
        all[0].subject().contains("only 0% of copies"),
        "{}",
        all[0].subject()
    );
    assert!(all[0].data.contains("Of the 4 copies"));
    for i in 0..6 {
        copy(&store, &format!("t-{i}"), "192.0.2.25", at(30 + i), true).await;
    }
    assert_eq!(
        health::check(&ctx, at(40)).await,
        0,
        "6 of 10 trusted: recovered"
    );
    for i in 0..6 {
        copy(&store, &format!("u-{i}"), "192.0.2.25", at(50 + i), false).await;
    }
    assert_eq!(health::check(&ctx, at(60)).await, 1, "6 of 16: low again");
    exactly(&cap, 2).await;
    // Out of the window, nothing to judge.
    assert_eq!(health::check(&ctx, at(3 * 3600)).await, 0);
}

#[tokio::test]
async fn checker_started_with_the_sensor_alerts_after_the_silence() {
    let cap = Capture::start().await;
    let mut cfg = config(&cap, "gateway_silence = \"2s\"\n");
    let dir = super::common::tempdir::TempDir::new("alerts-health");
    cfg.store.path = dir.join("a.db");
    let built = setup::build(&cfg).unwrap();
    let store = built.sensor.store.clone();
    copy(&store, "r-1", "192.0.2.25", SystemTime::now(), true).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(cap.all().is_empty(), "not silent for 2 s yet");
    let all = cap.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(all.len(), 1, "{all:#?}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(cap.all().len(), 1, "one alert per silence");
    assert!(cap.all()[0].subject().contains("gateway 192.0.2.25 silent"));
    drop(built.sensor);
    built.alerts.unwrap().finish(Duration::from_secs(5)).await;
}
