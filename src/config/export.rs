//! `[export]`: every stored record also published as JSON to NATS
//! JetStream (`src/export/`).

use serde::Deserialize;
use std::path::PathBuf;

/// `[export]` section. Export is on when `nats` is set (or `--nats URL`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExportConfig {
    /// NATS server URL, e.g. `nats://127.0.0.1:4222` (several comma
    /// separated for a cluster). Unset: no export.
    pub nats: Option<String>,
    /// Subject each record is published on.
    pub subject: String,
    /// JetStream stream holding `subject`; created if missing.
    pub stream: String,
    /// `true`: the copy is answered 250 only after JetStream acknowledged
    /// its event (451 otherwise, the gateway retries). `false`: events go
    /// through the on-disk spool and are published in the background, so
    /// a NATS outage never delays mail.
    pub required: bool,
    /// Spool directory for `required = false` (survives restarts).
    pub spool_dir: PathBuf,
    /// Spool cap in MiB; when full, copies are answered 451 until NATS is
    /// back and the backlog drains (nothing is lost).
    pub spool_max_mb: u64,
    /// How long to wait for a JetStream acknowledgement, in seconds.
    pub ack_timeout_secs: u64,
}

impl Default for ExportConfig {
    fn default() -> Self {
        Self {
            nats: None,
            subject: "authsense.records".into(),
            stream: "AUTHSENSE".into(),
            required: false,
            spool_dir: "authsense-spool".into(),
            spool_max_mb: 256,
            ack_timeout_secs: 5,
        }
    }
}
