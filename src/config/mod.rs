//! The one typed configuration of authsense: a TOML file (every key optional,
//! embedded defaults otherwise) that command-line flags override.
//!
//! Errors name the offending key and the line of the file (the `toml` crate
//! reports spans; semantic checks run inside `Deserialize` so they get them too).

use ipnet::IpNet;
use serde::{Deserialize, Deserializer};
use std::{fmt, net::SocketAddr, path::Path, str::FromStr, time::Duration};

mod alerts;
mod analysis;
mod export;
mod process;
mod seal;
pub mod sensor;
mod socket;
mod store;
mod web;

pub use alerts::{AlertsConfig, Budgets, Threshold};
pub use analysis::{Alignment, AnalysisConfig};
pub use export::ExportConfig;
pub use process::{LogFormat, ProcessConfig};
pub use seal::SealConfig;
pub use sensor::{JournalSource, SensorConfig};
pub use socket::SocketSpec;
pub use store::{redact, StoreConfig, StoreLocation};
pub use web::{normalize_host, WebConfig};

/// Whole configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `[milter]`: the perimeter milter.
    pub milter: MilterConfig,
    /// `[dns]`: how authsense resolves names.
    pub dns: DnsConfig,
    /// `[sensor]`: the ESMTP sink for dual-delivered copies.
    pub sensor: SensorConfig,
    /// `[store]`: where the sensor keeps its records.
    pub store: StoreConfig,
    /// `[web]`: status page, message search, JSON API and `/metrics`.
    pub web: WebConfig,
    /// `[analysis]`: per-record rules, score and verdict.
    pub analysis: AnalysisConfig,
    /// `[alerts]`: threat and health alerts by email.
    pub alerts: AlertsConfig,
    /// `[export]`: publish every stored record to NATS JetStream.
    pub export: ExportConfig,
    /// `[seal]`: the key milter and sensor share to seal stamps.
    pub seal: SealConfig,
    /// `[process]`: the account to run as, the log format.
    pub process: ProcessConfig,
}

/// Where the milter sits in the mail flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// First point of entry from the internet: evaluate, strip forgeries, stamp.
    Perimeter,
    /// Behind a perimeter: change nothing (the vendor guide: only the perimeter
    /// may add the header).
    Downstream,
}

/// What to do when authsense itself fails (not the sender's SPF result).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnError {
    /// Let the message through unchanged (default: never block mail).
    Accept,
    /// Answer 4xx so the client retries later.
    Tempfail,
}

/// `[milter]` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MilterConfig {
    /// `inet:HOST:PORT`, `inet:PORT@HOST` or `unix:/path`.
    pub listen: SocketSpec,
    /// Mode of a unix socket, octal string such as `"0660"`.
    #[serde(deserialize_with = "de_mode")]
    pub socket_mode: u32,
    /// Group of a unix socket, e.g. `"postfix"` so that Postfix's smtpd can
    /// connect (default: the process's group).
    pub socket_group: Option<String>,
    /// authserv-id written into the stamp and used to recognise forgeries.
    /// Default: this machine's host name.
    pub authserv_id: Option<String>,
    /// Perimeter (stamp) or downstream (leave headers alone).
    pub mode: Mode,
    /// Internal relays whose mail is neither stamped nor stripped.
    pub trusted_networks: Vec<IpNet>,
    /// For mail from a trusted relay, evaluate the first external hop of
    /// the `Received:` chain instead of leaving the message alone (rspamd's
    /// `external_relay`); see the trust assumptions in the documentation.
    pub external_relay: bool,
    /// Methods written into `X-Agari-Authentication-Results`; the default
    /// `["spf"]` is the vendor guide's header byte for byte.
    pub methods: Vec<Method>,
    /// Also insert a standard `Authentication-Results` header with every
    /// method (on by default; `false` leaves only the X-Agari stamp).
    pub add_authentication_results: bool,
    /// Messages larger than this (octets) are not buffered for DKIM/ARC:
    /// their signatures are reported `neutral` instead of stalling the MTA.
    pub max_message_bytes: usize,
    /// ARC-seal our results (RFC 8617); off unless given.
    pub arc_seal: Option<ArcSealConfig>,
    /// Behaviour on an internal error.
    pub on_error: OnError,
    /// SPF results (MAIL FROM identity) that are rejected with 550 5.7.23.
    pub reject_spf: Vec<SpfResultName>,
    /// Time budget for all SPF evaluation of one message, in milliseconds.
    pub auth_timeout_ms: u64,
    /// Maximum concurrent MTA connections.
    pub max_connections: usize,
}

impl Default for MilterConfig {
    fn default() -> Self {
        Self {
            listen: SocketSpec::default(),
            socket_mode: 0o660,
            socket_group: None,
            authserv_id: None,
            mode: Mode::Perimeter,
            trusted_networks: Vec::new(),
            external_relay: false,
            methods: vec![Method::Spf],
            add_authentication_results: true,
            max_message_bytes: 10 * 1024 * 1024,
            arc_seal: None,
            on_error: OnError::Accept,
            reject_spf: Vec::new(),
            auth_timeout_ms: 8000,
            max_connections: 200,
        }
    }
}

impl MilterConfig {
    /// The per-message time budget as a [`Duration`].
    pub fn auth_timeout(&self) -> Duration {
        Duration::from_millis(self.auth_timeout_ms)
    }
}

/// `[milter.arc_seal]`: the sealing identity.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArcSealConfig {
    /// Sealing domain (`d=`).
    pub domain: String,
    /// Selector (`s=`); the public key is at `<selector>._domainkey.<domain>`.
    pub selector: String,
    /// PEM private key: Ed25519 (PKCS#8) or RSA (PKCS#1/PKCS#8).
    pub key: std::path::PathBuf,
}

/// An authentication method that can be stamped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// SPF (RFC 7208).
    Spf,
    /// DKIM (RFC 6376).
    Dkim,
    /// DMARC (RFC 7489).
    Dmarc,
    /// ARC (RFC 8617).
    Arc,
    /// iprev (RFC 8601 §3).
    Iprev,
}

impl FromStr for Method {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "spf" => Ok(Method::Spf),
            "dkim" => Ok(Method::Dkim),
            "dmarc" => Ok(Method::Dmarc),
            "arc" => Ok(Method::Arc),
            "iprev" => Ok(Method::Iprev),
            other => Err(format!(
                "unknown method {other:?}: want spf, dkim, dmarc, arc or iprev"
            )),
        }
    }
}

/// `[dns]` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DnsConfig {
    /// Nameservers as `IP:PORT` (or bare IP, port 53). Empty: the system
    /// resolver configuration (`/etc/resolv.conf`).
    #[serde(deserialize_with = "de_nameservers")]
    pub nameservers: Vec<SocketAddr>,
    /// Timeout of one query in milliseconds; UDP retransmits inside it.
    pub timeout_ms: u64,
    /// Retries after a failed query.
    pub attempts: usize,
    /// Number of cached responses (bounded LRU, TTLs honoured).
    pub cache_size: u64,
}

impl Default for DnsConfig {
    fn default() -> Self {
        Self {
            nameservers: Vec::new(),
            timeout_ms: 2000,
            attempts: 1,
            cache_size: 8192,
        }
    }
}

/// An SPF result name as written in the config (`"fail"`, `"softfail"`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct SpfResultName(pub crate::model::SpfResult);

impl TryFrom<String> for SpfResultName {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        crate::model::SpfResult::from_str(&s).map(SpfResultName)
    }
}

/// A configuration that could not be loaded.
#[derive(Debug)]
pub struct ConfigError(String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Reads and validates a TOML file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("cannot read {}: {e}", path.display())))?;
        Self::parse(&text).map_err(|e| ConfigError(format!("{}: {e}", path.display())))
    }

    /// Parses TOML text; the error names the key and line.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError(e.to_string().trim_end().to_string()))
    }
}

fn de_mode<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let s = String::deserialize(d)?;
    u32::from_str_radix(s.trim_start_matches("0o"), 8)
        .ok()
        .filter(|m| *m <= 0o777)
        .ok_or_else(|| {
            serde::de::Error::custom(format!("invalid socket mode {s:?}, want e.g. \"0660\""))
        })
}

/// Parses `IP`, `IP:PORT` or `[IPv6]:PORT`.
pub fn parse_nameserver(s: &str) -> Result<SocketAddr, String> {
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Ok(sa);
    }
    s.parse::<std::net::IpAddr>()
        .map(|ip| SocketAddr::new(ip, 53))
        .map_err(|_| format!("invalid nameserver {s:?}, want IP or IP:PORT"))
}

fn de_nameservers<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<SocketAddr>, D::Error> {
    Vec::<String>::deserialize(d)?
        .iter()
        .map(|s| parse_nameserver(s).map_err(serde::de::Error::custom))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_when_empty() {
        let c = Config::parse("").unwrap();
        assert_eq!(c.milter.listen.to_string(), "inet:127.0.0.1:8897");
        assert_eq!(c.milter.mode, Mode::Perimeter);
        assert_eq!(c.milter.on_error, OnError::Accept);
        assert!(c.dns.nameservers.is_empty());
    }

    #[test]
    fn errors_name_key_and_line() {
        let cases = [
            (
                "[milter]\nmode = \"perimeter\"\nbogus = 1\n",
                "bogus",
                "line 3",
            ),
            (
                "[milter]\n\ntrusted_networks = [\"10.0.0.0/33\"]\n",
                "trusted_networks",
                "line 3",
            ),
            (
                "[dns]\nnameservers = [\"nonsense\"]\n",
                "nameservers",
                "line 2",
            ),
            (
                "[milter]\nreject_spf = [\"fial\"]\n",
                "reject_spf",
                "line 2",
            ),
            ("[milter]\nlisten = \"tcp:1\"\n", "listen", "line 2"),
            ("[milter]\nsocket_mode = \"999\"\n", "socket_mode", "line 2"),
            ("[store]\nurl = \"mysql://x\"\n", "url", "line 2"),
            (
                "[store]\ncommit_delay_us = 200000\n",
                "commit_delay_us",
                "line 2",
            ),
            (
                "[store]\ncommit_delay_us = -1\n",
                "commit_delay_us",
                "line 2",
            ),
        ];
        for (text, key, line) in cases {
            let e = Config::parse(text).unwrap_err().to_string();
            assert!(e.contains(key) && e.contains(line), "{text:?} gave {e}");
        }
    }

    #[test]
    fn full_example_parses() {
        let text = include_str!("../../examples/authsense.toml");
        let c = Config::parse(text).unwrap();
        assert_eq!(c.milter.reject_spf.len(), 0);
        assert!(!c.alerts.enabled(), "the example leaves alerts off");
        assert_eq!(c.alerts.max_per_hour, 30);
        assert!(c.analysis.org_domains.is_empty());
        assert_eq!(c.analysis.malicious_score, 6);
    }

    /// The example says "what is shown is the default": every key it sets
    /// has the value the embedded defaults have.
    #[test]
    fn the_example_shows_the_defaults() {
        let text = include_str!("../../examples/authsense.toml");
        let c = Config::parse(text).unwrap();
        assert_eq!(format!("{c:#?}"), format!("{:#?}", Config::default()));
    }
}
