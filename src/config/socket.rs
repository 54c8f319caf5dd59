//! Milter socket specifications: `inet:HOST:PORT`, the Postfix/OpenDKIM
//! spelling `inet:PORT@HOST`, `inet6:…`, `unix:/path`.

use serde::Deserialize;
use std::{
    fmt,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    path::PathBuf,
    str::FromStr,
};

/// Where the milter listens.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum SocketSpec {
    /// A TCP address.
    Inet(SocketAddr),
    /// A unix-domain socket path.
    Unix(PathBuf),
}

impl Default for SocketSpec {
    fn default() -> Self {
        SocketSpec::Inet(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8897))
    }
}

impl fmt::Display for SocketSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SocketSpec::Inet(a) => write!(f, "inet:{a}"),
            SocketSpec::Unix(p) => write!(f, "unix:{}", p.display()),
        }
    }
}

impl TryFrom<String> for SocketSpec {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl FromStr for SocketSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad =
            || format!("invalid socket {s:?}: want inet:HOST:PORT, inet:PORT@HOST or unix:/path");
        if let Some(path) = s.strip_prefix("unix:").or_else(|| s.strip_prefix("local:")) {
            if path.is_empty() {
                return Err(bad());
            }
            return Ok(SocketSpec::Unix(PathBuf::from(path)));
        }
        let rest = s
            .strip_prefix("inet:")
            .or_else(|| s.strip_prefix("inet6:"))
            .ok_or_else(bad)?;
        // Postfix/OpenDKIM spelling: PORT@HOST.
        if let Some((port, host)) = rest.split_once('@') {
            let port: u16 = port.parse().map_err(|_| bad())?;
            let host = host.trim_start_matches('[').trim_end_matches(']');
            let ip: IpAddr = if host == "localhost" {
                IpAddr::V4(Ipv4Addr::LOCALHOST)
            } else {
                host.parse().map_err(|_| bad())?
            };
            return Ok(SocketSpec::Inet(SocketAddr::new(ip, port)));
        }
        if let Ok(a) = rest.parse::<SocketAddr>() {
            return Ok(SocketSpec::Inet(a));
        }
        // HOST:PORT with a bare IPv6 address or "localhost".
        let (host, port) = rest.rsplit_once(':').ok_or_else(bad)?;
        let port: u16 = port.parse().map_err(|_| bad())?;
        let ip: IpAddr = match host {
            "localhost" => IpAddr::V4(Ipv4Addr::LOCALHOST),
            "" | "*" => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            h => h.parse().map_err(|_| bad())?,
        };
        Ok(SocketSpec::Inet(SocketAddr::new(ip, port)))
    }
}
