//! The OpenSPF RFC 7208 conformance suite (tests/data/openspf, from pyspf)
//! run through authsense's own evaluation path: `Authenticator::check_spf`
//! with a real resolver asking an in-process DNS server that serves each
//! scenario's zone data. Driver conventions follow pyspf's test/testspf.py:
//! SPF-type records are served as TXT unless the name has TXT of its own,
//! `TIMEOUT` names never answer, the MAIL FROM result is compared, any listed
//! result is accepted, and a `DEFAULT` explanation means "no exp= text".
//!
//! The test reports N/203, fails on any case outside `KNOWN_FAILURES`
//! (documented in docs/conformance.md), and fails if a known failure starts
//! passing (so the list stays true).

mod common;

use authsense::auth::{Authenticator, SpfRequest};
use common::dns::{FakeDns, Rec, Zone};
use serde_yaml::Value;
use std::time::Duration;

/// Cases authsense gets wrong today, with the reason (see docs/conformance.md).
const KNOWN_FAILURES: &[(&str, &str)] = &[];

fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| b as char).collect()
}

fn bytes(s: &str) -> Vec<u8> {
    s.chars().map(|c| c as u32 as u8).collect()
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => panic!("unexpected scalar {other:?}"),
    }
}

/// The scenario's zone, read as pyspf's testspf.py does (`getrdata` and
/// `DNSLookup`): records in listed order; `TIMEOUT` makes every type that no
/// earlier record answered time out and ends the list; a `NONE` value is no
/// record; SPF-type records are appended as TXT (after any `TIMEOUT`, so
/// never reached then) unless the name lists TXT of its own.
fn zone(data: &Value) -> Zone {
    let mut z = Zone::default();
    let Value::Mapping(map) = data else { return z };
    for (name, recs) in map {
        let name = text(name).to_ascii_lowercase();
        let name = name.trim_end_matches('.').to_string();
        let recs: Vec<&Value> = recs.as_sequence().into_iter().flatten().collect();
        let gen_txt = !recs.iter().any(|r| r.get("TXT").is_some());
        let mut generated = Vec::new();
        let mut timed_out = false;
        for r in recs {
            if r.as_str() == Some("TIMEOUT") {
                if z.records.contains_key(&name) {
                    z.partial_timeout.insert(name.clone());
                } else {
                    z.timeout.insert(name.clone());
                }
                timed_out = true;
                break;
            }
            let Value::Mapping(m) = r else {
                panic!("{r:?}")
            };
            let (ty, val) = m.iter().next().unwrap();
            if val.as_str() == Some("NONE") {
                continue;
            }
            let txt = |v: &Value| match v {
                Value::Sequence(parts) => Rec::Txt(parts.iter().map(|p| bytes(&text(p))).collect()),
                v => Rec::Txt(vec![bytes(&text(v))]),
            };
            let rec = match ty.as_str().unwrap() {
                "TXT" => txt(val),
                "SPF" => {
                    if gen_txt {
                        generated.push(txt(val));
                    }
                    continue;
                }
                "A" => Rec::A(text(val).parse().unwrap()),
                "AAAA" => Rec::Aaaa(text(val).parse().unwrap()),
                "MX" => {
                    let s = val.as_sequence().unwrap();
                    Rec::Mx(s[0].as_u64().unwrap() as u16, text(&s[1]))
                }
                "PTR" => Rec::Ptr(text(val)),
                "CNAME" => Rec::Cname(text(val)),
                other => panic!("record type {other}"),
            };
            z.add(&name, rec);
        }
        if !timed_out {
            for rec in generated {
                z.add(&name, rec);
            }
        }
    }
    z
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openspf_rfc7208_suite() {
    let raw = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/openspf/rfc7208-tests.yml"
    ))
    .unwrap();
    let raw = latin1(&raw);
    let mut total = 0;
    let mut failures: Vec<(String, String)> = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(&raw) {
        let scenario = Value::deserialize(doc).unwrap();
        let dns = FakeDns::start(zone(&scenario["zonedata"])).await;
        let mut cfg = authsense::config::Config::default();
        cfg.dns.nameservers = vec![dns.addr];
        cfg.dns.timeout_ms = 300;
        cfg.dns.attempts = 0;
        let auth = Authenticator::new(&cfg.dns).unwrap();
        let Value::Mapping(tests) = &scenario["tests"] else {
            panic!()
        };
        for (name, t) in tests {
            total += 1;
            let name = text(name);
            let want: Vec<String> = match &t["result"] {
                Value::Sequence(s) => s.iter().map(text).collect(),
                v => vec![text(v)],
            };
            let (host, helo, mailfrom) = (text(&t["host"]), text(&t["helo"]), text(&t["mailfrom"]));
            let req = SpfRequest {
                ip: host.parse().unwrap(),
                helo: &helo,
                mail_from: &mailfrom,
                receiver: "receiver.example",
            };
            let got = auth
                .check_spf(&req, Duration::from_secs(10))
                .await
                .mail_from;
            let mut ok = want.iter().any(|w| w == got.result.as_str());
            let mut why = format!("got {}, want {}", got.result, want.join("|"));
            if ok {
                if let Some(exp) = t.get("explanation").map(text) {
                    let got_exp = got.explanation.clone().unwrap_or_else(|| "DEFAULT".into());
                    if got.result.as_str() == "fail" && got_exp != exp {
                        ok = false;
                        why = format!("explanation {got_exp:?}, want {exp:?}");
                    }
                }
            }
            if !ok {
                failures.push((name, why));
            }
        }
    }
    assert_eq!(total, 203, "the suite has 203 tests");
    common::conformance::verdict("OpenSPF rfc7208-tests", total, &failures, KNOWN_FAILURES);
}

use serde::Deserialize;
