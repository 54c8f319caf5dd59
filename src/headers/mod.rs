//! The header grammar both halves share: what the milter writes, deletes
//! and evaluates and what the sensor believes and records must be decided
//! by the same code over the same bytes. Nothing here imports another
//! module of ours.
//!
//! - [`authres`]: RFC 8601 `Authentication-Results`, parsed and written.
//! - [`received`]: the `Received:` trace fields (RFC 5321 §4.4).
//! - [`address`]: RFC 5322 §3.4 address lists (`From:` and the other
//!   address fields), used by the milter's DMARC and the sensor's record.
//! - [`stamp`]: the milter↔sensor contract (header names, what the milter
//!   deletes, what the sensor trusts).
//! - [`seal`]: the integrity seal over the milter's stamps.

pub mod address;
pub mod authres;
pub mod received;
pub mod seal;
pub mod stamp;
