//! Shared fixtures of the store tests: a temp directory (and, with
//! `AUTHSENSE_TEST_PG_URL` set, a fresh PostgreSQL database per test) and
//! records.
//!
//! `AUTHSENSE_TEST_PG_URL=postgres://postgres@127.0.0.1:PORT/postgres` runs
//! the whole suite against PostgreSQL (`tests/run-all` does, with a private
//! server from `postfix-test/pg`): each test creates its own database on that
//! server and drops it at the end.

use super::tempdir;
use authsense::model::{
    Anomalies, Attachment, AuthInfo, AuthSource, Gateway, Hop, Mailbox, MethodInfo, Original,
    Record, UrlInfo,
};
use authsense::store::Filter;
use std::time::{Duration, SystemTime};

/// The PostgreSQL server the suite runs against, if any.
const PG_ENV: &str = "AUTHSENSE_TEST_PG_URL";

/// A fresh directory under the system temp dir (`tempdir::TempDir`, removed
/// on drop); with [`PG_ENV`] set, also a fresh database, dropped on drop.
pub struct TempDir(pub tempdir::TempDir, Option<(String, String)>);

/// Runs a PostgreSQL admin statement on a thread of its own (the
/// `postgres` crate must not run inside the tests' tokio runtime).
fn pg_admin(server: &str, sql: String) {
    let server = server.to_string();
    std::thread::spawn(move || {
        let mut c = postgres::Client::connect(&server, postgres::NoTls).expect("connect to PG");
        c.batch_execute(&sql).expect("PG admin statement");
    })
    .join()
    .expect("PG admin thread");
}

/// `true` (after printing why) when the suite runs against PostgreSQL and
/// the calling test checks something only SQLite has.
pub fn skip_on_pg(what: &str) -> bool {
    let skip = std::env::var_os(PG_ENV).is_some();
    if skip {
        println!("skipped on PostgreSQL: {what} is SQLite-specific");
    }
    skip
}

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let dir = tempdir::TempDir::new(&format!("store-{name}"));
        let pg = std::env::var(PG_ENV).ok().map(|server| {
            let db = format!(
                "authsense_t{}_{}",
                std::process::id(),
                name.replace('-', "_")
            );
            pg_admin(
                &server,
                format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
            );
            pg_admin(&server, format!("CREATE DATABASE {db}"));
            (server, db)
        });
        TempDir(dir, pg)
    }

    /// PostgreSQL only: terminates every connection to the test's database
    /// (a server restart or failover, as the store sees it). `false` on
    /// SQLite.
    pub fn drop_connections(&self) -> bool {
        let Some((server, db)) = &self.1 else {
            return false;
        };
        pg_admin(
            server,
            format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = '{db}' AND pid <> pg_backend_pid()"
            ),
        );
        true
    }

    /// Where the test's store lives: a SQLite path, or a PostgreSQL URL.
    pub fn db(&self) -> String {
        match &self.1 {
            None => self.0.join("sensor.db").display().to_string(),
            Some((server, db)) => {
                let base = server.rsplit_once('/').map_or(server.as_str(), |(b, _)| b);
                format!("{base}/{db}")
            }
        }
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if let Some((server, db)) = &self.1 {
            pg_admin(server, format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"));
        }
    }
}

/// RFC 3339 (ms) for `minutes` minutes before a fixed recent instant.
pub fn ts(minutes_ago: u64) -> String {
    let t = SystemTime::now() - Duration::from_secs(60 * minutes_ago);
    humantime::format_rfc3339_millis(t).to_string()
}

pub fn mailbox(address: &str) -> Mailbox {
    Mailbox {
        name: Some("Some Body".into()),
        address: Some(address.into()),
    }
}

pub fn method(result: &str) -> MethodInfo {
    MethodInfo {
        result: result.into(),
        reason: None,
        props: vec![("smtp.mailfrom".into(), "alice@sender.example".into())],
        source: AuthSource::XAgari,
    }
}

/// A fully populated record.
pub fn record(uid: &str, minutes_ago: u64) -> Record {
    Record {
        id: None,
        ts: ts(minutes_ago),
        uid: uid.into(),
        gateway: Gateway {
            ip: "192.0.2.25".into(),
            port: 40123,
            helo: "gw.example.com".into(),
            tls: true,
            tls_version: Some("TLSv1_3".into()),
            tls_cipher: Some("TLS13_AES_256_GCM_SHA384".into()),
        },
        mailfrom: "blackhole@sensor.invalid".into(),
        rcptto: vec!["bob@example.com".into()],
        original: Original {
            mailfrom: Some("alice@sender.example".into()),
            helo: Some("mx.sender.example".into()),
            client_ip: Some("198.51.100.7".into()),
        },
        auth: AuthInfo {
            source: AuthSource::XAgari,
            authserv_id: Some("gw.example.com".into()),
            spf: Some(method("pass")),
            dkim: vec![method("pass")],
            raw: Some("gw.example.com; spf=pass".into()),
            ..Default::default()
        },
        from: Some(mailbox("alice@sender.example")),
        to: vec![mailbox("bob@example.com")],
        cc: vec![mailbox("carol@example.com")],
        subject: Some("Quarterly Report".into()),
        msg_id: Some(format!("{uid}@sender.example")),
        references: vec!["a@b".into()],
        path: vec![Hop {
            from_host: Some("mx.sender.example".into()),
            from_ip: Some("198.51.100.7".into()),
            by_host: Some("gw.example.com".into()),
        }],
        size: 4242,
        attachments: vec![Attachment {
            name: Some("r.pdf".into()),
            mime_type: "application/pdf".into(),
            size: 10,
            sha256: "00".repeat(32),
            ..Default::default()
        }],
        urls: vec![UrlInfo {
            url: "https://sender.example/x".into(),
            host: "sender.example".into(),
            ..Default::default()
        }],
        anomalies: Anomalies {
            bare_lf: 1,
            ..Default::default()
        },
        ..Default::default()
    }
}

pub fn uids(records: &[Record]) -> Vec<String> {
    records.iter().map(|r| r.uid.clone()).collect()
}

/// `Some(v.to_string())`, for filter fields.
pub fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

/// A filter with one edit applied to the default.
pub fn filter(edit: impl FnOnce(&mut Filter)) -> Filter {
    let mut f = Filter::default();
    edit(&mut f);
    f
}
