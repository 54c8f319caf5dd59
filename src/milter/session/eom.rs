//! End of message: the rest of the evaluation under what is left of the
//! time budget, then the plan of what to delete and insert.

use super::{EomPlan, Message, Role, Session};
use crate::auth::{DmarcVerdict, MessageChecks, SpfRequest, SpfVerdict};
use crate::headers::seal::Sealed;
use crate::milter::evaluate;
use crate::milter::stamp::{self, Forgeries};
use std::{net::IpAddr, time::Instant};
use tracing::warn;

/// Where the message came from: the client address and HELO name that were
/// evaluated (the first external hop behind a trusted relay).
type Origin = Option<(IpAddr, String)>;

impl Session {
    /// End of message: DKIM, ARC and iprev under what is left of the time
    /// budget, then what to delete and insert. Logs the message's line.
    pub async fn eom(&mut self, queue_id: Option<&str>) -> EomPlan {
        let Some(mut msg) = self.msg.take() else {
            return EomPlan::default();
        };
        self.finish_spf(&mut msg).await;
        let origin = self.origin(&mut msg).await;
        let mut plan = EomPlan {
            deletions: msg.forgeries.deletions().collect(),
            ..EomPlan::default()
        };
        let (checks, dmarc, arc_set) = self.message_checks(&mut msg, &origin, queue_id).await;
        if let (Role::Stamp, Some(v), Some((ip, helo))) = (msg.role, &msg.verdict, &origin) {
            let results = stamp::Results {
                helo,
                ip: *ip,
                spf: v,
                checks: checks.as_ref(),
                dmarc: dmarc.as_ref(),
            };
            plan.inserts = self.stamps(&results, msg.sealed.take());
            plan.arc_set = arc_set;
        }
        let action = match msg.role {
            Role::Stamp => "stamp",
            Role::StripOnly(why) | Role::Untouched(why) => why,
        };
        let elapsed = msg.started.elapsed().as_micros();
        let deleted = plan.deletions.len();
        let verdict = msg.verdict.as_ref();
        self.log(
            queue_id,
            &msg.mail_from,
            verdict,
            action,
            deleted,
            msg.spf_us,
            elapsed,
        );
        plan
    }

    /// Awaits SPF if it is still running.
    async fn finish_spf(&self, msg: &mut Message) {
        let Some(task) = msg.pending.take() else {
            return;
        };
        match evaluate::join_spf(task).await {
            Ok((v, us)) => {
                msg.verdict = Some(v);
                msg.spf_us = us;
            }
            Err(why) => {
                // Only reached under on_error = accept (decides_at_mail).
                warn!(client_ip = ?self.client_ip, helo = %self.helo, mailfrom = %msg.mail_from, error = %why, "internal error, message not stamped");
                msg.role = Role::StripOnly("internal-error");
                msg.capture = None;
            }
        }
    }

    /// The client, or for mail through a trusted relay the first external
    /// hop, evaluated now (internal mail is left alone).
    async fn origin(&self, msg: &mut Message) -> Origin {
        let Some(received) = msg.deferred.take() else {
            return self.client_ip.map(|ip| (ip, self.helo.clone()));
        };
        let trusted = &self.shared.config.trusted_networks;
        let Some((ip, helo)) = evaluate::external_hop(&received, trusted) else {
            // Internal mail: nothing to stamp, headers left alone.
            msg.role = Role::Untouched("internal-origin");
            msg.forgeries = Forgeries::default();
            msg.capture = None;
            return None;
        };
        let t = Instant::now();
        let req = SpfRequest {
            ip,
            helo: &helo,
            mail_from: &msg.mail_from,
            receiver: &self.shared.authserv_id,
        };
        let budget = self.shared.config.auth_timeout();
        msg.verdict = Some(self.shared.auth.check_spf(&req, budget).await);
        msg.spf_us = t.elapsed().as_micros();
        Some((ip, helo))
    }

    /// DKIM, ARC, iprev and DMARC over the captured message, and our ARC
    /// set when one is configured; nothing when the message was not
    /// captured.
    async fn message_checks(
        &self,
        msg: &mut Message,
        origin: &Origin,
        queue_id: Option<&str>,
    ) -> (
        Option<MessageChecks>,
        Option<DmarcVerdict>,
        Vec<(String, String)>,
    ) {
        let (Some(capture), Some((ip, helo)), Some(v)) = (msg.capture.take(), origin, &msg.verdict)
        else {
            return (None, None, Vec::new());
        };
        let (raw, complete) = capture.finish();
        let started = Instant::now();
        let spent = std::time::Duration::from_micros(msg.spf_us as u64);
        let budget = self.shared.config.auth_timeout().saturating_sub(spent);
        let auth = &self.shared.auth;
        let checks = auth.check_message(&raw, *ip, complete, budget).await;
        let left = budget.saturating_sub(started.elapsed());
        let dmarc = evaluate::dmarc(auth, &checks, v, queue_id, left).await;
        let arc_set = match (&self.shared.sealer, complete) {
            (Some(sealer), true) => self.arc_set(sealer, &raw, *ip, helo, v, left).await,
            _ => Vec::new(),
        };
        (Some(checks), Some(dmarc), arc_set)
    }

    /// The headers to insert at the top, in order: our seal (with a seal
    /// key), the X-Agari stamp, and the standard Authentication-Results.
    fn stamps(
        &self,
        results: &stamp::Results<'_>,
        bound: Option<Sealed>,
    ) -> Vec<(&'static str, String)> {
        let id = &self.shared.authserv_id;
        let cfg = &self.shared.config;
        let mut inserts = vec![(stamp::X_AGARI, results.x_agari(id, &cfg.methods))];
        if cfg.add_authentication_results {
            inserts.push((stamp::AUTH_RESULTS, results.authentication_results(id)));
        }
        if let (Some(bound), Some(keys)) = (bound, &self.shared.seal_keys) {
            let xa = &inserts[0].1;
            let ar = inserts.get(1).map(|(_, v)| v.as_str());
            let seal = bound.seal(keys, xa, ar, unix_now());
            inserts.insert(0, (stamp::SEAL, seal));
        }
        inserts
    }

    /// Our ARC set over the message (empty, with a warning, if it cannot be
    /// sealed: sealing never holds mail up).
    async fn arc_set(
        &self,
        sealer: &crate::auth::Sealer,
        raw: &[u8],
        ip: IpAddr,
        helo: &str,
        v: &SpfVerdict,
        budget: std::time::Duration,
    ) -> Vec<(String, String)> {
        let ctx = crate::auth::SealContext {
            authserv_id: &self.shared.authserv_id,
            ip,
            helo,
            spf: &v.mail_from,
        };
        match tokio::time::timeout(budget, self.shared.auth.arc_seal(sealer, raw, &ctx)).await {
            Ok(Ok(set)) => set,
            Ok(Err(e)) => {
                warn!(error = %e, "ARC set not added");
                Vec::new()
            }
            Err(_) => {
                warn!("ARC set not added: time budget exhausted");
                Vec::new()
            }
        }
    }
}

/// Seconds since the Unix epoch (the seal's `t=`).
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
