//! The sensor's metadata extractor, `sensor::extract::extract`, over an
//! arbitrary message with a fixed envelope and the default limits, then the
//! analysis the sensor runs on the record (with organisation domains and
//! protected names, so every rule is reachable) and the JSON serialisation
//! the store writes.
//!
//! Oracles: no panic (`extract` promises never to panic; note that
//! libFuzzer's panic hook aborts even on a panic that `extract` would catch
//! around mail-parser, so such a panic is reported here too), the size is the
//! input's, the score is at most 10 and the record serialises.
//!
//! Then a differential oracle (issue 18, `probe.rs`): the input also drives
//! a probe generator that builds a message around attachments it knows —
//! the input's bytes as their contents, as noise in text parts, preamble
//! and an unclosed inner multipart, with junk in the base64, inside a
//! forwarded message or not — and no attachment it inserted may be missing
//! from the record, nor listed with another size, digest or depth.
#![no_main]

mod probe;

use std::time::{Duration, UNIX_EPOCH};

use authsense::config::AnalysisConfig;
use authsense::headers::seal::Keys;
use authsense::ingest::analysis::{self, SeenAll};
use authsense::ingest::extract::{extract, Envelope, ExtractOptions};
use authsense::model::Gateway;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let env = Envelope {
        uid: "U1".to_string(),
        received_at: UNIX_EPOCH + Duration::from_millis(1_704_189_600_123),
        gateway: Gateway {
            ip: "192.0.2.25".to_string(),
            port: 42424,
            helo: "pps.example.com".to_string(),
            ..Gateway::default()
        },
        mailfrom: "no-reply@example.com".to_string(),
        rcptto: vec!["bob@example.com".to_string()],
    };
    // gw.example.com's stamps must be sealed (exercising seal checks);
    // journal reports from this gateway are unwrapped.
    let opts = ExtractOptions {
        trusted_authserv_ids: vec!["MX.example.com".to_string(), "gw.example.com".to_string()],
        sealed_authserv_ids: vec!["gw.example.com".to_string()],
        seal_keys: Keys::new(vec![vec![1u8; 32]]).ok(),
        journal_sources: vec!["192.0.2.0/24".parse().expect("valid CIDR")],
        ..ExtractOptions::default()
    };
    let mut rec = extract(data, env, &opts);
    assert_eq!(rec.size, data.len() as u64);
    let cfg = AnalysisConfig {
        org_domains: vec!["example.com".to_string(), "xn--bcher-kva.example".to_string()],
        vip_names: vec!["Jane Doe".to_string()],
        ..AnalysisConfig::default()
    };
    analysis::apply(&mut rec, &cfg, &SeenAll);
    assert!(rec.score.is_some_and(|s| s <= analysis::MAX_SCORE));
    serde_json::to_string(&rec).expect("record serialises");

    let (message, inserted) = probe::build(data);
    let rec = extract(&message, probe::envelope(), &ExtractOptions::default());
    for want in &inserted {
        assert!(
            rec.attachments.iter().any(|a| a.name.as_deref() == Some(want.name.as_str())
                && a.size == want.size
                && a.sha256 == want.sha256
                && a.depth == want.depth),
            "inserted attachment {want:?} missing from {:?}",
            rec.attachments
        );
    }
});
