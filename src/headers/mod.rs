//! The header grammar both halves share; imports nothing else of ours.
//! What the milter writes, deletes and evaluates and what the sensor
//! believes and records must be decided by the same code over the same
//! bytes.
//!
//! - [`address`]: RFC 5322 §3.4 address lists (`From:` and the other
//!   address fields), used by the milter's DMARC and the sensor's record.

pub mod address;
