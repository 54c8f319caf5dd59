//! Per-connection milter state and the decisions taken at each protocol step.
//! Methods are named after the steps; they return values that the thin
//! callbacks in [`super::callbacks`] turn into milter replies and actions.

use super::capture::Capture;
use super::evaluate::{self, decides_at_mail, needs_message, SpfTask};
use super::stamp::Forgeries;
use super::Shared;
use crate::auth::SpfVerdict;
use crate::config::{Mode, OnError};
use crate::headers::seal::Sealed;
use std::{net::IpAddr, sync::Arc, time::Instant};
use tracing::{debug, info, warn};

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
    /// An ARC set of ours (ARC-Seal, ARC-Message-Signature,
    /// ARC-Authentication-Results), inserted at the top after the stamps.
    pub arc_set: Vec<(String, String)>,
}

mod eom;

struct Message {
    role: Role,
    mail_from: String,
    verdict: Option<SpfVerdict>,
    /// SPF still being evaluated (started at MAIL, awaited at end of
    /// message), with the evaluation's own duration in microseconds.
    pending: Option<SpfTask>,
    forgeries: Forgeries,
    /// The message rebuilt for DKIM/ARC (perimeter role only).
    capture: Option<Capture>,
    /// `external_relay`: SPF waits for the `Received:` headers, kept here.
    deferred: Option<Vec<String>>,
    /// What the seal binds (perimeter role with a seal key only).
    sealed: Option<Sealed>,
    started: Instant,
    spf_us: u128,
}

/// What a connection agreed with the MTA at negotiate that settings
/// swapped in later must respect: the MTA does not wait for MAIL's answer,
/// or does not send the body at all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Negotiated {
    /// MAIL gets no reply (`SMFIP_NR_MAIL`).
    pub mail_unanswered: bool,
    /// The body is not sent (`SMFIP_NOBODY`).
    pub body_skipped: bool,
}

impl Negotiated {
    /// Whether messages on this connection can be handled with `shared`:
    /// its MAIL answer cannot depend on SPF when the MTA does not wait for
    /// it, and it needs no body when the MTA sends none.
    pub fn fits(&self, shared: &Shared) -> bool {
        let cfg = &shared.config;
        let needs_body = needs_message(cfg) || shared.seal_keys.is_some();
        let mail_answer_lost = self.mail_unanswered && decides_at_mail(cfg);
        let body_missing = self.body_skipped && needs_body;
        !(mail_answer_lost || body_missing)
    }
}

/// One MTA connection.
pub struct Session {
    shared: Arc<Shared>,
    /// The settings in force, taken again at each MAIL, and what the
    /// connection negotiated; `None`: `shared` for good.
    live: Option<(Arc<super::Live>, Negotiated)>,
    client_ip: Option<IpAddr>,
    client_name: String,
    helo: String,
    msg: Option<Message>,
}

impl Session {
    /// A new MTA connection, before its connect step, with fixed settings.
    pub fn new(shared: Arc<Shared>) -> Self {
        Session {
            shared,
            live: None,
            client_ip: None,
            client_name: String::new(),
            helo: String::new(),
            msg: None,
        }
    }

    /// A new MTA connection that starts with `shared` and takes the
    /// settings in force in `live` at each new message when they fit what
    /// it `negotiated` (else it keeps its own until it ends).
    pub fn with_live(shared: Arc<Shared>, live: Arc<super::Live>, negotiated: Negotiated) -> Self {
        Session {
            live: Some((live, negotiated)),
            ..Session::new(shared)
        }
    }

    /// At a new message: the settings in force, if this connection can use
    /// them. A message in progress keeps the settings it started with.
    fn refresh(&mut self) {
        let Some((live, negotiated)) = &self.live else {
            return;
        };
        let now = live.load();
        if Arc::ptr_eq(&now, &self.shared) {
            return;
        }
        if negotiated.fits(&now) {
            self.shared = now;
        } else {
            debug!(client_ip = ?self.client_ip, "new settings need other milter protocol options than this connection negotiated: it keeps its settings until it ends");
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
            if cfg.trusted_networks.iter().any(|n| n.contains(&ip)) && !cfg.external_relay {
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
        self.refresh();
        let mail_from = reverse_path
            .trim()
            .trim_start_matches('<')
            .trim_end_matches('>')
            .to_string();
        let mut role = self.role(auth_authen.is_some_and(|a| !a.is_empty()));
        let mut verdict = None;
        let mut pending = None;
        let started = Instant::now();
        let via_relay = self.client_ip.is_some_and(|ip| {
            self.shared
                .config
                .trusted_networks
                .iter()
                .any(|n| n.contains(&ip))
        });
        if role == Role::Stamp && !via_relay {
            match self.evaluate_at_mail(&mail_from).await {
                Ok((v, p)) => (verdict, pending) = (v, p),
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
        let rejected = verdict.as_ref().filter(|v| {
            self.shared
                .config
                .reject_spf
                .iter()
                .any(|r| r.0 == v.mail_from.result)
        });
        let decision = match rejected {
            Some(v) => MailDecision::Reject(evaluate::reject_text(&v.mail_from, self.client_ip)),
            None => MailDecision::Continue,
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
        // The message itself is needed only for methods beyond SPF.
        let cfg = &self.shared.config;
        let capture = (role == Role::Stamp && needs_message(cfg))
            .then(|| Capture::new(cfg.max_message_bytes));
        self.msg = Some(Message {
            role,
            mail_from,
            verdict,
            pending,
            forgeries: Forgeries::default(),
            capture,
            deferred: (role == Role::Stamp && via_relay).then(Vec::new),
            sealed: (role == Role::Stamp && self.shared.seal_keys.is_some()).then(Sealed::default),
            started,
            spf_us,
        });
        decision
    }

    /// Starts SPF: awaited here when MAIL's answer depends on it, else left
    /// running until end of message.
    async fn evaluate_at_mail(
        &self,
        mail_from: &str,
    ) -> Result<(Option<SpfVerdict>, Option<SpfTask>), String> {
        let task = self.start_evaluation(mail_from)?;
        if decides_at_mail(&self.shared.config) {
            let (v, _) = evaluate::join_spf(task).await?;
            Ok((Some(v), None))
        } else {
            Ok((None, Some(task)))
        }
    }

    /// SPF for both identities, started as a task (see [`evaluate::spawn_spf`]).
    fn start_evaluation(&self, mail_from: &str) -> Result<SpfTask, String> {
        let ip = self.client_ip.ok_or("the MTA gave no client IP address")?;
        Ok(evaluate::spawn_spf(
            self.shared.clone(),
            ip,
            &self.helo,
            mail_from,
        ))
    }

    /// One header of the message; `value` is exactly what followed the
    /// colon, leading space included.
    pub fn header(&mut self, name: &str, raw: &[u8]) {
        if let Some(msg) = &mut self.msg {
            let value = &String::from_utf8_lossy(raw);
            if !matches!(msg.role, Role::Untouched(_)) {
                msg.forgeries.observe(name, value, &self.shared.authserv_id);
            }
            if let Some(c) = &mut msg.capture {
                c.header(name, raw);
            }
            if let Some(s) = &mut msg.sealed {
                s.header(name, raw);
            }
            if let Some(r) = &mut msg.deferred {
                if name.eq_ignore_ascii_case("Received") {
                    r.push(value.to_string());
                }
            }
        }
    }

    /// A chunk of the body.
    pub fn body(&mut self, chunk: &[u8]) {
        let Some(msg) = self.msg.as_mut() else {
            return;
        };
        if let Some(c) = msg.capture.as_mut() {
            c.body(chunk);
        }
        if let Some(s) = msg.sealed.as_mut() {
            s.body(chunk);
        }
    }

    /// The transaction was aborted (RSET, QUIT mid-message, client gone).
    pub fn abort(&mut self) {
        self.msg = None;
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn log(
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
        metrics::counter!(crate::metrics::MILTER_MESSAGES, "action" => action.to_string(), "spf" => spf.to_string()).increment(1);
        metrics::histogram!(crate::metrics::MILTER_SPF_SECONDS).record(spf_us as f64 / 1e6);
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

#[cfg(test)]
mod tests {
    use super::{Negotiated, Shared};
    use crate::config::{Config, Method, OnError};

    fn shared(f: impl FnOnce(&mut Config)) -> Shared {
        let mut cfg = Config::default();
        cfg.dns.nameservers = vec!["127.0.0.1:53".parse().unwrap()];
        cfg.milter.add_authentication_results = false;
        f(&mut cfg);
        Shared::from_config(&cfg).unwrap()
    }

    #[test]
    fn new_settings_fit_what_the_connection_negotiated() {
        let spf = shared(|_| {});
        let dkim = shared(|c| c.milter.methods = vec![Method::Spf, Method::Dkim]);
        let tempfail = shared(|c| c.milter.on_error = OnError::Tempfail);
        let open = Negotiated::default();
        let no_body = Negotiated {
            body_skipped: true,
            ..open
        };
        let no_mail_reply = Negotiated {
            mail_unanswered: true,
            ..open
        };
        for s in [&spf, &dkim, &tempfail] {
            assert!(open.fits(s));
        }
        assert!(no_body.fits(&spf) && no_body.fits(&tempfail));
        assert!(
            !no_body.fits(&dkim),
            "DKIM needs the body the MTA will not send"
        );
        assert!(no_mail_reply.fits(&spf) && no_mail_reply.fits(&dkim));
        assert!(
            !no_mail_reply.fits(&tempfail),
            "MAIL's answer would be lost"
        );
    }
}
