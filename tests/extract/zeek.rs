//! The Zeek `smtp.log`/`files.log` baselines as a field oracle, on the
//! reconstructed messages in `tests/data/zeek-smtp/reconstructed/`.

use std::time::SystemTime;

use super::{data, extract, opts, Envelope, Gateway};

/// Rows of a Zeek ASCII log as field-name → value maps.
fn zeek_rows(path: &str) -> Vec<std::collections::HashMap<String, String>> {
    let text = String::from_utf8(data(path)).expect("utf-8");
    let fields: Vec<&str> = text
        .lines()
        .find_map(|l| l.strip_prefix("#fields\t"))
        .expect("#fields")
        .split('\t')
        .collect();
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            fields
                .iter()
                .map(|f| f.to_string())
                .zip(l.split('\t').map(str::to_string))
                .collect()
        })
        .collect()
}

fn zeek_set(v: &str) -> Vec<String> {
    let mut out: Vec<String> = match v {
        "-" | "(empty)" => Vec::new(),
        _ => v
            .split(',')
            .map(|s| s.trim().trim_matches(['<', '>']).to_string())
            .collect(),
    };
    out.sort();
    out
}

fn zeek_opt(v: &str) -> Option<String> {
    (v != "-").then(|| v.trim_matches(['<', '>']).to_string())
}

#[test]
fn zeek_baselines_as_field_oracle() {
    let files = zeek_rows("zeek-smtp/attachment/files.log");
    for row in zeek_rows("zeek-smtp/basic/smtp.log") {
        let uid = &row["uid"];
        let raw = data(&format!("zeek-smtp/reconstructed/{uid}.eml"));
        let env = Envelope {
            uid: uid.clone(),
            received_at: SystemTime::UNIX_EPOCH,
            gateway: Gateway {
                ip: row["id.orig_h"].clone(),
                helo: row["helo"].clone(),
                ..Gateway::default()
            },
            mailfrom: row["mailfrom"].clone(),
            rcptto: zeek_set(&row["rcptto"]),
        };
        let r = extract(&raw, env, &opts());
        let mut rcptto = r.rcptto.clone();
        rcptto.sort();
        assert_eq!(rcptto, zeek_set(&row["rcptto"]), "{uid}");
        assert_eq!(r.mailfrom, row["mailfrom"], "{uid}");
        assert_eq!(r.date, zeek_opt(&row["date"]), "{uid}");
        assert_eq!(r.subject, zeek_opt(&row["subject"]), "{uid}");
        assert_eq!(r.msg_id, zeek_opt(&row["msg_id"]), "{uid}");
        assert_eq!(r.in_reply_to, zeek_opt(&row["in_reply_to"]), "{uid}");
        assert_eq!(r.user_agent, zeek_opt(&row["user_agent"]), "{uid}");
        let from = r.from.as_ref().expect("from");
        let zfrom = &row["from"];
        assert!(
            zfrom.contains(from.address.as_deref().unwrap_or("?")),
            "{uid}"
        );
        assert!(zfrom.contains(from.name.as_deref().unwrap_or("?")), "{uid}");
        let addrs = |l: &[authsense::model::Mailbox]| {
            let mut v: Vec<String> = l.iter().filter_map(|m| m.address.clone()).collect();
            v.sort();
            v
        };
        assert_eq!(addrs(&r.to), zeek_set(&row["to"]), "{uid}");
        assert_eq!(addrs(&r.cc), zeek_set(&row["cc"]), "{uid}");
        assert_eq!(addrs(&r.reply_to), zeek_set(&row["reply_to"]), "{uid}");
        let named: Vec<(Option<String>, String, u64)> = files
            .iter()
            .filter(|f| &f["uid"] == uid && f["filename"] != "-")
            .map(|f| {
                (
                    zeek_opt(&f["filename"]),
                    f["mime_type"].clone(),
                    f["seen_bytes"].parse().unwrap_or(0),
                )
            })
            .collect();
        let ours: Vec<(Option<String>, String, u64)> = r
            .attachments
            .iter()
            .map(|a| (a.name.clone(), a.mime_type.clone(), a.size))
            .collect();
        assert_eq!(ours, named, "{uid}");
    }
}
