//! `[sensor]`: the ESMTP sink for dual-delivered copies, and what it
//! trusts in them (authserv-ids, seals, journaling sources).

use ipnet::IpNet;
use serde::{Deserialize, Deserializer};
use std::net::{IpAddr, SocketAddr};

/// `[sensor]` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SensorConfig {
    /// Address to listen on (production: `0.0.0.0:25`).
    pub listen: SocketAddr,
    /// Name in the greeting and EHLO reply. Default: this host's name.
    pub hostname: Option<String>,
    /// Gateways allowed to send copies (CIDR). Others get 554 at connect.
    pub allow: Vec<IpNet>,
    /// authserv-ids whose headers are trusted. Default: the milter's
    /// authserv-id (this host's name unless configured).
    pub trusted_authserv_ids: Vec<String>,
    /// authserv-ids whose stamps are trusted only with a valid seal of ours
    /// (`[seal] key_file`): the ids our own milters stamp. Default: the
    /// milter's authserv-id when a seal key is configured, else none. A
    /// gateway that cannot seal (a Proofpoint appliance) must not be listed.
    pub sealed_authserv_ids: Option<Vec<String>>,
    /// Gateways where our milter stamps (CIDR): a copy they deliver is
    /// believed only with a valid seal of ours, whatever trusted authserv-id
    /// its stamp claims. Needed when `trusted_authserv_ids` also names a
    /// gateway that cannot seal: while such a perimeter's milter is down,
    /// an outsider's forged stamp of that gateway's id would otherwise reach
    /// the sensor through it and be believed. Needs `[seal] key_file`.
    /// Default: none.
    pub sealed_gateways: Vec<IpNet>,
    /// Where genuine Exchange/Office 365 journal reports come from: gateway
    /// addresses (IP or CIDR, the SMTP client that delivers the copy) and/or
    /// envelope senders of the copy (`journal@corp.example`). Only reports
    /// from these are unwrapped; with both kinds listed a report must match
    /// one of each. Empty (default): journal reports are never unwrapped.
    #[serde(deserialize_with = "de_journal_sources")]
    pub journal_sources: Vec<JournalSource>,
    /// Largest message accepted (SIZE), in octets (default 64 MiB).
    pub max_message_size: usize,
    /// Recipients per message (RFC 5321 §4.5.3.1.8: at least 100).
    pub max_recipients: usize,
    /// Concurrent sessions.
    pub max_sessions: usize,
    /// Concurrent sessions from one IP address.
    pub max_sessions_per_ip: usize,
    /// Memory for messages being received and parsed, all sessions
    /// together, in MiB; beyond it a copy gets 452 4.3.1 and is retried.
    /// Parsing a copy also holds its decoded parts beside the raw bytes, so
    /// the sensor's peak memory is up to about twice this plus 40 MiB
    /// (measured with 1,000 sessions of large copies: BENCHMARKS.md). Must
    /// be at least `max_message_size`.
    pub spool_mb: usize,
    /// Seconds to wait for a command (RFC 5321 §4.5.3.2.7: 5 minutes); also
    /// the limit on each write and on the TLS handshake.
    pub idle_timeout_secs: u64,
    /// Seconds to wait for each block of DATA (§4.5.3.2.6: 3 minutes).
    pub data_timeout_secs: u64,
    /// Slowest DATA accepted, in octets per second: the message may take
    /// `data_timeout_secs` plus its size divided by this rate, whatever the
    /// pace of single reads (a byte-per-second sender is cut off). 0: only
    /// the per-read `data_timeout_secs` applies.
    pub min_data_rate: u64,
    /// Longest session in seconds: no command is read after it (421, then
    /// close); a copy being received is finished first. 0: no limit.
    pub session_timeout_secs: u64,
    /// Refuse MAIL before STARTTLS.
    pub require_tls: bool,
    /// PEM certificate chain for STARTTLS.
    pub tls_cert: Option<std::path::PathBuf>,
    /// PEM private key for STARTTLS.
    pub tls_key: Option<std::path::PathBuf>,
    /// Generate a self-signed certificate at start (development).
    pub self_signed: bool,
}

impl Default for SensorConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 2526)),
            hostname: None,
            allow: vec![
                "127.0.0.0/8".parse().expect("valid CIDR"),
                "::1/128".parse().expect("valid CIDR"),
            ],
            trusted_authserv_ids: Vec::new(),
            sealed_authserv_ids: None,
            sealed_gateways: Vec::new(),
            journal_sources: Vec::new(),
            max_message_size: 67_108_864,
            max_recipients: 1000,
            max_sessions: 1000,
            max_sessions_per_ip: 200,
            spool_mb: 64,
            idle_timeout_secs: 300,
            data_timeout_secs: 180,
            min_data_rate: 500,
            session_timeout_secs: 3600,
            require_tls: false,
            tls_cert: None,
            tls_key: None,
            self_signed: false,
        }
    }
}

/// One entry of `journal_sources`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JournalSource {
    /// The delivering gateway's address is in this network.
    Gateway(IpNet),
    /// The copy's envelope sender is this address (ASCII case-insensitive).
    Sender(String),
}

impl std::str::FromStr for JournalSource {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if let Ok(net) = s.parse::<IpNet>() {
            return Ok(JournalSource::Gateway(net));
        }
        if let Ok(ip) = s.parse::<IpAddr>() {
            return Ok(JournalSource::Gateway(IpNet::from(ip)));
        }
        match s.rsplit_once('@') {
            Some((local, domain)) if !local.is_empty() && domain.contains('.') && !s.contains(char::is_whitespace) => {
                Ok(JournalSource::Sender(s.to_string()))
            }
            _ => Err(format!(
                "journal source {s:?}: want an IP address, a CIDR network or an envelope sender address"
            )),
        }
    }
}

/// Whether a copy delivered by `gateway` with envelope sender `mailfrom`
/// comes from one of `sources` (see [`SensorConfig::journal_sources`]).
pub fn is_journal_source(
    sources: &[JournalSource],
    gateway: Option<IpAddr>,
    mailfrom: &str,
) -> bool {
    let nets: Vec<&IpNet> = sources
        .iter()
        .filter_map(|s| match s {
            JournalSource::Gateway(n) => Some(n),
            JournalSource::Sender(_) => None,
        })
        .collect();
    let senders: Vec<&str> = sources
        .iter()
        .filter_map(|s| match s {
            JournalSource::Sender(a) => Some(a.as_str()),
            JournalSource::Gateway(_) => None,
        })
        .collect();
    if nets.is_empty() && senders.is_empty() {
        return false;
    }
    let mailfrom = mailfrom
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>');
    let net_ok = nets.is_empty()
        || gateway.is_some_and(|ip| nets.iter().any(|n| n.contains(&ip.to_canonical())));
    let sender_ok = senders.is_empty() || senders.iter().any(|a| a.eq_ignore_ascii_case(mailfrom));
    net_ok && sender_ok
}

fn de_journal_sources<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<JournalSource>, D::Error> {
    Vec::<String>::deserialize(d)?
        .iter()
        .map(|s| s.parse().map_err(serde::de::Error::custom))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sources(list: &[&str]) -> Vec<JournalSource> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn journal_sources_match_gateways_and_senders() {
        let gw: IpAddr = "10.1.2.3".parse().unwrap();
        let other: IpAddr = "192.0.2.9".parse().unwrap();
        let j = "journal@corp.example";
        assert!(
            !is_journal_source(&[], Some(gw), j),
            "nothing configured: never"
        );
        let nets = sources(&["10.1.2.0/24"]);
        assert!(is_journal_source(&nets, Some(gw), "anyone@x.example"));
        assert!(!is_journal_source(&nets, Some(other), j));
        assert!(!is_journal_source(&nets, None, j));
        let mapped: IpAddr = "::ffff:10.1.2.3".parse().unwrap();
        assert!(is_journal_source(&nets, Some(mapped), j));
        let senders = sources(&["Journal@Corp.Example"]);
        assert!(is_journal_source(
            &senders,
            Some(other),
            "<journal@corp.example>"
        ));
        assert!(!is_journal_source(
            &senders,
            Some(gw),
            "attacker@evil.example"
        ));
        let both = sources(&["10.1.2.3", "journal@corp.example"]);
        assert!(is_journal_source(&both, Some(gw), j));
        assert!(
            !is_journal_source(&both, Some(other), j),
            "both kinds: both must match"
        );
        assert!(!is_journal_source(&both, Some(gw), "x@corp.example"));
    }

    #[test]
    fn journal_source_syntax() {
        assert!("10.0.0.0/33".parse::<JournalSource>().is_err());
        assert!("not an address".parse::<JournalSource>().is_err());
        assert!("@corp.example".parse::<JournalSource>().is_err());
        assert_eq!(
            "::1".parse::<JournalSource>(),
            Ok(JournalSource::Gateway("::1/128".parse().unwrap()))
        );
    }
}
