//! `[process]`: how the daemon runs — the account it drops to after binding
//! its sockets when started as root, and its log format.

use serde::Deserialize;

/// `[process]` section.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProcessConfig {
    /// Started as root, bind the sockets, then run as this user (and its
    /// group, or `group`). Not needed under systemd (the units set
    /// `User=authsense`).
    pub user: Option<String>,
    /// Group to run as (default: the user's primary group).
    pub group: Option<String>,
    /// Keep running as root when `user` cannot be switched to (never a
    /// good idea; refused unless set).
    pub allow_root: bool,
    /// Log lines as `text` (default) or `json` (one object per line); the
    /// `--log-format` flag overrides it.
    pub log_format: LogFormat,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines (without timestamps under systemd's journal,
    /// which adds its own).
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}
