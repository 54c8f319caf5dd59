//! The shared vocabulary: the stored record of a copy, verdicts and
//! results, and the domain notions every part uses. It is the contract
//! between sensor, store, web, export, alerts and metrics, and imports
//! nothing else of ours.

mod domain;
mod record;
mod spf;

pub use domain::{normalize as normalize_domain, organizational_domain};
pub use record::{
    Anomalies, Attachment, AuthInfo, AuthSource, Gateway, Hop, Journal, Mailbox, MethodInfo,
    Original, Reason, Record, UrlInfo, Verdict,
};
pub use spf::SpfResult;
