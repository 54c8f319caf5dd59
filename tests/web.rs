//! The web UI and JSON API over HTTP against a real sensor and store on
//! ephemeral ports: search filters and paging, the detail view and 404s,
//! the bearer token, the `Host:` check (DNS rebinding), HTML escaping of a
//! hostile subject, the status report,
//! and `/metrics` read back by a Prometheus text-format parser.

mod common;
#[path = "web/http.rs"]
mod http;

use authsense::config::Config;
use authsense::model::{AuthSource, MethodInfo, Record, Verdict};
use common::sensor::{message, Client, TestSensor};
use http::{get, raw, serve};
use std::time::{Duration, SystemTime};

const XA: &str = "X-Agari-Authentication-Results: mx.example.com; spf=pass smtp.mailfrom=alice@pass.example smtp.helo=mail.pass.example\r\n";

async fn sensor() -> TestSensor {
    let mut c = Config::default();
    c.sensor.trusted_authserv_ids = vec!["mx.example.com".into()];
    // Make sure the sensor's counters land in the recorder /metrics renders.
    authsense::metrics::install();
    TestSensor::spawn(c).await
}

/// Delivers one copy over SMTP; returns the 250 reply.
async fn deliver(s: &TestSensor, headers: &str, subject: &str) -> String {
    let mut c = Client::connect(s.addr).await;
    c.reply().await;
    assert!(c.cmd("EHLO gw.example.com").await.starts_with("250"));
    assert!(c
        .cmd("MAIL FROM:<bh@gw.example.com>")
        .await
        .starts_with("250"));
    assert!(c.cmd("RCPT TO:<rcpt@example.net>").await.starts_with("250"));
    assert!(c.cmd("DATA").await.starts_with("354"));
    c.send(&message(headers, subject)).await;
    let r = c.cmd(".").await;
    assert!(r.starts_with("250"), "{r}");
    c.cmd("QUIT").await;
    r
}

fn ts(ago_s: u64) -> String {
    let t = SystemTime::now() - Duration::from_secs(ago_s);
    humantime::format_rfc3339_millis(t).to_string()
}

/// A record as the sensor would store it, for filter tests.
fn rec(n: u64, sender: &str, spf: &str, verdict: Option<Verdict>, score: Option<u8>) -> Record {
    Record {
        ts: ts(100 - n),
        uid: format!("web-test-{n}"),
        gateway: authsense::model::Gateway {
            ip: if n % 2 == 0 { "192.0.2.1" } else { "192.0.2.2" }.into(),
            helo: "gw.example".into(),
            ..Default::default()
        },
        mailfrom: "bh@gw.example".into(),
        rcptto: vec![format!("user{n}@example.net")],
        original: authsense::model::Original {
            mailfrom: Some(sender.into()),
            ..Default::default()
        },
        auth: authsense::model::AuthInfo {
            source: AuthSource::XAgari,
            spf: Some(MethodInfo {
                result: spf.into(),
                ..Default::default()
            }),
            ..Default::default()
        },
        subject: Some(format!("Subject number {n}")),
        verdict,
        score,
        ..Default::default()
    }
}

fn subjects(v: &serde_json::Value) -> Vec<String> {
    v["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["subject"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn api_search_filters_paging_detail_and_404() {
    let s = sensor().await;
    let mal = Some(Verdict::Malicious);
    for r in [
        rec(
            1,
            "alice@pass.example",
            "pass",
            Some(Verdict::Trusted),
            Some(0),
        ),
        rec(2, "bob@fail.example", "fail", mal, Some(9)),
        rec(
            3,
            "carol@pass.example",
            "pass",
            Some(Verdict::Suspicious),
            Some(5),
        ),
        rec(4, "dave@fail.example", "fail", None, None),
        rec(5, "eve@other.example", "softfail", mal, Some(7)),
    ] {
        s.store.insert(r).await.unwrap();
    }
    let (web, _stop) = serve(s.store.clone(), None).await;
    let q = |p: &'static str| async move { get(web, p, None).await };
    let all = q("/api/messages").await;
    assert_eq!(all.status, 200);
    assert!(all.headers.contains("content-type: application/json"));
    assert_eq!(subjects(&all.json()).len(), 5);
    for (path, want) in [
        ("/api/messages?spf=fail", vec![4, 2]),
        ("/api/messages?sender=ALICE", vec![1]),
        ("/api/messages?domain=fail.example", vec![4, 2]),
        ("/api/messages?verdict=malicious", vec![5, 2]),
        ("/api/messages?min_score=6", vec![5, 2]),
        ("/api/messages?gateway=192.0.2.1", vec![4, 2]),
        ("/api/messages?subject=number%203", vec![3]),
        ("/api/messages?recipient=user5%40", vec![5]),
        ("/api/messages?spf=pass&verdict=suspicious", vec![3]),
        ("/api/messages?sender=&subject=", vec![5, 4, 3, 2, 1]),
    ] {
        let got = subjects(&q(path).await.json());
        let want: Vec<String> = want.iter().map(|n| format!("Subject number {n}")).collect();
        assert_eq!(got, want, "{path}");
    }
    // Paging: two per page, following next_after to the end.
    let mut seen = Vec::new();
    let mut path = "/api/messages?limit=2".to_string();
    for _ in 0..5 {
        let page = get(web, &path, None).await.json();
        seen.extend(subjects(&page));
        match page["next_after"].as_i64() {
            Some(after) => path = format!("/api/messages?limit=2&after={after}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5, "{seen:?}");
    assert_eq!(seen[0], "Subject number 5");
    assert_eq!(seen[4], "Subject number 1");
    // Bad input is a 400 naming the parameter, never a silent full list.
    for (path, word) in [
        ("/api/messages?min_score=x", "min_score"),
        ("/api/messages?verdict=evil", "verdict"),
        ("/api/messages?limit=0", "limit"),
        ("/api/messages?sendr=alice", "sendr"),
    ] {
        let r = q(path).await;
        assert_eq!(r.status, 400, "{path}");
        assert!(
            r.json()["error"].as_str().unwrap().contains(word),
            "{path}: {}",
            r.body
        );
    }
    // Detail and 404s.
    let id = all.json()["messages"][0]["id"].as_i64().unwrap();
    let one = get(web, &format!("/api/messages/{id}"), None).await;
    assert_eq!(one.status, 200);
    assert_eq!(one.json()["subject"], "Subject number 5");
    assert_eq!(one.json()["verdict"], "malicious");
    for path in [
        "/api/messages/999999",
        "/api/messages/abc",
        "/messages/999999",
        "/nowhere",
    ] {
        assert_eq!(q(path).await.status, 404, "{path}");
    }
    let page = get(web, &format!("/messages/{id}"), None).await;
    assert_eq!(page.status, 200);
    assert!(page
        .body
        .contains("id=\"message-subject\">Subject number 5<"));
    assert!(page
        .body
        .contains("class=\"verdict-malicious\">malicious</span> (7)"));
    // The HTML list honours the same filters and links to the older page.
    let list = q("/messages?spf=fail&limit=1").await;
    assert_eq!(list.status, 200);
    assert!(list.body.contains("Subject number 4") && !list.body.contains("Subject number 2"));
    assert!(list
        .body
        .contains("id=\"older\" href=\"/messages?spf=fail&amp;limit=1&amp;after="));
}

#[tokio::test]
async fn hostile_subject_is_escaped_in_html() {
    let s = sensor().await;
    let evil = "<script>alert(1)</script> \"><img src=x onerror=alert(2)> & more";
    deliver(&s, XA, evil).await;
    let (web, _stop) = serve(s.store.clone(), None).await;
    let api = get(web, "/api/messages", None).await.json();
    assert_eq!(
        api["messages"][0]["subject"], evil,
        "the API keeps the raw text"
    );
    let id = api["messages"][0]["id"].as_i64().unwrap();
    for path in ["/messages".to_string(), format!("/messages/{id}")] {
        let r = get(web, &path, None).await;
        assert_eq!(r.status, 200);
        assert!(r.headers.contains("content-type: text/html"));
        assert!(!r.body.contains("<script>alert"), "{path}: raw script tag");
        assert!(!r.body.contains("<img src=x"), "{path}: raw img tag");
        assert!(
            r.body.contains("&lt;script&gt;alert(1)&lt;/script&gt; &quot;&gt;&lt;img src=x onerror=alert(2)&gt; &amp; more"),
            "{path}: escaped subject missing"
        );
    }
}

#[tokio::test]
async fn token_is_required_everywhere_when_set() {
    let s = sensor().await;
    let (web, _stop) = serve(s.store.clone(), Some("s3cret-token")).await;
    for path in ["/", "/messages", "/api/status", "/api/messages", "/metrics"] {
        let none = get(web, path, None).await;
        assert_eq!(none.status, 401, "{path} without a token");
        assert!(none.headers.contains("www-authenticate: bearer"));
        assert_eq!(get(web, path, Some("wrong")).await.status, 401, "{path}");
        assert_eq!(
            get(web, path, Some("s3cret-token")).await.status,
            200,
            "{path}"
        );
    }
}

#[tokio::test]
async fn only_allowed_hosts_are_answered_token_or_not() {
    let s = sensor().await;
    for token in [None, Some("s3cret-token")] {
        let (web, _stop) = serve(s.store.clone(), token).await;
        let port = web.port();
        let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
        for host in [
            format!("127.0.0.1:{port}"),
            format!("localhost:{port}"),
            format!("LocalHost.:{port}"),
            format!("[::1]:{port}"),
            "localhost".to_string(),
            "[::1]".to_string(),
        ] {
            let r = raw(web, &format!("Host: {host}\r\n{auth}"), "/api/status").await;
            assert_eq!(r.status, 200, "{host} (token {token:?}): {}", r.body);
        }
        for host in [
            format!("attacker.example:{port}"),
            "attacker.example".to_string(),
            format!("localhost:{}", port.wrapping_add(1)),
            format!("[::2]:{port}"),
            format!("127.0.0.2:{port}"),
            format!("localhost.attacker.example:{port}"),
        ] {
            let r = raw(web, &format!("Host: {host}\r\n{auth}"), "/metrics").await;
            assert_eq!(r.status, 421, "{host} (token {token:?})");
            assert!(
                r.body.contains("not in [web] allowed_hosts") && !r.body.contains("authsense_"),
                "{}",
                r.body
            );
        }
        let none = raw(web, &auth, "/api/status").await;
        assert_eq!(none.status, 400, "no Host");
        let two = format!("Host: 127.0.0.1:{port}\r\nHost: attacker.example\r\n{auth}");
        assert_ne!(raw(web, &two, "/api/status").await.status, 200, "two Hosts");
        // Absolute form: the authority, not a Host header, names the host.
        let abs = format!("http://attacker.example:{port}/api/status");
        let r = raw(web, &format!("Host: 127.0.0.1:{port}\r\n{auth}"), &abs).await;
        assert_eq!(r.status, 421, "absolute-form authority");
    }
}

#[tokio::test]
async fn status_report_per_gateway_with_state_and_rule() {
    let s = sensor().await;
    let (web, _stop) = serve(s.store.clone(), None).await;
    let empty = get(web, "/api/status", None).await.json();
    assert_eq!(empty["state"], "red", "no gateway yet is red");
    // Two copies stamped by the perimeter, one without any trusted header.
    deliver(&s, XA, "one").await;
    deliver(&s, XA, "two").await;
    deliver(&s, "", "three").await;
    let st = get(web, "/api/status", None).await.json();
    let g = &st["gateways"][0];
    assert_eq!(st["gateways"].as_array().unwrap().len(), 1, "{st}");
    assert_eq!(g["gateway_ip"], "127.0.0.1");
    assert_eq!(g["helo"], "gw.example.com");
    assert_eq!(g["total"], 3);
    assert_eq!(g["x_agari"], 2);
    assert_eq!(g["broken"], 1);
    assert_eq!(g["per_minute"].as_array().unwrap().len(), 60);
    assert_eq!(g["per_minute"][59], 3, "all in the current minute: {g}");
    // One in three without trusted results: yellow (10%), not red (50%).
    assert_eq!(g["state"], "yellow");
    assert!(g["rule"]
        .as_str()
        .unwrap()
        .contains("33% of copies lack trusted SPF results"));
    assert_eq!(st["state"], "yellow");
    assert_eq!(st["records"], 3);
    assert_eq!(st["store"]["backend"], "sqlite", "{st}");
    assert!(st.get("export").is_none(), "export is off: {st}");
    let page = get(web, "/", None).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("<tr class=\"gateway\" data-ip=\"127.0.0.1\"><td><span class=\"state state-yellow\">yellow</span>"));
    assert!(page.body.contains("<td>67%</td>"), "x-agari share");
}

#[tokio::test]
async fn metrics_parse_as_prometheus_text() {
    let s = sensor().await;
    deliver(&s, XA, "counted").await;
    let (web, _stop) = serve(s.store.clone(), None).await;
    let r = get(web, "/metrics", None).await;
    assert_eq!(r.status, 200);
    assert!(r
        .headers
        .contains("content-type: text/plain; version=0.0.4"));
    let lines = r.body.lines().map(|l| Ok(l.to_string()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("valid exposition format");
    let value = |name: &str, label: Option<(&str, &str)>| {
        scrape
            .samples
            .iter()
            .find(|s| s.metric == name && label.is_none_or(|(k, v)| s.labels.get(k) == Some(v)))
            .map(|s| s.value.clone())
    };
    let counter = |name, label| match value(name, label) {
        Some(prometheus_parse::Value::Counter(v)) | Some(prometheus_parse::Value::Untyped(v)) => v,
        other => panic!("{name} {label:?}: {other:?}\n{}", r.body),
    };
    assert!(counter("authsense_sensor_sessions_total", None) >= 1.0);
    assert!(
        counter(
            "authsense_sensor_messages_total",
            Some(("auth_source", "x-agari"))
        ) >= 1.0
    );
    assert!(counter("authsense_sensor_bytes_total", None) >= 100.0);
    assert!(counter("authsense_sensor_results_total", Some(("result", "pass"))) >= 1.0);
    assert_eq!(
        counter("authsense_alerts_sent_total", Some(("kind", "threat"))),
        0.0
    );
    assert_eq!(
        counter("authsense_alerts_sent_total", Some(("kind", "health"))),
        0.0
    );
    assert!(matches!(
        value("authsense_store_insert_seconds", None),
        Some(prometheus_parse::Value::Histogram(_))
    ));
    assert!(scrape
        .docs
        .contains_key("authsense_sensor_parse_errors_total"));
}
