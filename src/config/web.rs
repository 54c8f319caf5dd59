//! `[web]`: the status page, message search, JSON API and `/metrics`.

use serde::Deserialize;
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
