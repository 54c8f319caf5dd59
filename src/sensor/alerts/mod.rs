//! Alerts by email: threat alerts for stored records whose analysis meets
//! `[alerts] threshold`, and health alerts (a gateway gone silent, too few
//! copies with trusted authentication results).
//!
//! The sensor hands a [`Summary`] of each flagged record, after it is
//! committed, to [`Alerts::notify`]: a bounded channel that never waits —
//! when it is full the alert is dropped and counted, so alerting can never
//! delay or fail a 250. One worker task turns summaries into mail
//! (`mail.rs`); a second task checks health periodically (`health.rs`).
//!
//! Deduplication lives in the store (table `alerts`), so sensors sharing a
//! database send one alert between them; the rate limit (`max_per_hour`) is
//! a token bucket per process. An alert never carries the message body: a
//! [`Summary`] has no field that could hold it.
//!
//! Metrics: `authsense_alerts_sent_total{kind}`,
//! `authsense_alerts_dropped_total{reason}` (queue full, rate limit, send
//! failure).

pub mod health;
pub mod mail;

use crate::config::AlertsConfig;
use crate::sensor::record::{Reason, Record, Verdict};
use crate::store::Store;
use sha2::{Digest, Sha256};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{info, warn};

/// Summaries waiting for the worker; more are dropped.
const QUEUE: usize = 256;

/// What an alert says about a stored record: metadata only, never the body.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// Store row id (the web UI's `/messages/{id}`).
    pub id: i64,
    /// Unique id of the copy.
    pub uid: String,
    /// Receive time, RFC 3339.
    pub ts: String,
    /// Analysis verdict.
    pub verdict: Option<Verdict>,
    /// Analysis score.
    pub score: Option<u8>,
    /// Rules that fired.
    pub reasons: Vec<Reason>,
    /// Original envelope sender.
    pub sender: Option<String>,
    /// `From:` as `Name <address>`.
    pub from: Option<String>,
    /// `From:` address alone, lowercased (deduplication).
    pub from_address: Option<String>,
    /// `Subject:`.
    pub subject: Option<String>,
    /// Original envelope recipients.
    pub recipients: Vec<String>,
    /// Gateway IP address.
    pub gateway_ip: String,
    /// Gateway HELO name.
    pub gateway_helo: String,
}

impl Summary {
    /// The summary of `record`, stored as row `id`.
    pub fn of(record: &Record, id: i64) -> Summary {
        Summary {
            id,
            uid: record.uid.clone(),
            ts: record.ts.clone(),
            verdict: record.verdict,
            score: record.score,
            reasons: record.reasons.clone(),
            sender: record.original.mailfrom.clone(),
            from: record.from.as_ref().map(|m| match (&m.name, &m.address) {
                (Some(n), Some(a)) => format!("{n} <{a}>"),
                (None, Some(a)) => a.clone(),
                (Some(n), None) => n.clone(),
                (None, None) => String::new(),
            }),
            from_address: record
                .from
                .as_ref()
                .and_then(|m| m.address.as_deref())
                .map(str::to_lowercase),
            subject: record.subject.clone(),
            recipients: record.rcptto.clone(),
            gateway_ip: record.gateway.ip.clone(),
            gateway_helo: record.gateway.helo.clone(),
        }
    }

    /// Deduplication key of its threat alert: one alert per envelope
    /// sender, From address and subject within the dedup window (a
    /// campaign, or the same message stored twice, alerts once).
    pub fn threat_key(&self) -> String {
        let mut h = Sha256::new();
        for part in [
            self.sender.as_deref().unwrap_or("").to_lowercase().as_str(),
            self.from_address.as_deref().unwrap_or(""),
            self.subject.as_deref().unwrap_or(""),
        ] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        let hex: String = h.finalize()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("threat:{hex}")
    }
}

/// Per-process token bucket: `per_hour` mails, refilled evenly.
pub struct RateLimit {
    per_hour: u32,
    state: Mutex<(f64, Instant)>,
}

impl RateLimit {
    /// A full bucket of `per_hour` tokens.
    pub fn new(per_hour: u32) -> RateLimit {
        RateLimit {
            per_hour,
            state: Mutex::new((f64::from(per_hour), Instant::now())),
        }
    }

    /// Takes a token if one is left.
    pub fn take(&self) -> bool {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let refill = now.duration_since(st.1).as_secs_f64() * f64::from(self.per_hour) / 3600.0;
        st.0 = (st.0 + refill).min(f64::from(self.per_hour));
        st.1 = now;
        if st.0 >= 1.0 {
            st.0 -= 1.0;
            true
        } else {
            false
        }
    }
}

/// What the alert tasks share.
pub struct Context {
    /// `[alerts]`.
    pub config: AlertsConfig,
    /// Dedup state and health queries.
    pub store: Store,
    /// Sends the mail.
    pub mailer: mail::Mailer,
    /// `max_per_hour`.
    pub limit: RateLimit,
}

impl Context {
    /// The shared state of the alert tasks (`start` builds one; tests call
    /// the health check on their own).
    ///
    /// # Errors
    /// The mail client cannot be set up.
    pub fn new(config: &AlertsConfig, store: Store, hostname: &str) -> Result<Context, String> {
        Ok(Context {
            config: config.clone(),
            store,
            mailer: mail::Mailer::new(config, hostname)?,
            limit: RateLimit::new(config.max_per_hour),
        })
    }

    /// Claims `key` in the store, then a rate-limit token; true if the
    /// alert should go out now.
    pub async fn admit(&self, key: &str, kind: &str, window: Duration, now: SystemTime) -> bool {
        let store = self.store.clone();
        let (k, kd) = (key.to_string(), kind.to_string());
        let claimed =
            tokio::task::spawn_blocking(move || store.claim_alert(&k, &kd, now, window)).await;
        match claimed {
            Ok(Ok(true)) => {}
            Ok(Ok(false)) => return false,
            Ok(Err(e)) => {
                warn!(key, error = %e, "alert dedup state unavailable; alert not sent");
                return false;
            }
            Err(e) => {
                warn!(key, error = %e, "alert dedup task failed");
                return false;
            }
        }
        if self.limit.take() {
            return true;
        }
        metrics::counter!("authsense_alerts_dropped_total", "reason" => "rate_limit").increment(1);
        warn!(key, kind, "alert suppressed: max_per_hour reached");
        false
    }

    /// Sends one mail; counts it by `kind` ("threat" or "health").
    pub async fn send(&self, kind: &'static str, to: &[String], subject: &str, body: &str) -> bool {
        match self.mailer.send(to, subject, body).await {
            Ok(()) => {
                metrics::counter!("authsense_alerts_sent_total", "kind" => kind).increment(1);
                info!(kind, to = ?to, subject = %subject, "alert sent");
                true
            }
            Err(e) => {
                metrics::counter!("authsense_alerts_dropped_total", "reason" => "send_failed")
                    .increment(1);
                warn!(kind, error = %e, "alert mail failed");
                false
            }
        }
    }
}

/// The sensor's side of the alerter.
#[derive(Clone)]
pub struct Alerts {
    tx: mpsc::Sender<Summary>,
    threshold: crate::config::Threshold,
}

impl Alerts {
    /// Whether `record` deserves a threat alert.
    pub fn wants(&self, record: &Record) -> bool {
        self.threshold.met(record.verdict, record.score)
    }

    /// Queues a summary; never waits (full queue: dropped and counted).
    pub fn notify(&self, summary: Summary) {
        if let Err(e) = self.tx.try_send(summary) {
            metrics::counter!("authsense_alerts_dropped_total", "reason" => "queue_full")
                .increment(1);
            if let mpsc::error::TrySendError::Full(s) = e {
                warn!(uid = %s.uid, "alert queue full; threat alert dropped");
            }
        }
    }
}

/// The running alert tasks.
pub struct Running {
    worker: JoinHandle<()>,
    health: JoinHandle<()>,
}

impl Running {
    /// Waits (at most `grace`) for queued threat alerts to go out once every
    /// [`Alerts`] handle is dropped, and stops the health checker.
    pub async fn finish(self, grace: Duration) {
        self.health.abort();
        if tokio::time::timeout(grace, self.worker).await.is_err() {
            warn!("alert worker did not finish in time; queued alerts dropped");
        }
    }
}

/// Starts the alert tasks when `[alerts]` is enabled (needs a tokio
/// runtime); `hostname` names this sensor in mail.
///
/// # Errors
/// The mail client cannot be set up (sender address, TLS).
pub fn start(
    config: &AlertsConfig,
    store: Store,
    hostname: &str,
) -> Result<Option<(Alerts, Running)>, String> {
    if !config.enabled() {
        return Ok(None);
    }
    let ctx = Arc::new(Context::new(config, store, hostname)?);
    let (tx, rx) = mpsc::channel(QUEUE);
    let worker = tokio::spawn(threat_worker(ctx.clone(), rx));
    let health = tokio::spawn(health::run(ctx));
    let handle = Alerts {
        tx,
        threshold: config.threshold,
    };
    Ok(Some((handle, Running { worker, health })))
}

async fn threat_worker(ctx: Arc<Context>, mut rx: mpsc::Receiver<Summary>) {
    while let Some(s) = rx.recv().await {
        let key = s.threat_key();
        if !ctx
            .admit(&key, "threat", ctx.config.dedup_window, SystemTime::now())
            .await
        {
            continue;
        }
        let (subject, body) = mail::threat(&s);
        if !ctx.send("threat", &ctx.config.to, &subject, &body).await {
            // Let a later copy of the same campaign try again.
            let store = ctx.store.clone();
            let _ = tokio::task::spawn_blocking(move || store.release_alert(&key)).await;
            continue;
        }
        if ctx.config.notify_recipient {
            for rcpt in &s.recipients {
                let key = format!("{key}:rcpt:{}", rcpt.to_lowercase());
                if ctx
                    .admit(&key, "threat", ctx.config.dedup_window, SystemTime::now())
                    .await
                {
                    let (subject, body) = mail::recipient_warning(&s);
                    ctx.send("threat", std::slice::from_ref(rcpt), &subject, &body)
                        .await;
                }
            }
        }
    }
}
