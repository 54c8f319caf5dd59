//! `[alerts]`: threat and health alerts sent by email through an SMTP relay.
//!
//! Every value is checked while the file is parsed, so an error names the
//! key and its line (`relay`, `to`, `threshold`, durations, shares).

use crate::model::Verdict;
use serde::{de, Deserialize, Deserializer};
use std::{fmt, time::Duration};

/// `[alerts]` section; alerts are off until `relay` and `to` are set.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsConfig {
    /// SMTP relay as `HOST:PORT`.
    #[serde(deserialize_with = "de_relay")]
    pub relay: Option<(String, u16)>,
    /// Use STARTTLS with the relay (required, certificate verified).
    pub starttls: bool,
    /// Sender address of alert mail. Default `authsense@<host name>`.
    #[serde(deserialize_with = "de_opt_address")]
    pub from: Option<String>,
    /// Admin addresses that receive every alert.
    #[serde(deserialize_with = "de_addresses")]
    pub to: Vec<String>,
    /// Threat alerts for records at or above this verdict or score.
    pub threshold: Threshold,
    /// Also warn each original recipient of a flagged message.
    pub notify_recipient: bool,
    /// Health alert when a gateway sent no copy for this long (`0s`: off).
    #[serde(deserialize_with = "de_duration")]
    pub gateway_silence: Duration,
    /// Health alert when the share of copies with trusted authentication
    /// results falls below this (0 to 1; 0 turns the check off).
    #[serde(deserialize_with = "de_share")]
    pub stamp_health_min_share: f64,
    /// Window over which that share is measured.
    #[serde(deserialize_with = "de_duration")]
    pub stamp_health_window: Duration,
    /// Copies needed in the window before the share is judged.
    pub stamp_health_min_copies: u64,
    /// At most this many alert mails per hour, all kinds together (per
    /// process); digests are not counted.
    pub max_per_hour: u32,
    /// Threat alerts to the admins per hour. Default: half of
    /// `max_per_hour` (rounded up).
    pub threat_per_hour: Option<u32>,
    /// Recipient warnings per hour. Default: a third of `max_per_hour`
    /// (rounded up).
    pub warning_per_hour: Option<u32>,
    /// Health alerts per hour. Default: a sixth of `max_per_hour` (rounded
    /// up).
    pub health_per_hour: Option<u32>,
    /// Threat alerts, and separately recipient warnings, per hour for one
    /// sender domain (the organisational domain of the From address).
    pub per_domain_per_hour: u32,
    /// Alerts held back by a budget go out as one digest per kind this
    /// often (at least 1 s).
    #[serde(deserialize_with = "de_interval")]
    pub digest_interval: Duration,
    /// One threat alert per sender/From/subject within this window.
    #[serde(deserialize_with = "de_duration")]
    pub dedup_window: Duration,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        Self {
            relay: None,
            starttls: false,
            from: None,
            to: Vec::new(),
            threshold: Threshold::Verdict(Verdict::Malicious),
            notify_recipient: false,
            gateway_silence: Duration::from_secs(15 * 60),
            stamp_health_min_share: 0.9,
            stamp_health_window: Duration::from_secs(3600),
            stamp_health_min_copies: 20,
            max_per_hour: 30,
            threat_per_hour: None,
            warning_per_hour: None,
            health_per_hour: None,
            per_domain_per_hour: 5,
            digest_interval: Duration::from_secs(15 * 60),
            dedup_window: Duration::from_secs(3600),
        }
    }
}

impl AlertsConfig {
    /// Alerts are sent only with a relay and at least one admin address.
    pub fn enabled(&self) -> bool {
        self.relay.is_some() && !self.to.is_empty()
    }

    /// The hourly budgets, defaults filled in from `max_per_hour`.
    pub fn budgets(&self) -> Budgets {
        let share = |n: u32| self.max_per_hour.div_ceil(n);
        Budgets {
            overall: self.max_per_hour,
            threat: self.threat_per_hour.unwrap_or_else(|| share(2)),
            warning: self.warning_per_hour.unwrap_or_else(|| share(3)),
            health: self.health_per_hour.unwrap_or_else(|| share(6)),
            per_domain: self.per_domain_per_hour,
        }
    }
}

/// Alert mails allowed per hour (token buckets refilled evenly, each full
/// at start), as [`AlertsConfig::budgets`] resolves them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budgets {
    /// Every kind together (`max_per_hour`).
    pub overall: u32,
    /// Threat alerts to the admins.
    pub threat: u32,
    /// Recipient warnings.
    pub warning: u32,
    /// Health alerts.
    pub health: u32,
    /// Per sender domain, for threat alerts and for warnings.
    pub per_domain: u32,
}

/// What makes a record worth a threat alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Threshold {
    /// The verdict is this one or worse (`"suspicious"`, `"malicious"`).
    Verdict(Verdict),
    /// The score is at least this (0 to 10).
    Score(u8),
}

impl Threshold {
    /// Whether an analysed record meets it; unanalysed records never do.
    pub fn met(self, verdict: Option<Verdict>, score: Option<u8>) -> bool {
        match self {
            Threshold::Verdict(v) => verdict.is_some_and(|got| got >= v),
            Threshold::Score(n) => score.is_some_and(|got| got >= n),
        }
    }
}

impl<'de> Deserialize<'de> for Threshold {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Threshold;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a verdict (\"suspicious\", \"malicious\") or a score 0 to 10")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Threshold, E> {
                s.parse::<Verdict>()
                    .map(Threshold::Verdict)
                    .map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Threshold, E> {
                u8::try_from(n)
                    .ok()
                    .filter(|n| *n <= 10)
                    .map(Threshold::Score)
                    .ok_or_else(|| E::custom(format!("score {n} out of range, want 0 to 10")))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Threshold, E> {
                self.visit_i64(i64::try_from(n).unwrap_or(i64::MAX))
            }
        }
        d.deserialize_any(V)
    }
}

fn de_relay<'de, D: Deserializer<'de>>(d: D) -> Result<Option<(String, u16)>, D::Error> {
    let s = String::deserialize(d)?;
    let bad = || de::Error::custom(format!("invalid relay {s:?}, want HOST:PORT"));
    let (host, port) = s.rsplit_once(':').ok_or_else(bad)?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port: u16 = port.parse().map_err(|_| bad())?;
    if host.is_empty() || port == 0 {
        return Err(bad());
    }
    Ok(Some((host.to_string(), port)))
}

fn check_address<E: de::Error>(s: &str) -> Result<String, E> {
    s.parse::<lettre::Address>()
        .map(|_| s.to_string())
        .map_err(|e| E::custom(format!("invalid address {s:?}: {e}")))
}

fn de_opt_address<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    check_address(&String::deserialize(d)?).map(Some)
}

fn de_addresses<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Vec::<String>::deserialize(d)?
        .iter()
        .map(|s| check_address(s))
        .collect()
}

fn de_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s = String::deserialize(d)?;
    humantime::parse_duration(&s)
        .map_err(|e| de::Error::custom(format!("invalid duration {s:?} ({e}), want e.g. \"15m\"")))
}

fn de_interval<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let t = de_duration(d)?;
    if t < Duration::from_secs(1) {
        return Err(de::Error::custom(format!(
            "interval {} too short, want at least 1s",
            humantime::format_duration(t)
        )));
    }
    Ok(t)
}

fn de_share<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let x = f64::deserialize(d)?;
    if (0.0..=1.0).contains(&x) {
        Ok(x)
    } else {
        Err(de::Error::custom(format!(
            "share {x} out of range, want 0.0 to 1.0"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn parses_every_key() {
        let c = Config::parse(
            "[alerts]\nrelay = \"127.0.0.1:2525\"\nstarttls = true\nfrom = \"a@x.test\"\n\
             to = [\"admin@x.test\"]\nthreshold = 6\nnotify_recipient = true\n\
             gateway_silence = \"90s\"\nstamp_health_min_share = 0.5\n\
             stamp_health_window = \"10m\"\nstamp_health_min_copies = 3\n\
             max_per_hour = 7\ndedup_window = \"2h\"\nthreat_per_hour = 4\n\
             warning_per_hour = 3\nhealth_per_hour = 2\nper_domain_per_hour = 1\n\
             digest_interval = \"5m\"\n",
        )
        .unwrap()
        .alerts;
        assert_eq!(c.relay, Some(("127.0.0.1".into(), 2525)));
        assert!(c.enabled() && c.starttls && c.notify_recipient);
        assert_eq!(c.threshold, Threshold::Score(6));
        assert_eq!(c.gateway_silence, Duration::from_secs(90));
        assert_eq!(c.stamp_health_window, Duration::from_secs(600));
        assert_eq!((c.stamp_health_min_copies, c.max_per_hour), (3, 7));
        assert_eq!(c.dedup_window, Duration::from_secs(7200));
        assert_eq!(c.digest_interval, Duration::from_secs(300));
        let b = c.budgets();
        assert_eq!(
            (b.overall, b.threat, b.warning, b.health, b.per_domain),
            (7, 4, 3, 2, 1)
        );
        let v = Config::parse("[alerts]\nthreshold = \"Suspicious\"\n").unwrap();
        assert_eq!(v.alerts.threshold, Threshold::Verdict(Verdict::Suspicious));
        assert!(!v.alerts.enabled(), "no relay, no alerts");
    }

    #[test]
    fn errors_name_the_key() {
        let cases = [
            ("relay = \"localhost\"", "relay"),
            ("relay = \"host:99999\"", "relay"),
            ("to = [\"not an address\"]", "to"),
            ("from = \"@\"", "from"),
            ("threshold = \"scary\"", "threshold"),
            ("threshold = 11", "threshold"),
            ("gateway_silence = \"soon\"", "gateway_silence"),
            ("stamp_health_min_share = 1.5", "stamp_health_min_share"),
            ("dedup_window = 5", "dedup_window"),
            ("digest_interval = \"0s\"", "digest_interval"),
            ("per_domain_per_hour = -1", "per_domain_per_hour"),
            ("bogus = 1", "bogus"),
        ];
        for (line, key) in cases {
            let e = Config::parse(&format!("[alerts]\n{line}\n"))
                .unwrap_err()
                .to_string();
            assert!(e.contains(key) && e.contains("line 2"), "{line:?} gave {e}");
        }
    }

    #[test]
    fn kind_budgets_default_to_shares_of_the_overall_cap() {
        // An existing config that only sets max_per_hour keeps working: the
        // kinds share it (half, a third, a sixth, rounded up).
        let b = Config::parse("[alerts]\nmax_per_hour = 100\n")
            .unwrap()
            .alerts
            .budgets();
        assert_eq!(
            (b.overall, b.threat, b.warning, b.health, b.per_domain),
            (100, 50, 34, 17, 5)
        );
        let d = AlertsConfig::default();
        let b = d.budgets();
        assert_eq!((b.overall, b.threat, b.warning, b.health), (30, 15, 10, 5));
        assert_eq!(d.digest_interval, Duration::from_secs(900));
        let b = Config::parse("[alerts]\nmax_per_hour = 0\n")
            .unwrap()
            .alerts
            .budgets();
        assert_eq!((b.threat, b.warning, b.health), (0, 0, 0));
    }

    #[test]
    fn threshold_compares_verdicts_and_scores() {
        let s = Threshold::Verdict(Verdict::Suspicious);
        assert!(s.met(Some(Verdict::Malicious), None));
        assert!(s.met(Some(Verdict::Suspicious), Some(0)));
        assert!(!s.met(Some(Verdict::Trusted), Some(10)));
        assert!(!s.met(None, None));
        assert!(Threshold::Score(5).met(None, Some(5)));
        assert!(!Threshold::Score(5).met(Some(Verdict::Malicious), Some(4)));
    }
}
