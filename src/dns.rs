//! The one DNS seam: builds the resolver every evaluation goes through, from
//! the system configuration or from configured nameservers, with per-query
//! timeout, retries and a bounded response cache (hickory's LRU, TTLs honoured).
//!
//! A lost UDP answer costs one retransmission interval, not the whole timeout:
//! hickory retransmits a UDP query after 1.2 × the server's smoothed RTT
//! (floored) while the query's timeout runs.

use crate::config::DnsConfig;
use mail_auth::{
    hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts},
    MessageAuthenticator,
};
use std::time::Duration;

/// Builds the resolver described by `cfg`.
///
/// # Errors
/// The system configuration cannot be read (no `/etc/resolv.conf`) or the
/// resolver cannot be built.
pub fn resolver(cfg: &DnsConfig) -> Result<MessageAuthenticator, String> {
    let (config, mut opts) = if cfg.nameservers.is_empty() {
        mail_auth::hickory_resolver::system_conf::read_system_conf()
            .map_err(|e| format!("cannot read the system resolver configuration: {e}"))?
    } else {
        let servers = cfg
            .nameservers
            .iter()
            .map(|addr| {
                let mut ns = NameServerConfig::udp_and_tcp(addr.ip());
                for c in &mut ns.connections {
                    c.port = addr.port();
                }
                ns
            })
            .collect();
        (
            ResolverConfig::from_parts(None, vec![], servers),
            ResolverOpts::default(),
        )
    };
    opts.timeout = Duration::from_millis(cfg.timeout_ms.max(1));
    opts.attempts = cfg.attempts;
    opts.cache_size = cfg.cache_size;
    // Names in SPF records are absolute; never append search domains.
    opts.ndots = 0;
    // A truncated UDP answer is retried over TCP by hickory itself
    // (postfix-test/e2e-dns-faults: truncated-tcp, txt-4k); its
    // `try_tcp_on_error` option is not read by hickory 0.26, so not set.
    MessageAuthenticator::new(config, opts)
        .map_err(|e| format!("cannot build the DNS resolver: {e}"))
}
