//! The header grammar both halves share: what the milter writes and deletes
//! and what the sensor believes must be decided by the same code over the
//! same bytes. Nothing here imports another module of ours.

pub mod seal;
pub mod stamp;
