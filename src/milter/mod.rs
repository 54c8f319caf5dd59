//! The perimeter milter: serves the milter protocol (indymilter) to Postfix
//! and Sendmail, evaluates SPF for every inbound message, deletes forged
//! authentication headers and stamps `X-Agari-Authentication-Results`.

mod callbacks;
pub mod capture;
mod evaluate;
pub mod listen;
pub mod session;
pub mod stamp;

use crate::auth::{Authenticator, Sealer};
use crate::config::{Config, MilterConfig};
use listen::MilterListener;
use std::{future::Future, io, sync::Arc, time::Duration};

/// The settings in force for new connections and messages, replaced whole
/// by a reload ([`crate::reload`]).
pub type Live = crate::swap::Swap<Shared>;

/// State shared by every milter connection.
pub struct Shared {
    /// The `[milter]` configuration.
    pub config: MilterConfig,
    /// The authserv-id in force (configured, or this host's name).
    pub authserv_id: String,
    /// The evaluator.
    pub auth: Authenticator,
    /// The ARC sealing identity, when `[milter.arc_seal]` is configured.
    pub sealer: Option<Sealer>,
    /// The keys that seal our stamps (`[seal] key_file`), if any.
    pub seal_keys: Option<crate::headers::seal::Keys>,
}

impl Shared {
    /// Resolves defaults (the authserv-id), loads the sealing key if any.
    ///
    /// # Errors
    /// The ARC sealing key cannot be loaded.
    pub fn new(config: MilterConfig, auth: Authenticator) -> Result<Self, String> {
        let authserv_id = config.authserv_id.clone().unwrap_or_else(crate::host_name);
        let sealer = match &config.arc_seal {
            Some(a) => Some(Sealer::load(&a.domain, &a.selector, &a.key)?),
            None => None,
        };
        Ok(Shared {
            config,
            authserv_id,
            auth,
            sealer,
            seal_keys: None,
        })
    }

    /// Everything the milter needs from a whole configuration: a new
    /// resolver (`[dns]`), the ARC sealing key and the seal keys (`[seal]
    /// key_file`), loaded and checked as at start-up.
    ///
    /// # Errors
    /// The resolver cannot be built, or a key file cannot be loaded.
    pub fn from_config(cfg: &Config) -> Result<Self, String> {
        let auth = Authenticator::new(&cfg.dns)?;
        let keys = crate::headers::seal::Keys::load(cfg.seal.key_file.as_deref())?;
        Ok(Shared::new(cfg.milter.clone(), auth)?.with_seal_keys(keys))
    }

    /// Seals every stamp with `keys` (the first signs).
    pub fn with_seal_keys(mut self, keys: Option<crate::headers::seal::Keys>) -> Self {
        self.seal_keys = keys;
        self
    }
}

/// Serves milter connections on `listener` until `shutdown` completes.
///
/// # Errors
/// The listener stops accepting connections.
pub async fn run(
    listener: MilterListener,
    shared: Arc<Shared>,
    shutdown: impl Future,
) -> io::Result<()> {
    run_live(listener, Arc::new(Live::from_arc(shared)), shutdown).await
}

/// [`run`] with settings that a reload may replace: each new connection
/// takes the settings in force, and each new message on it too when they
/// fit what the connection negotiated ([`session::Negotiated`]).
/// `max_connections` is read once, here.
///
/// # Errors
/// The listener stops accepting connections.
pub async fn run_live(
    listener: MilterListener,
    live: Arc<Live>,
    shutdown: impl Future,
) -> io::Result<()> {
    let config = indymilter::Config {
        max_connections: live.load().config.max_connections,
        // Postfix's default milter_content_timeout is 300 s; a dead MTA
        // connection must not be kept for libmilter's two hours.
        connection_timeout: Duration::from_secs(600),
        ..Default::default()
    };
    indymilter::run(listener, callbacks::callbacks(live), config, shutdown).await
}
