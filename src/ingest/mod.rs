//! The pure pipeline of the sensor: the bytes of a received copy and its
//! envelope in, one analysed [`Record`] out — no socket, no store writes.
//!
//! - [`extract`]: MIME, header fields, attachments, URLs, journal reports;
//! - [`trust`]: which authentication header to believe (the stamp, the
//!   seal, the strict grammar of [`crate::headers::stamp`]);
//! - [`analysis`]: score, verdict and the rules that fired.

pub mod analysis;
pub mod extract;
pub mod trust;

use crate::config::AnalysisConfig;
use crate::model::Record;
use extract::{Envelope, ExtractOptions};

/// Reads `raw` delivered with `env` into a record and analyses it, asking
/// `history` what the store has seen. Never panics on hostile input and
/// never fails: what cannot be read stays empty (see [`extract::extract`]).
pub fn ingest(
    raw: &[u8],
    env: Envelope,
    opts: &ExtractOptions,
    cfg: &AnalysisConfig,
    history: &dyn analysis::History,
) -> Record {
    let mut record = extract::extract(raw, env, opts);
    analysis::apply(&mut record, cfg, history);
    record
}
