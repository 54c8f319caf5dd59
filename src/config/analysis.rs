//! `[analysis]`: what the per-record analysis protects.

use serde::Deserialize;

/// `[analysis]` section.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AnalysisConfig {
    /// The organisation's own domains (lookalikes of these are flagged).
    pub org_domains: Vec<String>,
    /// Protected people's display names (impersonation is flagged).
    pub vip_names: Vec<String>,
}
