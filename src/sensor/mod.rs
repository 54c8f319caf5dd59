//! The sensor: an embedded ESMTP sink that receives the dual-delivered copy
//! of every inbound message, never bounces, reads the perimeter's
//! authentication stamp and stores metadata (no bodies) durably.

pub mod authsel;
pub mod extract;
pub mod received;
pub mod record;
