//! Process metrics for `/metrics`: the `metrics` facade's global recorder,
//! rendered in the Prometheus text format by `metrics-exporter-prometheus`
//! (its own HTTP listener is not used; the web server serves the text).
//!
//! Sensor and milter code count events with one `metrics::counter!` line
//! each, using the names below; hickory-resolver reports its own cache
//! counters (`hickory_resolver_cache_hit_total`, `…_miss_total`, and
//! `…_cache_miss_duration_seconds`, the latency of lookups that went to a
//! server) through the same recorder once [`install`] has run.

use metrics::{counter, describe_counter, describe_histogram, Unit};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;

/// Sensor SMTP sessions accepted (counter).
pub const SENSOR_SESSIONS: &str = "authsense_sensor_sessions_total";
/// Copies stored, labelled `auth_source` (counter).
pub const SENSOR_MESSAGES: &str = "authsense_sensor_messages_total";
/// Octets of stored copies (counter).
pub const SENSOR_BYTES: &str = "authsense_sensor_bytes_total";
/// Per-method results of stored copies, labelled `method`, `result` (counter).
pub const SENSOR_RESULTS: &str = "authsense_sensor_results_total";
/// Copies whose parsing failed or hit a cap (counter).
pub const SENSOR_PARSE_ERRORS: &str = "authsense_sensor_parse_errors_total";
/// Copies refused with 451 because the store failed (counter).
pub const STORE_ERRORS: &str = "authsense_store_errors_total";
/// Time from handing a record to the store to its commit (histogram, s).
pub const STORE_INSERT_SECONDS: &str = "authsense_store_insert_seconds";
/// Messages the milter decided on, labelled `action`, `spf` (counter).
pub const MILTER_MESSAGES: &str = "authsense_milter_messages_total";
/// Time the milter spent in SPF evaluation, DNS included (histogram, s).
pub const MILTER_SPF_SECONDS: &str = "authsense_milter_spf_seconds";
/// Alert mails sent, labelled `kind` = `threat` | `warning` | `health` |
/// `digest` (counter).
pub const ALERTS_SENT: &str = "authsense_alerts_sent_total";
/// Alert mails not sent, labelled `reason` = `send_failed` (the relay did
/// not take it; the alert goes into the digest) | `digest_full` (not listed
/// in a digest either) | `recipient_not_internal` (a recipient warning
/// refused: not an `org_domains` address) (counter).
pub const ALERTS_DROPPED: &str = "authsense_alerts_dropped_total";
/// Alerts held back for the digest (a budget, a full queue or a failed
/// send), labelled `kind` (counter).
pub const ALERTS_DIGESTED: &str = "authsense_alerts_digested_total";
/// Alerts for malicious records neither mailed nor listed in a digest; each
/// is also logged at ERROR with the record's uid (counter).
pub const ALERTS_MALICIOUS_LOST: &str = "authsense_alerts_malicious_lost_total";
/// Connections refused by the sensor's `allow` list (counter).
pub const SENSOR_REFUSED: &str = "authsense_sensor_refused_total";
/// Configuration reloads (SIGHUP), labelled `result` = `ok` | `refused`
/// (counter).
pub const CONFIG_RELOADS: &str = "authsense_config_reloads_total";

/// Histogram buckets (seconds) for every latency: 100 µs to 10 s.
const BUCKETS: &[f64] = &[
    0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the global Prometheus recorder (once per process; later calls
/// return the same handle) and describes authsense's metrics, so counters
/// that have not moved yet (e.g. alerts) are rendered as 0. `None` if
/// another recorder was installed first (then `/metrics` answers 503).
pub fn install() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets(BUCKETS)
                .ok()?
                .install_recorder()
                .ok()?;
            describe();
            Some(handle)
        })
        .clone()
}

fn describe() {
    describe_counter!(SENSOR_SESSIONS, "Sensor SMTP sessions accepted");
    describe_counter!(SENSOR_MESSAGES, "Copies stored by the sensor");
    describe_counter!(SENSOR_BYTES, Unit::Bytes, "Octets of stored copies");
    describe_counter!(SENSOR_RESULTS, "Authentication results of stored copies");
    describe_counter!(
        SENSOR_PARSE_ERRORS,
        "Copies whose parsing failed or hit a cap"
    );
    describe_counter!(
        STORE_ERRORS,
        "Copies refused with 451 because the store failed"
    );
    describe_histogram!(
        STORE_INSERT_SECONDS,
        Unit::Seconds,
        "Store insert latency up to the durable commit"
    );
    describe_counter!(MILTER_MESSAGES, "Messages the milter decided on");
    describe_histogram!(
        MILTER_SPF_SECONDS,
        Unit::Seconds,
        "Milter SPF evaluation time, DNS included"
    );
    describe_counter!(ALERTS_SENT, "Alerts sent by email");
    describe_counter!(ALERTS_DROPPED, "Alert mails not sent");
    describe_counter!(ALERTS_DIGESTED, "Alerts held back for the digest");
    describe_counter!(
        ALERTS_MALICIOUS_LOST,
        "Alerts for malicious records neither mailed nor listed in a digest"
    );
    describe_counter!(
        SENSOR_REFUSED,
        "Connections refused: address not in sensor.allow"
    );
    for name in [
        SENSOR_SESSIONS,
        SENSOR_REFUSED,
        ALERTS_MALICIOUS_LOST,
        SENSOR_BYTES,
        SENSOR_PARSE_ERRORS,
        STORE_ERRORS,
    ] {
        counter!(name).absolute(0);
    }
    for kind in ["threat", "warning", "health", "digest"] {
        counter!(ALERTS_SENT, "kind" => kind).absolute(0);
    }
    describe_counter!(CONFIG_RELOADS, "Configuration reloads on SIGHUP");
    for result in ["ok", "refused"] {
        counter!(CONFIG_RELOADS, "result" => result).absolute(0);
    }
}

/// The labels a stored copy is counted under: its results source and each
/// method's result (taken before the record moves into the store).
pub struct Counted {
    auth_source: &'static str,
    results: Vec<(&'static str, String)>,
    parse_capped: bool,
}

/// What [`stored`] will count for `record`.
pub fn sensor_labels(record: &crate::model::Record) -> Counted {
    let a = &record.auth;
    let mut results = Vec::new();
    let dkim = a
        .dkim
        .iter()
        .find(|d| d.result == "pass")
        .or(a.dkim.first());
    for (method, m) in [
        ("spf", a.spf.as_ref()),
        ("dkim", dkim),
        ("dmarc", a.dmarc.as_ref()),
    ] {
        let result = m.map_or("none", |m| m.result.as_str());
        results.push((method, result.to_string()));
    }
    Counted {
        auth_source: a.source.as_str(),
        results,
        parse_capped: record.anomalies.truncated,
    }
}

/// Counts a copy committed to the store after `latency`.
pub fn stored(c: &Counted, bytes: usize, latency: std::time::Duration) {
    counter!(SENSOR_MESSAGES, "auth_source" => c.auth_source).increment(1);
    counter!(SENSOR_BYTES).increment(bytes as u64);
    for (method, result) in &c.results {
        counter!(SENSOR_RESULTS, "method" => *method, "result" => result.clone()).increment(1);
    }
    if c.parse_capped {
        counter!(SENSOR_PARSE_ERRORS).increment(1);
    }
    metrics::histogram!(STORE_INSERT_SECONDS).record(latency.as_secs_f64());
}

/// The value of every sample whose metric name starts with `prefix` in a
/// rendered exposition, as `(name{labels}, value)` in order (for the status
/// page's milter counters).
pub fn samples(rendered: &str, prefix: &str) -> Vec<(String, f64)> {
    rendered
        .lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| {
            let (name, value) = l.rsplit_once(' ')?;
            Some((name.to_string(), value.parse().ok()?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn samples_pick_prefixed_lines() {
        let text = "# HELP a x\nauthsense_milter_messages_total{action=\"accept\"} 3\nother 1\n";
        assert_eq!(
            super::samples(text, "authsense_milter_"),
            vec![(
                "authsense_milter_messages_total{action=\"accept\"}".to_string(),
                3.0
            )]
        );
    }
}
