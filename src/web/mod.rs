//! The web server inside `authsense sensor` and `authsense run` (axum):
//! the status page, message search and detail pages (server-rendered HTML,
//! no external assets), the JSON API (`docs/api.md`) and `/metrics`.
//!
//! Read-only: no endpoint changes anything. Every request must name an
//! allowed host (`[web] allowed_hosts`, `host.rs`: DNS rebinding). With
//! `[web] token` set, every request — `/metrics` included — must carry
//! `Authorization: Bearer <token>` (compared in constant time); without it,
//! bind the server to loopback (the default `127.0.0.1:8426`) or put it
//! behind a proxy.

mod api;
mod auth;
pub mod host;
mod html;
mod pages;
pub mod search;

use crate::store::Store;
use crate::swap::Swap;
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;
use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;

/// Who may ask: `[web] token` and the hosts answered, replaced whole by a
/// reload ([`crate::reload`]); a request is checked against the ones in
/// force when it arrives.
pub struct Access {
    /// `[web] token`.
    pub token: Option<Arc<str>>,
    /// The hosts answered (`[web] allowed_hosts` or the defaults for the
    /// bound address).
    pub hosts: host::HostCheck,
}

impl Access {
    /// The access rules of `cfg` for a server bound to `bound`.
    pub fn new(cfg: &crate::config::WebConfig, bound: std::net::SocketAddr) -> Access {
        Access {
            token: cfg.token.as_deref().map(Arc::from),
            hosts: host::HostCheck::new(&cfg.allowed_hosts, bound),
        }
    }
}

/// What the handlers share.
#[derive(Clone)]
pub struct WebState {
    /// The sensor's store (read only).
    pub store: Store,
    /// The token and hosts in force.
    pub access: Arc<Swap<Access>>,
    /// The Prometheus recorder's handle; `None` answers `/metrics` with 503.
    pub metrics: Option<PrometheusHandle>,
    /// The milter runs in this process (`authsense run`): show its counters.
    pub milter: bool,
    /// The event stream, when export is on: its health is on the status
    /// page.
    pub exporter: Option<crate::export::Exporter>,
}

/// A web server started by [`spawn`].
pub struct Web {
    /// The server task; it ends once `stop` flips.
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
    /// The address it is bound to.
    pub addr: std::net::SocketAddr,
    /// The access rules a reload replaces.
    pub access: Arc<Swap<Access>>,
}

/// The routes, host and token checks included (the host check first).
pub fn router(state: WebState) -> Router {
    Router::new()
        .route("/", get(pages::status))
        .route("/messages", get(pages::messages))
        .route("/messages/{id}", get(pages::message))
        .route("/api/status", get(api::status))
        .route("/api/messages", get(api::messages))
        .route("/api/messages/{id}", get(api::message))
        .route("/metrics", get(api::metrics))
        .fallback(pages::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            host::require_host,
        ))
        .with_state(state)
}

/// Serves `state` on `listener` until `shutdown` completes (requests in
/// flight are finished first).
pub async fn serve(
    listener: TcpListener,
    state: WebState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Binds the web listener when `[web] enabled`: a port that cannot be
/// bound stops the start-up, as the SMTP and milter ones do.
///
/// # Errors
/// The address cannot be bound; the message names it.
pub async fn bind(cfg: &crate::config::WebConfig) -> Result<Option<TcpListener>, String> {
    if !cfg.enabled {
        return Ok(None);
    }
    TcpListener::bind(cfg.listen).await.map(Some).map_err(|e| {
        format!(
            "cannot listen on {} for the web UI ([web] listen, --web): {e}",
            cfg.listen
        )
    })
}

/// Binds `cfg.listen` and serves the web UI in a task until `stop` flips to
/// `true`; `None` when `[web] enabled = false` or the address cannot be
/// bound. The metrics recorder is installed here if it is not yet.
///
/// A bind failure is logged as an error but does not stop the sensor: the
/// copies must keep being stored whatever happens to the UI (a second
/// sensor on the same host, say, finds the default port taken).
pub async fn spawn(
    cfg: &crate::config::WebConfig,
    listener: Option<TcpListener>,
    store: Store,
    milter: bool,
    exporter: Option<crate::export::Exporter>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Option<Web> {
    let listener = listener?;
    let addr = listener.local_addr().unwrap_or(cfg.listen);
    let access = Arc::new(Swap::new(Access::new(cfg, addr)));
    let state = WebState {
        store,
        access: access.clone(),
        metrics: crate::metrics::install(),
        milter,
        exporter,
    };
    let a = access.load();
    tracing::info!(listen = %addr, token = a.token.is_some(), allowed_hosts = %a.hosts.describe(), "web UI started");
    let task = tokio::spawn(serve(listener, state, async move {
        let _ = stop.wait_for(|v| *v).await;
    }));
    Some(Web { task, addr, access })
}
