//! `[seal]`: the key the milter and the sensor share to seal the milter's
//! stamps (src/headers/seal.rs), so that the sensor believes a stamp only
//! if our milter wrote it for that message.

use serde::Deserialize;
use std::path::PathBuf;

/// `[seal]` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SealConfig {
    /// Key file (hex keys, one per line, the first signs; `authsense keygen
    /// FILE` writes one). The milter seals its stamps with it; the sensor
    /// requires a valid seal on the stamps of `[sensor]
    /// sealed_authserv_ids`. `authsense run` creates one beside the store
    /// when none is given.
    pub key_file: Option<PathBuf>,
    /// Oldest seal the sensor accepts, in hours: a copy can wait in a queue
    /// while the sensor is down (Postfix's `maximal_queue_lifetime` is 5
    /// days). Default 240.
    pub max_age_hours: u64,
}

impl Default for SealConfig {
    fn default() -> Self {
        SealConfig {
            key_file: None,
            max_age_hours: 240,
        }
    }
}
