//! What a reload changes: the keys whose values differ between two
//! configurations (flags applied), the files they name whose contents
//! changed, and which of those keys take effect only after a restart.
//!
//! Keys are found from the configuration's own `Debug` form (every section
//! derives it): in its pretty form each section is a field at one
//! indentation and each key a field at the next, so every key, present or
//! future, is compared without a list to keep up to date. Values are only
//! compared, never logged (the web token and relay password are among
//! them).

use crate::config::Config;
use sha2::{Digest, Sha256};

/// Keys (or whole sections, `store`) that a running process cannot change:
/// they are bound or opened once at start. A key outside the known
/// sections (a process-wide setting) is treated the same.
const RESTART_ONLY: &[&str] = &[
    "milter.listen",
    "milter.socket_*",
    "milter.max_connections",
    "sensor.listen",
    "sensor.max_sessions",
    "sensor.spool_mb",
    "store.*",
    "web.listen",
    "web.enabled",
    "export.*",
];

/// The sections a reload knows how to apply.
const SECTIONS: &[&str] = &[
    "milter", "dns", "sensor", "store", "web", "analysis", "alerts", "export", "seal",
];

/// What a process runs, hence which keys concern it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Parts {
    /// The milter (`[milter]`, `[dns]`, `[seal]`).
    pub milter: bool,
    /// The sensor and its web UI (`[sensor]`, `[store]`, `[web]`,
    /// `[analysis]`, `[alerts]`, `[export]`, `[seal]`, and the milter's
    /// authserv-id, the default trusted one).
    pub sensor: bool,
}

impl Parts {
    /// Whether `key` (`section.key` or `section`) concerns this process.
    pub fn uses(&self, key: &str) -> bool {
        let section = key.split('.').next().unwrap_or(key);
        match section {
            "milter" => self.milter || (self.sensor && key == "milter.authserv_id"),
            "dns" => self.milter,
            "seal" => true,
            s if SECTIONS.contains(&s) => self.sensor,
            _ => true,
        }
    }
}

/// The keys, as `section.key`, whose values differ between `old` and `new`.
pub fn changed_keys(old: &Config, new: &Config) -> Vec<String> {
    let (old, new) = (format!("{old:#?}"), format!("{new:#?}"));
    let (old, new) = (fields(&old, 4), fields(&new, 4));
    let mut out = Vec::new();
    for (name, value) in &new {
        let before = old.iter().find(|(n, _)| n == name).map(|(_, v)| v);
        if before == Some(value) {
            continue;
        }
        let inner_new = fields(value, 8);
        let inner_old = before.map(|v| fields(v, 8)).unwrap_or_default();
        let keys: Vec<String> = inner_new
            .iter()
            .filter(|(k, v)| inner_old.iter().find(|(n, _)| n == k).map(|(_, w)| w) != Some(v))
            .map(|(k, _)| format!("{name}.{k}"))
            .collect();
        if keys.is_empty() {
            out.push(name.clone());
        } else {
            out.extend(keys);
        }
    }
    out
}

/// The fields of a pretty `Debug` text at `indent` spaces: `name: value`
/// lines at exactly that indentation start a field; deeper lines continue
/// it.
fn fields(text: &str, indent: usize) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        let rest = line.trim_start_matches(' ');
        let depth = line.len() - rest.len();
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let starts = depth == indent && !name.is_empty() && rest[name.len()..].starts_with(": ");
        if starts {
            out.push((name, line.to_string()));
        } else if let Some((_, v)) = out.last_mut() {
            v.push('\n');
            v.push_str(line);
        }
    }
    out
}

/// Of `keys`, those that take effect only after a restart.
pub fn restart_needed(keys: &[String]) -> Vec<String> {
    keys.iter().filter(|k| restart_only(k)).cloned().collect()
}

/// Whether `key` (`section.key` or `section`) takes effect only after a
/// restart.
pub fn restart_only(key: &str) -> bool {
    let section = key.split('.').next().unwrap_or(key);
    !SECTIONS.contains(&section)
        || RESTART_ONLY.iter().any(|p| match p.strip_suffix('*') {
            Some(prefix) => key.starts_with(prefix) || format!("{key}.") == prefix,
            None => key == *p,
        })
}

/// The files a configuration names whose contents a reload reads again
/// (certificate, keys), as `(key, SHA-256 of the contents)`; `None` for a
/// file not set or unreadable.
pub fn file_digests(cfg: &Config) -> Vec<(&'static str, Option<[u8; 32]>)> {
    let digest = |p: Option<&std::path::Path>| {
        p.and_then(|p| std::fs::read(p).ok())
            .map(|b| Sha256::digest(b).into())
    };
    vec![
        ("sensor.tls_cert", digest(cfg.sensor.tls_cert.as_deref())),
        ("sensor.tls_key", digest(cfg.sensor.tls_key.as_deref())),
        ("seal.key_file", digest(cfg.seal.key_file.as_deref())),
        (
            "milter.arc_seal.key",
            digest(cfg.milter.arc_seal.as_ref().map(|a| a.key.as_path())),
        ),
    ]
}

/// The keys of files whose contents changed between `old` and `new`
/// (named `key (file contents)`); a file whose key itself changed is
/// already among the changed keys.
pub fn changed_files(
    old: &[(&'static str, Option<[u8; 32]>)],
    new: &[(&'static str, Option<[u8; 32]>)],
    changed: &[String],
) -> Vec<String> {
    new.iter()
        .zip(old)
        .filter(|((k, a), (_, b))| a != b && !changed.iter().any(|c| c == k))
        .map(|((k, _), _)| format!("{k} (file contents)"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Config {
        Config::parse(text).unwrap()
    }

    #[test]
    fn keys_that_changed() {
        let old = parse("[milter]\ntrusted_networks = [\"10.0.0.0/8\"]\n[web]\ntoken = \"a\"\n");
        let new = parse(
            "[milter]\ntrusted_networks = [\"10.0.0.0/8\", \"192.0.2.0/24\"]\nmethods = [\"spf\", \"dkim\"]\n\
             [web]\ntoken = \"b\"\n[sensor]\nallow = [\"127.0.0.2/32\"]\n",
        );
        let mut keys = changed_keys(&old, &new);
        keys.sort();
        assert_eq!(
            keys,
            [
                "milter.methods",
                "milter.trusted_networks",
                "sensor.allow",
                "web.token"
            ]
        );
        assert!(changed_keys(&new, &new.clone()).is_empty());
        // A nested value (the ARC sealing identity) is one key.
        let arc = parse("[milter.arc_seal]\ndomain = \"d\"\nselector = \"s\"\nkey = \"/k\"\n");
        assert_eq!(
            changed_keys(&old, &arc),
            ["milter.trusted_networks", "milter.arc_seal", "web.token"]
        );
    }

    #[test]
    fn keys_that_need_a_restart() {
        let keys: Vec<String> = [
            "milter.listen",
            "milter.socket_mode",
            "milter.trusted_networks",
            "sensor.listen",
            "sensor.allow",
            "store.path",
            "store",
            "web.listen",
            "web.token",
            "export.nats",
            "dns.timeout_ms",
            "process.user",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            restart_needed(&keys),
            [
                "milter.listen",
                "milter.socket_mode",
                "sensor.listen",
                "store.path",
                "store",
                "web.listen",
                "export.nats",
                "process.user"
            ]
        );
    }

    #[test]
    fn parts_select_their_keys() {
        let milter = Parts {
            milter: true,
            sensor: false,
        };
        let sensor = Parts {
            milter: false,
            sensor: true,
        };
        assert!(milter.uses("milter.methods") && milter.uses("dns.timeout_ms"));
        assert!(!milter.uses("sensor.allow") && !milter.uses("web.token"));
        assert!(sensor.uses("sensor.allow") && sensor.uses("milter.authserv_id"));
        assert!(!sensor.uses("milter.methods") && !sensor.uses("dns.nameservers"));
        assert!(milter.uses("seal.key_file") && sensor.uses("seal.key_file"));
        assert!(milter.uses("process.user") && sensor.uses("process.log_format"));
    }
}
