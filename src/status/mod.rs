//! The status of the sensors' gateways: the health rules (green, yellow,
//! red with the rule that set it) and the report behind the status page,
//! `GET /api/status` and `authsense status`, computed from the store's
//! per-gateway counts.

pub mod report;
pub mod rules;
