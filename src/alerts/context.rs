//! What the alert tasks share: the configuration, the store's dedup state,
//! the mailer, the budgets and the digest; admission (dedup claim, then a
//! budget), sending, holding an alert for the digest and sending digests.

use super::budget::{Kind, Limit, Meter};
use super::digest::{self, Digest, Item};
use super::recipients::OrgDomains;
use super::{mail, Wiring};
use crate::config::AlertsConfig;
use crate::metrics::{ALERTS_DIGESTED, ALERTS_DROPPED, ALERTS_MALICIOUS_LOST, ALERTS_SENT};
use crate::model::Verdict;
use crate::store::Store;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};
use tracing::{debug, error, info, warn};

/// What [`Context::admit`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Send the alert now.
    Send,
    /// Already alerted within the dedup window: nothing to do.
    Duplicate,
    /// Over this budget: hold it for the digest.
    Held(Limit),
}

/// The shared state of the alert tasks.
pub struct Context {
    /// `[alerts]`.
    pub config: AlertsConfig,
    /// Dedup state and health queries.
    pub store: Store,
    /// Sends the mail.
    pub mailer: mail::Mailer,
    /// The hourly budgets.
    pub meter: Meter,
    /// Alerts held back, shared with the sensor's [`super::Alerts`].
    pub digest: Arc<Mutex<Digest>>,
    /// Where recipient warnings may go.
    pub org: OrgDomains,
}

pub(super) fn lock(d: &Mutex<Digest>) -> MutexGuard<'_, Digest> {
    d.lock().unwrap_or_else(|p| p.into_inner())
}

/// Holds `item` for the next digest of its kind; an item the digest
/// cannot list any more is counted (`authsense_alerts_dropped_total
/// {reason="digest_full"}`), and a malicious one is logged at ERROR.
pub fn hold(digest: &Mutex<Digest>, item: Item) {
    let (kind, uid, why) = (item.kind, item.uid.clone(), item.why);
    if lock(digest).add(item.clone()) {
        metrics::counter!(ALERTS_DIGESTED, "kind" => kind.as_str()).increment(1);
        info!(kind = kind.as_str(), %uid, ?why, "alert held back for the digest");
    } else {
        unlisted(&item, "the digest is full");
    }
}

/// Counts and logs an alert that neither went out nor is listed in a
/// digest (`why` says what happened).
pub fn unlisted(item: &Item, why: &str) {
    metrics::counter!(ALERTS_DROPPED, "reason" => "digest_full").increment(1);
    if item.verdict == Some(Verdict::Malicious) {
        metrics::counter!(ALERTS_MALICIOUS_LOST).increment(1);
        error!(uid = %item.uid, id = item.id, kind = item.kind.as_str(), subject = %mail::clean(&item.subject),
            "alert for a MALICIOUS record not sent and not listed in a digest ({why}); see the record in the web UI");
    } else {
        debug!(uid = %item.uid, kind = item.kind.as_str(), "alert not listed in a digest ({why})");
    }
}

impl Context {
    /// The shared state of the alert tasks (`start` builds one; tests call
    /// the health check on their own).
    ///
    /// # Errors
    /// The mail client cannot be set up.
    pub fn new(
        config: &AlertsConfig,
        store: Store,
        hostname: &str,
        wiring: &Wiring,
    ) -> Result<Context, String> {
        Ok(Context {
            config: config.clone(),
            store,
            mailer: mail::Mailer::new(config, hostname, wiring.loop_key.clone())?,
            meter: Meter::new(config.budgets(), Instant::now()),
            digest: Arc::new(Mutex::new(Digest::default())),
            org: OrgDomains::new(&wiring.org_domains),
        })
    }

    /// Claims `key` in the store (dedup, shared by sensors on one
    /// database), then a token from every budget of `kind` (and `domain`,
    /// the sender's organisational domain). An unavailable store does not
    /// silence the alert: it is admitted without dedup.
    pub async fn admit(
        &self,
        key: &str,
        kind: Kind,
        domain: &str,
        window: Duration,
        now: SystemTime,
    ) -> Admit {
        let store = self.store.clone();
        let (k, kd) = (key.to_string(), kind.as_str());
        let claimed =
            tokio::task::spawn_blocking(move || store.claim_alert(&k, kd, now, window)).await;
        match claimed {
            Ok(Ok(true)) => {}
            Ok(Ok(false)) => return Admit::Duplicate,
            Ok(Err(e)) => warn!(key, error = %e, "alert dedup state unavailable; alerting anyway"),
            Err(e) => warn!(key, error = %e, "alert dedup task failed; alerting anyway"),
        }
        match self.meter.take(kind, domain, Instant::now()) {
            Ok(()) => Admit::Send,
            Err(limit) => {
                info!(
                    key,
                    kind = kind.as_str(),
                    domain,
                    budget = limit.key(kind),
                    "alert budget reached; the alert goes into the digest"
                );
                Admit::Held(limit)
            }
        }
    }

    /// Sends one mail; counts it by `kind` (`threat`, `warning`, `health`,
    /// `digest`).
    pub async fn send(&self, kind: &'static str, to: &[String], subject: &str, body: &str) -> bool {
        match self.mailer.send(to, subject, body).await {
            Ok(()) => {
                metrics::counter!(ALERTS_SENT, "kind" => kind).increment(1);
                info!(kind, to = ?to, subject = %subject, "alert sent");
                true
            }
            Err(e) => {
                metrics::counter!(ALERTS_DROPPED, "reason" => "send_failed").increment(1);
                warn!(kind, error = %e, "alert mail failed");
                false
            }
        }
    }

    /// Holds `item` for the digest.
    pub fn hold(&self, item: Item) {
        hold(&self.digest, item);
    }

    /// Mails the pending digest of every kind to the admins; a digest the
    /// relay does not take is kept for the next time. Returns how many
    /// were sent.
    pub async fn flush_digests(&self) -> usize {
        let mut sent = 0;
        for kind in Kind::ALL {
            let Some(pending) = lock(&self.digest).take(kind) else {
                continue;
            };
            let (subject, body) = digest::render(kind, &pending, self.config.digest_interval);
            if self.send("digest", &self.config.to, &subject, &body).await {
                sent += 1;
                continue;
            }
            let overflow = lock(&self.digest).restore(kind, pending);
            for item in &overflow {
                unlisted(item, "the digest is full");
            }
        }
        sent
    }

    /// At shutdown, after a last [`Self::flush_digests`]: whatever is still
    /// held could not be sent; malicious alerts among it are logged.
    pub fn abandon_digests(&self) {
        let mut d = lock(&self.digest);
        for kind in Kind::ALL {
            if let Some(p) = d.take(kind) {
                warn!(
                    kind = kind.as_str(),
                    held = p.total,
                    "alert digest not sent before shutdown"
                );
                for item in &p.items {
                    unlisted(item, "the digest could not be sent before shutdown");
                }
            }
        }
    }
}
