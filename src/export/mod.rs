//! The event stream: every stored record is also published as one JSON
//! object to NATS JetStream, for SIEM pipelines and for fleets whose
//! consumers want a feed rather than a database.
//!
//! Two modes (`[export] required`):
//! - `true`: [`Exporter::export`] publishes and waits for JetStream's
//!   acknowledgement; the sensor answers 250 only after it (451 on failure,
//!   the gateway retries and the store's idempotency keeps one record).
//! - `false`: the event goes to a bounded on-disk spool (`spool.rs`) and a
//!   background task publishes the backlog in order, retrying with backoff
//!   while NATS is unreachable. A full spool is a 451, never a lost event.
//!
//! Each message carries `Nats-Msg-Id` = [`crate::store::idempotency_key`],
//! so a retried copy (even via another sensor) is published once within the
//! stream's duplicate window (2 minutes). The stream is created if missing.
//! Metrics: `authsense_export_published_total`,
//! `authsense_export_spooled_total`, `authsense_export_failures_total`,
//! gauges `authsense_export_spool_depth` and `authsense_export_up` (1 after
//! an acknowledged publish, 0 after a failed one).

pub mod consume;
pub mod spool;

use crate::config::ExportConfig;
use crate::model::Record;
use async_nats::jetstream;
use spool::{PushError, Spool};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, OnceCell};

/// Events published per spool scan.
const DRAIN_BATCH: usize = 256;
/// Longest pause between publish attempts while NATS is unreachable.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Handle to the exporter; cheap to clone.
#[derive(Clone)]
pub struct Exporter {
    inner: Arc<Inner>,
}

struct Inner {
    url: String,
    subject: String,
    stream: String,
    ack_timeout: Duration,
    js: OnceCell<jetstream::Context>,
    stream_ready: OnceCell<()>,
    spool: Option<Spool>,
    wake: Notify,
    last_error: Mutex<Option<String>>,
}

/// Health for the status page and `/metrics`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ExportHealth {
    /// The NATS connection is up.
    pub connected: bool,
    /// Events waiting in the spool.
    pub spool_depth: u64,
    /// Last publish failure, cleared by the next success.
    pub last_error: Option<String>,
}

/// Why an event was not accepted (the sensor answers 451).
#[derive(Debug, Clone)]
pub struct ExportError(pub String);

impl std::fmt::Display for ExportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ExportError {}

impl Exporter {
    /// Starts the exporter for `cfg` (`None` when export is off). Must run
    /// inside a tokio runtime: the spool drainer is spawned here. Connects
    /// lazily, and in the background when NATS is down.
    ///
    /// # Errors
    /// The spool directory cannot be created or read.
    pub fn start(cfg: &ExportConfig) -> Result<Option<Exporter>, String> {
        let Some(url) = cfg.nats.clone() else {
            return Ok(None);
        };
        let spool = if cfg.required {
            None
        } else {
            let max = cfg.spool_max_mb.saturating_mul(1 << 20);
            Some(
                Spool::open(&cfg.spool_dir, max)
                    .map_err(|e| format!("[export] spool_dir {}: {e}", cfg.spool_dir.display()))?,
            )
        };
        let ex = Exporter {
            inner: Arc::new(Inner {
                url,
                subject: cfg.subject.clone(),
                stream: cfg.stream.clone(),
                ack_timeout: Duration::from_secs(cfg.ack_timeout_secs.max(1)),
                js: OnceCell::new(),
                stream_ready: OnceCell::new(),
                spool,
                wake: Notify::new(),
                last_error: Mutex::new(None),
            }),
        };
        if let Some(spool) = &ex.inner.spool {
            metrics::gauge!("authsense_export_spool_depth").set(spool.depth() as f64);
            tokio::spawn(ex.clone().drain());
        }
        Ok(Some(ex))
    }

    /// Publishes (required) or spools `record`, which must carry its store
    /// id. `Ok` means JetStream has it, or the spool has it durably.
    pub async fn export(&self, record: &Record) -> Result<(), ExportError> {
        let payload = serde_json::to_vec(record)
            .map_err(|e| ExportError(format!("cannot encode record: {e}")))?;
        let msg_id = crate::store::idempotency_key(record);
        let Some(_) = &self.inner.spool else {
            return self.publish(&msg_id, payload).await.inspect_err(|e| {
                self.note_error(e);
                metrics::counter!("authsense_export_failures_total").increment(1);
            });
        };
        let this = self.clone();
        let pushed = tokio::task::spawn_blocking(move || {
            let spool = this.inner.spool.as_ref().expect("spool mode");
            spool.push(&msg_id, &payload)
        })
        .await
        .map_err(|e| ExportError(format!("spool task failed: {e}")))?;
        match pushed {
            Ok(()) => {
                metrics::counter!("authsense_export_spooled_total").increment(1);
                self.update_depth();
                self.inner.wake.notify_one();
                Ok(())
            }
            Err(PushError::Full) => Err(ExportError("export spool full".into())),
            Err(PushError::Io(e)) => Err(ExportError(format!("export spool: {e}"))),
        }
    }

    /// Connection and spool state.
    pub fn health(&self) -> ExportHealth {
        let connected = self.inner.js.get().is_some_and(|js| {
            js.client().connection_state() == async_nats::connection::State::Connected
        });
        ExportHealth {
            connected,
            spool_depth: self.inner.spool.as_ref().map_or(0, Spool::depth),
            last_error: self.inner.last_error.lock().ok().and_then(|e| e.clone()),
        }
    }

    /// The JetStream context, connecting on first use (in the background
    /// if the server is down: publishes then time out until it is up).
    async fn context(&self) -> Result<&jetstream::Context, ExportError> {
        let js = self
            .inner
            .js
            .get_or_try_init(|| async {
                let client = async_nats::ConnectOptions::new()
                    .retry_on_initial_connect()
                    .max_reconnects(None)
                    .connect(self.inner.url.as_str())
                    .await
                    .map_err(|e| ExportError(format!("nats {}: {e}", self.inner.url)))?;
                let mut js = jetstream::new(client);
                js.set_timeout(self.inner.ack_timeout);
                Ok::<_, ExportError>(js)
            })
            .await?;
        self.inner
            .stream_ready
            .get_or_try_init(|| async {
                let config = jetstream::stream::Config {
                    name: self.inner.stream.clone(),
                    subjects: vec![self.inner.subject.clone()],
                    duplicate_window: Duration::from_secs(120),
                    ..Default::default()
                };
                let stream =
                    tokio::time::timeout(self.inner.ack_timeout, js.get_or_create_stream(config));
                match stream.await {
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err(e)) => Err(ExportError(format!("stream {}: {e}", self.inner.stream))),
                    Err(_) => Err(ExportError(format!(
                        "stream {}: NATS did not answer",
                        self.inner.stream
                    ))),
                }
            })
            .await?;
        Ok(js)
    }

    /// Publishes one event and waits for its acknowledgement.
    async fn publish(&self, msg_id: &str, payload: Vec<u8>) -> Result<(), ExportError> {
        let js = self.context().await?;
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", msg_id);
        let sent = async {
            js.publish_with_headers(self.inner.subject.clone(), headers, payload.into())
                .await?
                .await
        };
        match tokio::time::timeout(self.inner.ack_timeout, sent).await {
            Ok(Ok(_ack)) => {
                metrics::counter!("authsense_export_published_total").increment(1);
                metrics::gauge!("authsense_export_up").set(1.0);
                if let Ok(mut e) = self.inner.last_error.lock() {
                    *e = None;
                }
                Ok(())
            }
            Ok(Err(e)) => {
                metrics::gauge!("authsense_export_up").set(0.0);
                Err(ExportError(format!("publish: {e}")))
            }
            Err(_) => {
                metrics::gauge!("authsense_export_up").set(0.0);
                Err(ExportError("publish: no acknowledgement in time".into()))
            }
        }
    }

    /// The spool drainer: publishes the backlog oldest first; on failure
    /// waits (doubling up to [`MAX_BACKOFF`]) and tries again.
    async fn drain(self) {
        let mut backoff = Duration::from_millis(100);
        loop {
            let this = self.clone();
            let batch = tokio::task::spawn_blocking(move || {
                this.inner.spool.as_ref().map(|s| s.oldest(DRAIN_BATCH))
            })
            .await;
            let batch = match batch {
                Ok(Some(Ok(b))) => b,
                Ok(None) => return,
                Ok(Some(Err(e))) => {
                    tracing::warn!(error = %e, "cannot read the export spool");
                    Vec::new()
                }
                Err(_) => return,
            };
            if batch.is_empty() {
                // Woken by the next push; the timeout is a safety net.
                let _ =
                    tokio::time::timeout(Duration::from_secs(1), self.inner.wake.notified()).await;
                continue;
            }
            let mut failed = false;
            for ev in batch {
                match self.publish(&ev.msg_id, ev.payload.clone()).await {
                    Ok(()) => {
                        if let Some(spool) = &self.inner.spool {
                            if let Err(e) = spool.remove(&ev) {
                                tracing::warn!(error = %e, "cannot remove a published spool file");
                            }
                        }
                        self.update_depth();
                        backoff = Duration::from_millis(100);
                    }
                    Err(e) => {
                        metrics::counter!("authsense_export_failures_total").increment(1);
                        tracing::warn!(error = %e, backlog = self.health().spool_depth, "export publish failed; retrying");
                        self.note_error(&e);
                        failed = true;
                        break;
                    }
                }
            }
            if failed {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }

    fn update_depth(&self) {
        if let Some(spool) = &self.inner.spool {
            metrics::gauge!("authsense_export_spool_depth").set(spool.depth() as f64);
        }
    }

    fn note_error(&self, e: &ExportError) {
        if let Ok(mut last) = self.inner.last_error.lock() {
            *last = Some(e.0.clone());
        }
    }
}
