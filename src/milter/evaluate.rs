//! Evaluation helpers for the session: SPF as a task of its own (started at
//! MAIL, awaited when its result is needed), DMARC on top of the SPF and
//! DKIM results, and the external hop for mail that came through a trusted
//! internal relay (`external_relay`).
//!
//! Trust assumptions of `external_relay`: every host in `trusted_networks`
//! writes an honest `Received:` header naming the address it received the
//! message from, and nothing untrusted sits between those relays and this
//! MTA. Walking the `Received:` headers from the top, the first one whose
//! `from` address is outside `trusted_networks` was therefore written by a
//! trusted relay and names the real external client; headers below it were
//! written by hosts we do not trust and are never used.

use super::Shared;
use crate::auth::{SpfCheck, SpfRequest, SpfResult, SpfVerdict};
use crate::config::{MilterConfig, OnError};
use crate::headers::received;
use ipnet::IpNet;
use std::{net::IpAddr, sync::Arc, time::Instant};
use tokio::task::JoinHandle;

/// SPF being evaluated: the verdict and the evaluation's own duration (µs).
pub type SpfTask = JoinHandle<(SpfVerdict, u128)>;

/// Whether MAIL FROM must wait for SPF: only when its answer can depend on
/// the result (`reject_spf`, or `on_error = tempfail`). Otherwise SPF runs
/// while the MTA sends the message and is awaited at end of message.
pub fn decides_at_mail(cfg: &MilterConfig) -> bool {
    !cfg.reject_spf.is_empty() || cfg.on_error == OnError::Tempfail
}

/// Whether the message itself (headers and body) must be rebuilt: only for
/// methods beyond SPF, an Authentication-Results header or an ARC seal. When
/// it need not, the MTA is asked not to send the body at all.
pub fn needs_message(cfg: &MilterConfig) -> bool {
    cfg.add_authentication_results
        || cfg.arc_seal.is_some()
        || cfg.methods.iter().any(|m| *m != crate::config::Method::Spf)
}

/// Starts SPF for both identities as a task of its own: a panic in
/// evaluation must not take the MTA connection down with it.
pub fn spawn_spf(shared: Arc<Shared>, ip: IpAddr, helo: &str, mail_from: &str) -> SpfTask {
    let (helo, mail_from) = (helo.to_string(), mail_from.to_string());
    tokio::spawn(async move {
        let t = Instant::now();
        let req = SpfRequest {
            ip,
            helo: &helo,
            mail_from: &mail_from,
            receiver: &shared.authserv_id,
        };
        let v = shared
            .auth
            .check_spf(&req, shared.config.auth_timeout())
            .await;
        (v, t.elapsed().as_micros())
    })
}

/// The result of [`spawn_spf`], or why there is none.
pub async fn join_spf(task: SpfTask) -> Result<(SpfVerdict, u128), String> {
    task.await
        .map_err(|e| format!("SPF evaluation failed: {e}"))
}

/// The first external hop in `received` (topmost first): its address and
/// the HELO name it gave (the `from` host as the relay recorded it).
pub fn external_hop(received: &[String], trusted: &[IpNet]) -> Option<(IpAddr, String)> {
    for value in received {
        let hop = received::parse(value);
        let ip: IpAddr = hop.from_ip.as_deref()?.parse().ok()?;
        let ip = ip.to_canonical();
        if trusted.iter().any(|n| n.contains(&ip)) {
            continue;
        }
        return Some((ip, hop.from_host.unwrap_or_default()));
    }
    None
}

/// DMARC (RFC 7489) from the SPF and DKIM results, under `budget`, for
/// every author domain of the message (§6.6.1): the strictest result, which
/// is `permerror` when there is no usable `From:` at all
/// ([`crate::auth::Authenticator::check_dmarc_authors`]).
pub async fn dmarc(
    auth: &crate::auth::Authenticator,
    checks: &crate::auth::MessageChecks,
    spf: &SpfVerdict,
    queue_id: Option<&str>,
    budget: std::time::Duration,
) -> crate::auth::DmarcVerdict {
    use crate::auth::{DmarcInput, Outcome};
    let pass: Vec<&str> = checks
        .dkim
        .iter()
        .filter(|d| d.result == Outcome::Pass)
        .map(|d| d.domain.as_str())
        .collect();
    let identity = &spf.mail_from.identity;
    let input = DmarcInput {
        from_domain: "",
        spf_result: spf.mail_from.result,
        spf_domain: identity
            .rsplit_once('@')
            .map_or(identity.as_str(), |(_, d)| d),
        dkim_pass_domains: &pass,
    };
    // pct sampling (§6.6.4): a roll derived from the queue id, stable if the
    // same message is evaluated again.
    let roll = queue_id.map_or(0, |q| {
        q.bytes()
            .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)))
            % 100
    }) as u8;
    auth.check_dmarc_authors(&checks.authors, &input, roll, budget)
        .await
}

/// RFC 7208 §8.4: the rejection text, with the domain's explanation if any.
pub fn reject_text(check: &SpfCheck, ip: Option<IpAddr>) -> String {
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

#[cfg(test)]
mod tests {
    use super::external_hop;

    #[test]
    fn first_untrusted_hop_wins() {
        let trusted = vec!["10.0.0.0/8".parse().unwrap()];
        let hops = vec![
            "from relay2.corp (relay2.corp [10.1.1.2]) by mx.corp (Postfix) with ESMTP id A; Fri, 27 Nov 2026 10:00:02 +0000".to_string(),
            "from relay1.corp (relay1.corp [10.1.1.1]) by relay2.corp (Postfix) with ESMTP id B; Fri, 27 Nov 2026 10:00:01 +0000".to_string(),
            "from mail.sender.example (mail.sender.example [192.0.2.10]) by relay1.corp (Postfix) with ESMTPS id C; Fri, 27 Nov 2026 10:00:00 +0000".to_string(),
            "from forged.example ([198.51.100.66]) by mail.sender.example; Fri, 27 Nov 2026 09:59:59 +0000".to_string(),
        ];
        assert_eq!(
            external_hop(&hops, &trusted),
            Some((
                "192.0.2.10".parse().unwrap(),
                "mail.sender.example".to_string()
            ))
        );
        // Internal-only mail has no external hop.
        assert_eq!(external_hop(&hops[..2], &trusted), None);
        // A header without an address stops the walk: nothing below it is trusted.
        let broken = vec![
            "from somewhere by relay2.corp; Fri, 27 Nov 2026 10:00:00 +0000".to_string(),
            hops[2].clone(),
        ];
        assert_eq!(external_hop(&broken, &trusted), None);
    }
}
