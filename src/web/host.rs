//! The `Host:` check in front of every route, the defence against DNS
//! rebinding: a page on an attacker's name that resolves to this server's
//! address makes the browser send `Host: <attacker's name>`, so only the
//! names and addresses in `[web] allowed_hosts` (by default the listen
//! address and, on loopback, `localhost`) are answered; anything else gets
//! `421 Misdirected Request` (a missing or repeated `Host:` gets `400`) and
//! a log line, at most one per `Host:` value per minute.
//!
//! The check runs before the token check and also when a token is set: a
//! token stops a rebinding page from reading anything, but a browser that
//! holds the token in a bookmarklet or a proxy that adds it would not.

use super::WebState;
use crate::config::normalize_host;
use crate::loglimit::{Line, LogLimiter};
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// `Host:` values whose refusals are logged one by one.
const LOG_KEYS: usize = 1024;

/// The hosts a web server answers to.
pub struct HostCheck {
    exact: HashSet<String>,
    /// For an unspecified listen address: any IP address with this port.
    any_ip_on: Option<u16>,
    log: LogLimiter<String>,
}

impl HostCheck {
    /// `configured` (`[web] allowed_hosts`, normalised), or the defaults
    /// for a server bound to `listen` when it is empty.
    pub fn new(configured: &[String], listen: SocketAddr) -> HostCheck {
        let mut exact: HashSet<String> = configured.iter().cloned().collect();
        let mut any_ip_on = None;
        if exact.is_empty() {
            let port = listen.port();
            let ip = listen.ip().to_canonical();
            exact.extend(normalize_host(&SocketAddr::new(ip, port).to_string()));
            let local: &[&str] = if ip.is_loopback() {
                &["localhost", "127.0.0.1", "[::1]"]
            } else if ip.is_unspecified() {
                any_ip_on = Some(port);
                &["localhost"]
            } else {
                &[]
            };
            for h in local {
                exact.insert(h.to_string());
                exact.insert(format!("{h}:{port}"));
            }
        }
        HostCheck {
            exact,
            any_ip_on,
            log: LogLimiter::new(Duration::from_secs(60), LOG_KEYS),
        }
    }

    /// Whether a request with `Host: value` is answered.
    pub fn allows(&self, value: &str) -> bool {
        let Some(host) = normalize_host(value) else {
            return false;
        };
        if self.exact.contains(&host) {
            return true;
        }
        let Some(port) = self.any_ip_on else {
            return false;
        };
        let Some((addr, p)) = host.rsplit_once(':') else {
            return false;
        };
        let ip = addr.starts_with('[') || addr.parse::<std::net::Ipv4Addr>().is_ok();
        ip && p == port.to_string()
    }

    /// The accepted hosts, for the start-up log line.
    pub fn describe(&self) -> String {
        let mut v: Vec<&str> = self.exact.iter().map(String::as_str).collect();
        v.sort_unstable();
        let mut s = v.join(",");
        if let Some(p) = self.any_ip_on {
            s.push_str(&format!(",<any IP>:{p}"));
        }
        s
    }
}

/// The `Host:` (or, for an absolute-form request, the authority) of `req`;
/// `Err` with the reason when there is none or more than one.
fn host_of(req: &Request) -> Result<String, &'static str> {
    if let Some(a) = req.uri().authority() {
        return Ok(a.as_str().to_string());
    }
    let mut hosts = req.headers().get_all(header::HOST).iter();
    match (hosts.next(), hosts.next()) {
        (Some(h), None) => h
            .to_str()
            .map(str::to_string)
            .map_err(|_| "a Host header that is not text"),
        (None, _) => Err("no Host header"),
        (Some(_), Some(_)) => Err("more than one Host header"),
    }
}

/// Passes the request on if its host is allowed; 421 (400 without one)
/// otherwise.
pub async fn require_host(State(st): State<WebState>, req: Request, next: Next) -> Response {
    let access = st.access.load();
    let hosts = &access.hosts;
    let host = match host_of(&req) {
        Ok(h) if hosts.allows(&h) => return next.run(req).await,
        Ok(h) => h,
        Err(why) => {
            refused(hosts, format!("({why})"));
            let body = format!("400 Bad Request: {why}; this server needs exactly one Host\n");
            return (StatusCode::BAD_REQUEST, body).into_response();
        }
    };
    let shown: String = host
        .chars()
        .take(100)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    refused(hosts, shown.clone());
    let body = format!(
        "421 Misdirected Request: this server does not answer to Host \"{shown}\" \
         (not in [web] allowed_hosts)\n"
    );
    (
        StatusCode::MISDIRECTED_REQUEST,
        [(header::X_CONTENT_TYPE_OPTIONS, "nosniff")],
        body,
    )
        .into_response()
}

fn refused(check: &HostCheck, host: String) {
    match check.log.hit(host, Instant::now()) {
        Some(Line { key: Some(host), count }) => tracing::warn!(host = ?host, refusals = count, every_s = 60, "web request refused: Host not in [web] allowed_hosts (DNS rebinding defence)"),
        Some(Line { key: None, count }) => tracing::warn!(refusals = count, every_s = 60, "web requests refused: Host not in [web] allowed_hosts (hosts beyond the tracked ones, counted together)"),
        None => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(configured: &[&str], listen: &str) -> HostCheck {
        let c: Vec<String> = configured.iter().map(|s| s.to_string()).collect();
        HostCheck::new(&c, listen.parse().unwrap())
    }

    #[test]
    fn loopback_defaults() {
        let c = check(&[], "127.0.0.1:8025");
        for ok in [
            "127.0.0.1:8025",
            "localhost:8025",
            "LOCALHOST.:8025",
            "[::1]:8025",
            "[0::1]:8025",
            "localhost",
            "127.0.0.1",
            "[::1]",
        ] {
            assert!(c.allows(ok), "{ok}");
        }
        for refused in [
            "attacker.example:8025",
            "attacker.example",
            "localhost:8026",
            "127.0.0.2:8025",
            "127.1:8025",
            "localhost.attacker.example:8025",
            "user@localhost:8025",
            "",
            "[::2]:8025",
        ] {
            assert!(!c.allows(refused), "{refused:?}");
        }
        let v6 = check(&[], "[::1]:9000");
        assert!(v6.allows("[::1]:9000") && v6.allows("localhost:9000"));
        assert!(!v6.allows("localhost:8025"));
    }

    #[test]
    fn other_listen_addresses() {
        let c = check(&[], "192.0.2.7:8025");
        assert!(c.allows("192.0.2.7:8025"));
        assert!(!c.allows("192.0.2.7") && !c.allows("localhost:8025"));
        let any = check(&[], "0.0.0.0:8025");
        for ok in ["192.0.2.7:8025", "[2001:db8::7]:8025", "localhost:8025"] {
            assert!(any.allows(ok), "{ok}");
        }
        for refused in ["192.0.2.7:80", "192.0.2.7", "sensor.example.com:8025"] {
            assert!(!any.allows(refused), "{refused}");
        }
        assert!(
            any.describe().ends_with(",<any IP>:8025"),
            "{}",
            any.describe()
        );
    }

    #[test]
    fn configured_hosts_replace_the_defaults() {
        let c = check(
            &["sensor.example.com", "sensor.example.com:8443"],
            "127.0.0.1:8025",
        );
        assert!(c.allows("Sensor.Example.com") && c.allows("sensor.example.com:8443"));
        assert!(
            !c.allows("sensor.example.com:8025"),
            "port given, port checked"
        );
        assert!(!c.allows("127.0.0.1:8025") && !c.allows("localhost"));
    }
}
