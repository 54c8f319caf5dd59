//! The alert worker: turns each queued [`Summary`] into the admins' threat
//! alert and the recipients' warnings (each deduplicated and budgeted on
//! its own), and mails the digests every `digest_interval` and once more
//! when the sensor stops.

use super::budget::Kind;
use super::digest::{Item, Why};
use super::{mail, Admit, Context, Summary};
use crate::metrics::ALERTS_DROPPED;
use std::sync::Arc;
use std::time::SystemTime;
use tokio::sync::mpsc;
use tokio::time::{interval_at, MissedTickBehavior};
use tracing::info;

/// Runs until every sender of `rx` is gone, then sends what the digests
/// still hold.
pub(super) async fn run(ctx: Arc<Context>, mut rx: mpsc::Receiver<Summary>) {
    let every = ctx.config.digest_interval;
    let mut tick = interval_at(tokio::time::Instant::now() + every, every);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            s = rx.recv() => match s {
                Some(s) => threat(&ctx, s).await,
                None => break,
            },
            _ = tick.tick() => {
                ctx.flush_digests().await;
            }
        }
    }
    ctx.flush_digests().await;
    ctx.abandon_digests();
}

/// The threat alert for `s`, then its recipient warnings.
pub(super) async fn threat(ctx: &Context, s: Summary) {
    let key = s.threat_key();
    let domain = s.sender_domain();
    let window = ctx.config.dedup_window;
    match ctx
        .admit(&key, Kind::Threat, &domain, window, SystemTime::now())
        .await
    {
        Admit::Send => {
            let (subject, body) = mail::threat(&s);
            if !ctx.send("threat", &ctx.config.to, &subject, &body).await {
                ctx.hold(Item::record(&s, None, Why::SendFailed));
            }
        }
        Admit::Held(limit) => ctx.hold(Item::record(&s, None, Why::Budget(limit))),
        Admit::Duplicate => {}
    }
    if ctx.config.notify_recipient {
        warnings(ctx, &s, &key, &domain).await;
    }
}

/// One warning per envelope recipient inside the organisation, each
/// deduplicated on its own (a later copy of a campaign still warns a
/// recipient the first one did not reach).
async fn warnings(ctx: &Context, s: &Summary, key: &str, domain: &str) {
    let (allowed, refused) = ctx.org.filter(&s.recipients);
    if !refused.is_empty() {
        metrics::counter!(ALERTS_DROPPED, "reason" => "recipient_not_internal")
            .increment(refused.len() as u64);
        info!(uid = %s.uid, refused = ?refused, "no recipient warning to addresses outside [analysis] org_domains");
    }
    let window = ctx.config.dedup_window;
    for rcpt in allowed {
        let k = format!("{key}:rcpt:{rcpt}");
        match ctx
            .admit(&k, Kind::Warning, domain, window, SystemTime::now())
            .await
        {
            Admit::Send => {
                let (subject, body) = mail::recipient_warning(s);
                let to = std::slice::from_ref(&rcpt);
                if !ctx.send("warning", to, &subject, &body).await {
                    ctx.hold(Item::record(s, Some(&rcpt), Why::SendFailed));
                }
            }
            Admit::Held(limit) => ctx.hold(Item::record(s, Some(&rcpt), Why::Budget(limit))),
            Admit::Duplicate => {}
        }
    }
}
