//! authsense: trustworthy authentication results stamped at the mail
//! perimeter (a milter for Postfix and Sendmail), and a sensor that turns a
//! copy of every inbound message into security metadata.
//!
//! Data flows one way: MTA → [`milter`] → header → copy → sensor → store.
//! [`auth`] evaluates, [`authres`] writes and reads RFC 8601 headers,
//! [`dns`] is the one resolver seam, [`config`] the one typed configuration.
#![warn(missing_docs)]

pub mod alerts;
pub mod auth;
pub mod cli;
pub mod config;
pub mod dns;
pub mod export;
pub mod headers;
pub mod ingest;
pub mod loglimit;
pub mod metrics;
pub mod milter;
pub mod model;
pub mod process;
pub mod reload;
pub mod sensor;
pub mod status;
pub mod store;
pub mod swap;
pub mod web;

/// This machine's host name (the default authserv-id).
pub fn host_name() -> String {
    // gethostname(2) (uname), not /proc/sys/kernel/hostname, which a
    // hardened unit (ProcSubset=pid) hides.
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; the result is
    // NUL-terminated when it fits (the last byte stays 0 otherwise).
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len() - 1) } == 0;
    let end = buf.iter().position(|&b| b == 0).unwrap_or(0);
    Some(&buf[..end])
        .filter(|_| ok)
        .and_then(|b| std::str::from_utf8(b).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}
