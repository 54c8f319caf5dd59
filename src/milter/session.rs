//! Per-connection milter state and the decisions taken at each protocol step.
//! Methods are named after the steps; they return values that the thin
//! callbacks in [`super::callbacks`] turn into milter replies and actions.

use super::stamp::{self, Forgeries};
use super::Shared;
use crate::auth::{SpfCheck, SpfRequest, SpfResult, SpfVerdict};
use crate::config::{Mode, OnError};
use std::{net::IpAddr, sync::Arc, time::Instant};
use tracing::{info, warn};

/// What the perimeter does with the current message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Evaluate, delete forgeries, stamp.
    Stamp,
    /// Delete forgeries only: SASL-authenticated client (an MUA is not a
    /// trusted MTA, RFC 8601 §5) or an internal error under `on_error = accept`.
    StripOnly(&'static str),
    /// Change nothing: trusted relay or downstream mode.
    Untouched(&'static str),
}

/// The answer to MAIL FROM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailDecision {
    /// Go on to the message.
    Continue,
    /// Refuse with 550 5.7.23 and this text (policy `reject_spf`).
    Reject(String),
    /// Internal error under `on_error = tempfail`.
    Tempfail,
}

/// End-of-message work for the callback to carry out.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EomPlan {
    /// `(header name, 1-based index)` to delete, in order.
    pub deletions: Vec<(&'static str, i32)>,
    /// `(header name, value)` to insert at the top, in order.
    pub inserts: Vec<(&'static str, String)>,
}

struct Message {
    role: Role,
    mail_from: String,
    verdict: Option<SpfVerdict>,
    forgeries: Forgeries,
    started: Instant,
    spf_us: u128,
}

/// One MTA connection.
pub struct Session {
    shared: Arc<Shared>,
    client_ip: Option<IpAddr>,
    client_name: String,
    helo: String,
    msg: Option<Message>,
}

impl Session {
    /// A new MTA connection, before its connect step.
    pub fn new(shared: Arc<Shared>) -> Self {
        Session {
            shared,
            client_ip: None,
            client_name: String::new(),
            helo: String::new(),
            msg: None,
        }
    }

    /// Connect: the SMTP client `client_name` at `client_ip` (None: the MTA
    /// gave no internet address).
    pub fn connect(&mut self, client_name: String, client_ip: Option<IpAddr>) {
        self.client_ip = client_ip.map(|ip| ip.to_canonical());
        self.client_name = client_name;
    }

    /// HELO/EHLO.
    pub fn helo(&mut self, name: &str) {
        self.helo = name.trim().to_string();
    }

    fn role(&self, authenticated: bool) -> Role {
        let cfg = &self.shared.config;
        if cfg.mode == Mode::Downstream {
            return Role::Untouched("downstream");
        }
        if let Some(ip) = self.client_ip {
            if cfg.trusted_networks.iter().any(|n| n.contains(&ip)) {
                return Role::Untouched("trusted-relay");
            }
        }
        if authenticated {
            return Role::StripOnly("authenticated");
        }
        Role::Stamp
    }

    /// MAIL FROM: decides the role and, at the perimeter, evaluates SPF for
    /// both identities.
    pub async fn mail(&mut self, reverse_path: &str, auth_authen: Option<&str>) -> MailDecision {
        let mail_from = reverse_path
            .trim()
            .trim_start_matches('<')
            .trim_end_matches('>')
            .to_string();
        let mut role = self.role(auth_authen.is_some_and(|a| !a.is_empty()));
        let mut verdict = None;
        let started = Instant::now();
        if role == Role::Stamp {
            match self.evaluate(&mail_from).await {
                Ok(v) => verdict = Some(v),
                Err(why) => {
                    warn!(client_ip = ?self.client_ip, helo = %self.helo, mailfrom = %mail_from, error = %why, on_error = ?self.shared.config.on_error, "internal error, message not stamped");
                    if self.shared.config.on_error == OnError::Tempfail {
                        return MailDecision::Tempfail;
                    }
                    role = Role::StripOnly("internal-error");
                }
            }
        }
        let spf_us = started.elapsed().as_micros();
        let decision = match &verdict {
            Some(v)
                if self
                    .shared
                    .config
                    .reject_spf
                    .iter()
                    .any(|r| r.0 == v.mail_from.result) =>
            {
                MailDecision::Reject(reject_text(&v.mail_from, self.client_ip))
            }
            _ => MailDecision::Continue,
        };
        if let MailDecision::Reject(_) = decision {
            self.log(
                None,
                &mail_from,
                verdict.as_ref(),
                "reject",
                0,
                spf_us,
                spf_us,
            );
            self.msg = None;
            return decision;
        }
        self.msg = Some(Message {
            role,
            mail_from,
            verdict,
            forgeries: Forgeries::default(),
            started,
            spf_us,
        });
        decision
    }

    async fn evaluate(&self, mail_from: &str) -> Result<SpfVerdict, String> {
        let ip = self.client_ip.ok_or("the MTA gave no client IP address")?;
        let shared = self.shared.clone();
        let (helo, mail_from) = (self.helo.clone(), mail_from.to_string());
        // A panic in evaluation must not take the MTA connection down with it.
        tokio::spawn(async move {
            let req = SpfRequest {
                ip,
                helo: &helo,
                mail_from: &mail_from,
                receiver: &shared.authserv_id,
            };
            shared
                .auth
                .check_spf(&req, shared.config.auth_timeout())
                .await
        })
        .await
        .map_err(|e| format!("SPF evaluation failed: {e}"))
    }

    /// One header of the message.
    pub fn header(&mut self, name: &str, value: &str) {
        if let Some(msg) = &mut self.msg {
            if !matches!(msg.role, Role::Untouched(_)) {
                msg.forgeries.observe(name, value, &self.shared.authserv_id);
            }
        }
    }

    /// End of message: what to delete and insert. Logs the message's line.
    pub fn eom(&mut self, queue_id: Option<&str>) -> EomPlan {
        let Some(msg) = self.msg.take() else {
            return EomPlan::default();
        };
        let mut plan = EomPlan {
            deletions: msg.forgeries.deletions().collect(),
            inserts: Vec::new(),
        };
        if let (Role::Stamp, Some(v)) = (msg.role, &msg.verdict) {
            let id = &self.shared.authserv_id;
            plan.inserts
                .push((stamp::X_AGARI, stamp::x_agari_value(id, &self.helo, v)));
            if self.shared.config.add_authentication_results {
                plan.inserts.push((
                    stamp::AUTH_RESULTS,
                    stamp::auth_results_value(id, &self.helo, v),
                ));
            }
        }
        let action = match msg.role {
            Role::Stamp => "stamp",
            Role::StripOnly(why) | Role::Untouched(why) => why,
        };
        let elapsed = msg.started.elapsed().as_micros();
        self.log(
            queue_id,
            &msg.mail_from,
            msg.verdict.as_ref(),
            action,
            plan.deletions.len(),
            msg.spf_us,
            elapsed,
        );
        plan
    }

    /// The transaction was aborted (RSET, QUIT mid-message, client gone).
    pub fn abort(&mut self) {
        self.msg = None;
    }

    #[allow(clippy::too_many_arguments)]
    fn log(
        &self,
        queue_id: Option<&str>,
        mail_from: &str,
        verdict: Option<&SpfVerdict>,
        action: &str,
        deleted: usize,
        spf_us: u128,
        elapsed_us: u128,
    ) {
        let ip = self.client_ip.map(|ip| ip.to_string()).unwrap_or_default();
        let spf = verdict.map_or("-", |v| v.mail_from.result.as_str());
        let helo_spf = verdict.map_or("-", |v| v.helo.result.as_str());
        info!(
            queue_id = queue_id.unwrap_or("-"),
            client_ip = %ip,
            client_name = %self.client_name,
            helo = %self.helo,
            mailfrom = %mail_from,
            spf,
            helo_spf,
            action,
            deleted,
            spf_us = spf_us as u64,
            elapsed_us = elapsed_us as u64,
            "message"
        );
    }
}

/// RFC 7208 §8.4: the rejection text, with the domain's explanation if any.
fn reject_text(check: &SpfCheck, ip: Option<IpAddr>) -> String {
    let ip = ip.map(|i| i.to_string()).unwrap_or_default();
    let base = match check.result {
        SpfResult::Fail => format!(
            "SPF fail: {} does not designate {ip} as permitted sender",
            check.identity
        ),
        r => format!("SPF {r} for {} from {ip}", check.identity),
    };
    match &check.explanation {
        Some(exp) if !exp.is_empty() => format!("{base}: {}", exp.replace(['\r', '\n'], " ")),
        _ => base,
    }
}
