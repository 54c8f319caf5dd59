//! The periodic health check behind health alerts.
//!
//! - Gateway silence: every gateway that sent a copy in the last 24 hours
//!   (or twice `gateway_silence`, if longer) and has sent none for
//!   `gateway_silence` gets one alert; when it sends again the alert re-arms.
//! - Stamp health: when at least `stamp_health_min_copies` copies arrived in
//!   `stamp_health_window` and the share of them with trusted results falls
//!   below `stamp_health_min_share`, one alert; it re-arms once the share is
//!   back at or above the minimum.
//!
//! "Alerted" is an `alerts` row that never expires while the condition
//! holds and is deleted when it clears, so sensors sharing the store alert
//! once between them and any of them re-arms it. Over `health_per_hour`
//! (or `max_per_hour`) a health alert goes into the health digest.

use super::budget::Kind;
use super::digest::{Item, Why};
use super::{mail, Admit, Context};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tracing::warn;

/// Window of a health alert's dedup row: while the condition lasts.
const UNTIL_RECOVERED: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// Gateways are known for this long after their last copy (at least).
const KNOWN_FOR: Duration = Duration::from_secs(24 * 3600);

/// Stamp-health dedup key.
pub const STAMP_KEY: &str = "health:stamp-share";

/// Dedup key of gateway `ip`'s silence alert.
pub fn silence_key(ip: &str) -> String {
    format!("health:silent:{ip}")
}

/// How often to check: a quarter of `gateway_silence`, between 1 s and 60 s.
pub fn interval(ctx: &Context) -> Duration {
    let s = ctx.config.gateway_silence;
    if s.is_zero() {
        return Duration::from_secs(60);
    }
    (s / 4).clamp(Duration::from_secs(1), Duration::from_secs(60))
}

/// Checks forever at [`interval`]; alert state older than a week (or the
/// dedup window) is pruned hourly.
pub async fn run(ctx: Arc<Context>) {
    let every = interval(&ctx);
    let mut pruned = Instant::now();
    loop {
        tokio::time::sleep(every).await;
        check(&ctx, SystemTime::now()).await;
        if pruned.elapsed() >= Duration::from_secs(3600) {
            pruned = Instant::now();
            let keep = ctx.config.dedup_window.max(Duration::from_secs(7 * 86400));
            let store = ctx.store.clone();
            let cutoff = SystemTime::now().checked_sub(keep).unwrap_or(UNIX_EPOCH);
            let _ = tokio::task::spawn_blocking(move || store.prune_alerts(cutoff)).await;
        }
    }
}

/// One check as of `now`; returns how many health alerts were sent.
pub async fn check(ctx: &Context, now: SystemTime) -> usize {
    let mut sent = 0;
    if !ctx.config.gateway_silence.is_zero() {
        sent += check_gateways(ctx, now).await;
    }
    if ctx.config.stamp_health_min_share > 0.0 {
        sent += check_stamps(ctx, now).await;
    }
    sent
}

async fn blocking<T: Send + 'static>(
    what: &str,
    f: impl FnOnce() -> Result<T, crate::store::StoreError> + Send + 'static,
) -> Option<T> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Some(v),
        Ok(Err(e)) => {
            warn!(error = %e, "health check: {what} failed");
            None
        }
        Err(e) => {
            warn!(error = %e, "health check: {what} task failed");
            None
        }
    }
}

/// Sends a health alert for `key` unless it is already alerted (over
/// budget: into the digest); releases the key again if the mail could not
/// be sent (the next check retries).
async fn alert(ctx: &Context, key: String, now: SystemTime, msg: (String, String)) -> usize {
    match ctx
        .admit(&key, Kind::Health, "", UNTIL_RECOVERED, now)
        .await
    {
        Admit::Send => {}
        Admit::Duplicate => return 0,
        Admit::Held(limit) => {
            ctx.hold(Item::health(&msg.0, Why::Budget(limit)));
            return 0;
        }
    }
    if ctx.send("health", &ctx.config.to, &msg.0, &msg.1).await {
        return 1;
    }
    let store = ctx.store.clone();
    blocking("release", move || store.release_alert(&key)).await;
    0
}

async fn rearm(ctx: &Context, key: String) {
    let store = ctx.store.clone();
    blocking("re-arm", move || store.release_alert(&key)).await;
}

async fn check_gateways(ctx: &Context, now: SystemTime) -> usize {
    let silence = ctx.config.gateway_silence;
    let since = now
        .checked_sub(KNOWN_FOR.max(silence * 2))
        .unwrap_or(UNIX_EPOCH);
    let store = ctx.store.clone();
    let Some(gateways) = blocking("gateways", move || store.gateways_last_seen(since)).await else {
        return 0;
    };
    let now_ms = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let mut sent = 0;
    for (ip, last_ms) in gateways {
        let quiet = Duration::from_millis(now_ms.saturating_sub(last_ms).max(0) as u64);
        if quiet < silence {
            rearm(ctx, silence_key(&ip)).await;
            continue;
        }
        let last = UNIX_EPOCH + Duration::from_millis(last_ms.max(0) as u64);
        let last = humantime::format_rfc3339_millis(last).to_string();
        let msg = mail::gateway_silent(&ip, &last, quiet);
        sent += alert(ctx, silence_key(&ip), now, msg).await;
    }
    sent
}

async fn check_stamps(ctx: &Context, now: SystemTime) -> usize {
    let c = &ctx.config;
    let since = now.checked_sub(c.stamp_health_window).unwrap_or(UNIX_EPOCH);
    let store = ctx.store.clone();
    let Some((total, untrusted)) =
        blocking("stamp share", move || store.untrusted_share(since)).await
    else {
        return 0;
    };
    if total == 0 || total < c.stamp_health_min_copies {
        return 0;
    }
    let trusted = total - untrusted;
    if trusted as f64 / total as f64 >= c.stamp_health_min_share {
        rearm(ctx, STAMP_KEY.to_string()).await;
        return 0;
    }
    let msg = mail::stamp_health(
        trusted,
        total,
        c.stamp_health_min_share,
        c.stamp_health_window,
    );
    alert(ctx, STAMP_KEY.to_string(), now, msg).await
}
