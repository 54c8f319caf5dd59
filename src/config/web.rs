//! `[web]`: the status page, message search, JSON API and `/metrics`.

use serde::{Deserialize, Deserializer};
use std::net::SocketAddr;

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
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8025)),
            enabled: true,
            token: None,
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
