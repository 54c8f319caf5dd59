//! Records for the analysis tests: a clean one and builders.
#![allow(dead_code)]

use authsense::model::{AuthInfo, AuthSource, Mailbox, MethodInfo, Original, Record};

/// A method result with properties.
pub fn method(result: &str, props: &[(&str, &str)]) -> MethodInfo {
    MethodInfo {
        result: result.into(),
        props: props
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        source: AuthSource::XAgari,
        ..MethodInfo::default()
    }
}

/// A mailbox.
pub fn mailbox(name: Option<&str>, address: &str) -> Mailbox {
    Mailbox {
        name: name.map(str::to_string),
        address: Some(address.into()),
    }
}

/// Mail from alice@sender.example with SPF, DKIM and DMARC passing and
/// aligned, no Reply-To: nothing for any rule.
pub fn clean() -> Record {
    Record {
        ts: "2026-11-27T10:00:00.000Z".into(),
        uid: "clean-1".into(),
        mailfrom: "blackhole@example.com".into(),
        rcptto: vec!["bob@example.com".into()],
        original: Original {
            mailfrom: Some("alice@sender.example".into()),
            helo: Some("mail.sender.example".into()),
            client_ip: Some("192.0.2.10".into()),
        },
        auth: AuthInfo {
            source: AuthSource::XAgari,
            authserv_id: Some("mx.example.com".into()),
            spf: Some(method("pass", &[("smtp.mailfrom", "alice@sender.example")])),
            dkim: vec![method("pass", &[("header.d", "sender.example")])],
            dmarc: Some(method("pass", &[("header.from", "sender.example")])),
            ..AuthInfo::default()
        },
        from: Some(mailbox(Some("Alice"), "alice@sender.example")),
        to: vec![mailbox(Some("Bob"), "bob@example.com")],
        subject: Some("quarterly numbers".into()),
        msg_id: Some("q1@sender.example".into()),
        ..Record::default()
    }
}
