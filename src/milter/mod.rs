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
use crate::config::MilterConfig;
use listen::MilterListener;
use std::{future::Future, io, sync::Arc, time::Duration};

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
    let config = indymilter::Config {
        max_connections: shared.config.max_connections,
        // Postfix's default milter_content_timeout is 300 s; a dead MTA
        // connection must not be kept for libmilter's two hours.
        connection_timeout: Duration::from_secs(600),
        ..Default::default()
    };
    indymilter::run(listener, callbacks::callbacks(shared), config, shutdown).await
}
