//! Alerts by email: threat alerts for stored records whose analysis meets
//! `[alerts] threshold`, warnings to their recipients inside the
//! organisation (`notify_recipient`), and health alerts (a gateway gone
//! silent, too few copies with trusted authentication results).
//!
//! The sensor hands a [`Summary`] of each flagged record, after it is
//! committed, to [`Alerts::notify`]: a bounded channel that never waits.
//! One worker task turns summaries into mail (`worker.rs`, `mail.rs`); a
//! second task checks health periodically (`health.rs`).
//!
//! Deduplication lives in the store (table `alerts`), so sensors sharing a
//! database send one alert between them. Each process then spends hourly
//! budgets (`budget.rs`): per kind, per kind and sender domain (threat
//! alerts and warnings), and overall (`max_per_hour`). An alert over budget,
//! or one that finds the queue full or the relay refusing, is not dropped:
//! it goes into the digest (`digest.rs`), mailed to the admins once per
//! kind every `digest_interval`. Warnings go only to envelope recipients in
//! `[analysis] org_domains` (`recipients.rs`). Alert mail carries a loop
//! tag (`looptag.rs`): a copy of our own alert coming back through the
//! perimeter raises no alert. An alert never carries the message body: a
//! [`Summary`] has no field that could hold it.
//!
//! Metrics (`crate::metrics`): `authsense_alerts_sent_total{kind}`,
//! `authsense_alerts_dropped_total{reason}`,
//! `authsense_alerts_digested_total{kind}` and
//! `authsense_alerts_malicious_lost_total`.

pub mod budget;
mod context;
pub mod digest;
pub mod health;
pub mod looptag;
pub mod mail;
pub mod recipients;
mod worker;

pub use context::{Admit, Context};

use crate::config::AlertsConfig;
use crate::model::{Reason, Record, Verdict};
use crate::store::Store;
use digest::{Digest, Item, Why};
use looptag::LoopKey;
use sha2::{Digest as _, Sha256};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{info, warn};

/// Summaries waiting for the worker; more go into the digest.
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

    /// The sender domain its budget is kept under: the organisational
    /// domain of the From address (the domain as written if it has none;
    /// `""` without a From address).
    pub fn sender_domain(&self) -> String {
        let Some((_, domain)) = self
            .from_address
            .as_deref()
            .and_then(|a| a.rsplit_once('@'))
        else {
            return String::new();
        };
        let domain = domain.trim().trim_end_matches('.').to_lowercase();
        crate::model::organizational_domain(&domain)
            .unwrap_or_else(|| domain.chars().take(255).collect())
    }
}

/// What the alerter needs from outside `[alerts]`.
#[derive(Debug, Clone)]
pub struct Wiring {
    /// `[analysis] org_domains`: recipient warnings go only to addresses
    /// in these domains and their subdomains.
    pub org_domains: Vec<String>,
    /// The key of the loop tag (`setup::alert_loop_key`).
    pub loop_key: LoopKey,
}

/// The sensor's side of the alerter.
#[derive(Clone)]
pub struct Alerts {
    tx: mpsc::Sender<Summary>,
    threshold: crate::config::Threshold,
    digest: Arc<Mutex<Digest>>,
    loop_key: LoopKey,
}

impl Alerts {
    /// Whether `record` deserves a threat alert.
    pub fn wants(&self, record: &Record) -> bool {
        self.threshold.met(record.verdict, record.score)
    }

    /// Whether the copy of `record` is our own alert mail come back: one of
    /// its `X-Authsense-Alert` field bodies (`tags`, see
    /// [`looptag::find`]) verifies for its From address. Then no alert is
    /// sent about it; `Auto-Submitted` alone never suppresses one.
    pub fn is_own_alert(&self, tags: &[String], record: &Record) -> bool {
        let from = record
            .from
            .as_ref()
            .and_then(|m| m.address.as_deref())
            .unwrap_or("");
        let now = SystemTime::now();
        let own = tags.iter().any(|t| self.loop_key.verifies(t, from, now));
        if own {
            info!(uid = %record.uid, "copy of our own alert mail (loop tag verified): no alert about it");
        }
        own
    }

    /// Queues a summary; never waits. With the queue full the alert goes
    /// into the digest instead.
    pub fn notify(&self, summary: Summary) {
        match self.tx.try_send(summary) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(s)) => {
                warn!(uid = %s.uid, "alert queue full; threat alert held for the digest");
                context::hold(&self.digest, Item::record(&s, None, Why::QueueFull));
            }
            Err(mpsc::error::TrySendError::Closed(s)) => {
                let item = Item::record(&s, None, Why::QueueFull);
                context::unlisted(&item, "the alert worker has stopped");
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

    /// Retires tasks replaced by a reload: the health checker stops now;
    /// the worker sends what is queued and its digests once the last
    /// [`Alerts`] handle of the old settings is gone (sessions that took
    /// them finish first), then ends by itself.
    pub fn retire(self) {
        self.health.abort();
        drop(self.worker);
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
    wiring: Wiring,
) -> Result<Option<(Alerts, Running)>, String> {
    if !config.enabled() {
        return Ok(None);
    }
    if config.notify_recipient && wiring.org_domains.is_empty() {
        warn!("[alerts] notify_recipient is on but [analysis] org_domains is empty: no recipient will be warned");
    }
    let ctx = Arc::new(Context::new(config, store, hostname, &wiring)?);
    let (tx, rx) = mpsc::channel(QUEUE);
    let handle = Alerts {
        tx,
        threshold: config.threshold,
        digest: ctx.digest.clone(),
        loop_key: wiring.loop_key,
    };
    let worker = tokio::spawn(worker::run(ctx.clone(), rx));
    let health = tokio::spawn(health::run(ctx));
    Ok(Some((handle, Running { worker, health })))
}
