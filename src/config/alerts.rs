//! `[alerts]`: threat and health alerts sent by email.

use serde::Deserialize;

/// `[alerts]` section; alerts are off until `relay` and `to` are set.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsConfig {
    /// SMTP relay as `HOST:PORT`.
    pub relay: Option<String>,
    /// Sender address of alert mail.
    pub from: Option<String>,
    /// Admin addresses that receive alerts.
    pub to: Vec<String>,
}
