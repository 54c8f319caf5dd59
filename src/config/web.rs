//! `[web]`: the status page, message search, JSON API and `/metrics`.

use serde::{Deserialize, Deserializer};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// `[web]` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebConfig {
    /// Address of the web server (flag `--web ADDR` on `sensor` and `run`).
    pub listen: SocketAddr,
    /// Serve the web UI at all.
    pub enabled: bool,
    /// Bearer token; when set, every request must carry
    /// `Authorization: Bearer <token>`. Write endpoints exist only with it.
    #[serde(deserialize_with = "de_token")]
    pub token: Option<String>,
    /// The `Host:` values the server answers to (DNS rebinding defence),
    /// each `name`, `name:port`, `IP`, `IP:port` or `[IPv6]:port`, kept
    /// normalised ([`normalize_host`]); an entry without a port matches
    /// only a `Host:` without one. Empty (the default): the listen address
    /// as `IP:port`; for a loopback listen also `localhost`, `127.0.0.1`
    /// and `[::1]`, each with and without the port; for an unspecified
    /// listen (`0.0.0.0`, `::`) any IP address with the port, and
    /// `localhost`. Checked with or without a token.
    #[serde(deserialize_with = "de_hosts")]
    pub allowed_hosts: Vec<String>,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8426)),
            enabled: true,
            token: None,
            allowed_hosts: Vec::new(),
        }
    }
}

/// A token must be non-empty and contain no whitespace (it travels in an
/// HTTP header and is compared exactly).
fn de_token<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let t = String::deserialize(d)?;
    if t.is_empty() || t.chars().any(char::is_whitespace) {
        return Err(serde::de::Error::custom(
            "web.token must be non-empty and without whitespace",
        ));
    }
    Ok(Some(t))
}

fn de_hosts<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Vec::<String>::deserialize(d)?
        .iter()
        .map(|h| {
            normalize_host(h).ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "web.allowed_hosts: invalid host {h:?}, want a name, name:port, IP, \
                     IP:port or [IPv6]:port"
                ))
            })
        })
        .collect()
}

/// A `Host:` value (RFC 9110 §7.2: `uri-host [ ":" port ]`) in the one
/// form it is compared in: a lowercased name without a trailing dot, or
/// an IP address in its canonical text (IPv6 in brackets), then `:port`
/// (as a number) if a port was given. `None` when it is not a plain host:
/// user info, a path, whitespace, an IPv6 zone, odd IPv4 forms such as
/// `127.1`, an empty name or a bad port.
pub fn normalize_host(value: &str) -> Option<String> {
    let v = value.trim();
    if let Ok(ip) = v.parse::<Ipv6Addr>() {
        return Some(format!("[{ip}]"));
    }
    let (host, port) = if let Some(rest) = v.strip_prefix('[') {
        let (inner, after) = rest.split_once(']')?;
        let ip: Ipv6Addr = inner.parse().ok()?;
        (
            format!("[{ip}]"),
            after
                .strip_prefix(':')
                .or((after.is_empty()).then_some(""))?,
        )
    } else {
        let (h, p) = v.rsplit_once(':').unwrap_or((v, ""));
        (host_name(h)?, p)
    };
    if port.is_empty() {
        return Some(host);
    }
    if port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(format!("{host}:{}", port.parse::<u16>().ok()?))
}

/// A name or IPv4 address, normalised.
fn host_name(h: &str) -> Option<String> {
    if let Ok(ip) = h.parse::<Ipv4Addr>() {
        return Some(IpAddr::V4(ip).to_string());
    }
    let name = h.strip_suffix('.').unwrap_or(h).to_ascii_lowercase();
    let plain = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    // A numeric last label makes browsers read the name as an IPv4 address
    // (WHATWG URL: `127.1`, `0x7f.1`): not a name.
    let last = name.rsplit('.').next().unwrap_or("");
    let numeric = last.bytes().all(|b| b.is_ascii_digit())
        || last
            .strip_prefix("0x")
            .is_some_and(|x| x.bytes().all(|b| b.is_ascii_hexdigit()));
    (name.len() <= 253 && !numeric && name.split('.').all(plain)).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_normalised_or_refused() {
        for (given, want) in [
            ("LocalHost", "localhost"),
            ("localhost.:8025", "localhost:8025"),
            ("127.0.0.1:08025", "127.0.0.1:8025"),
            ("[::1]:8025", "[::1]:8025"),
            ("[0:0:0:0:0:0:0:1]", "[::1]"),
            ("::1", "[::1]"),
            ("sensor.example.com", "sensor.example.com"),
            ("localhost:", "localhost"),
        ] {
            assert_eq!(normalize_host(given).as_deref(), Some(want), "{given}");
        }
        for bad in [
            "",
            "user@localhost",
            "localhost/x",
            "local host",
            "localhost:99999",
            "localhost:80a",
            "[::1",
            "[::1]x",
            "[fe80::1%eth0]:80",
            "127.1",
            "0x7f.0.0.1",
            "a..b",
            "::1:8025:x",
        ] {
            assert_eq!(normalize_host(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn allowed_hosts_are_checked_when_parsed() {
        let c = crate::config::Config::parse(
            "[web]\nallowed_hosts = [\"Sensor.Example.COM\", \"[::1]:8025\"]\n",
        )
        .unwrap();
        assert_eq!(c.web.allowed_hosts, ["sensor.example.com", "[::1]:8025"]);
        let e = crate::config::Config::parse("[web]\nallowed_hosts = [\"a b\"]\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("allowed_hosts") && e.contains("line 2"), "{e}");
    }
}
