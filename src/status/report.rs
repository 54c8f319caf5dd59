//! The status report behind the page, `GET /api/status` and `authsense
//! status`: every gateway's activity over the last hour with its state
//! (rules in [`crate::status::rules`]), plus the milter's counters when it
//! runs in the same process.

use crate::export::ExportHealth;
use crate::status::rules::{assess, Assessment, State};
use crate::store::{GatewayStatus, Store, StoreError};
use serde::Serialize;
use std::fmt::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The window the status covers.
pub const WINDOW_MINUTES: u32 = 60;

/// One gateway with its state.
#[derive(Debug, Clone, Serialize)]
pub struct GatewayReport {
    /// Counts from the store.
    #[serde(flatten)]
    pub status: GatewayStatus,
    /// Last copy, RFC 3339.
    pub last_seen: String,
    /// Average copies per minute over the window.
    pub rate_per_minute: f64,
    /// Shares of the window's copies, 0–1.
    pub share_x_agari: f64,
    /// Share falling back to Authentication-Results.
    pub share_authentication_results: f64,
    /// Share with no usable trusted results.
    pub share_broken: f64,
    /// Share whose stamp could not be believed (tampered; part of broken).
    pub share_tampered: f64,
    /// Share over STARTTLS.
    pub share_tls: f64,
    /// State and the rule that set it.
    #[serde(flatten)]
    pub assessment: Assessment,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    /// When it was computed, RFC 3339.
    pub generated_at: String,
    /// Window length in minutes.
    pub window_minutes: u32,
    /// Records in the store.
    pub records: u64,
    /// The worst gateway state (`red` when there is no gateway at all).
    pub state: State,
    /// Per gateway, by IP.
    pub gateways: Vec<GatewayReport>,
    /// The milter's counters (`authsense run` only): metric with labels and
    /// value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub milter: Option<Vec<(String, f64)>>,
    /// Where records are stored.
    pub store: StoreInfo,
    /// The NATS JetStream event stream, when export is on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub export: Option<ExportHealth>,
}

/// The store behind the report (it answered: the report exists).
#[derive(Debug, Clone, Serialize)]
pub struct StoreInfo {
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    /// The SQLite path, or the PostgreSQL URL without its password.
    pub location: String,
}

/// RFC 3339 (seconds) of a unix-milliseconds time.
pub fn rfc3339_ms(ms: i64) -> String {
    let t = UNIX_EPOCH + Duration::from_millis(ms.max(0).unsigned_abs());
    humantime::format_rfc3339_seconds(t).to_string()
}

/// Computes the report at `now` (blocking: call from `spawn_blocking`).
pub fn report(
    store: &Store,
    now: SystemTime,
    milter: Option<Vec<(String, f64)>>,
    export: Option<ExportHealth>,
) -> Result<StatusReport, StoreError> {
    let now_ms = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    let gateways: Vec<GatewayReport> = store
        .gateway_status(now_ms, WINDOW_MINUTES)?
        .into_iter()
        .map(|g| GatewayReport {
            last_seen: rfc3339_ms(g.last_seen_ms),
            rate_per_minute: g.rate_per_minute(),
            share_x_agari: g.share(g.x_agari),
            share_authentication_results: g.share(g.authentication_results),
            share_broken: g.share(g.broken),
            share_tampered: g.share(g.tampered),
            share_tls: g.share(g.tls),
            assessment: assess(&g),
            status: g,
        })
        .collect();
    let state = gateways
        .iter()
        .map(|g| g.assessment.state)
        .max()
        .unwrap_or(State::Red);
    Ok(StatusReport {
        generated_at: rfc3339_ms(now_ms),
        window_minutes: WINDOW_MINUTES,
        records: store.count()?,
        state,
        gateways,
        milter,
        store: StoreInfo {
            backend: store.backend(),
            location: store.path().display().to_string(),
        },
        export,
    })
}

/// A share as a whole percentage.
pub fn pct(share: f64) -> String {
    format!("{:.0}%", share * 100.0)
}

impl StatusReport {
    /// The report as text (`authsense status`).
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "authsense status at {}: {} ({} records stored; last {} min)",
            self.generated_at,
            self.state.as_str().to_uppercase(),
            self.records,
            self.window_minutes
        );
        if self.gateways.is_empty() {
            out.push_str("no gateway has sent a copy yet\n");
        }
        for g in &self.gateways {
            let s = &g.status;
            let _ = writeln!(
                out,
                "\n{:<6} gateway {} helo={} last={}\n       {:.1} msg/min ({} copies)  x-agari={}  ar-fallback={}  none/unknown={}  tampered={}  tls={}\n       rule: {}",
                g.assessment.state.as_str().to_uppercase(),
                s.gateway_ip,
                s.helo.as_deref().unwrap_or("-"),
                g.last_seen,
                g.rate_per_minute,
                s.total,
                pct(g.share_x_agari),
                pct(g.share_authentication_results),
                pct(g.share_broken),
                pct(g.share_tampered),
                pct(g.share_tls),
                g.assessment.rule,
            );
        }
        let _ = writeln!(
            out,
            "\nstore: {} {}",
            self.store.backend, self.store.location
        );
        if let Some(e) = &self.export {
            let _ = writeln!(
                out,
                "export: NATS {}, {} event(s) spooled{}",
                if e.connected {
                    "connected"
                } else {
                    "NOT connected"
                },
                e.spool_depth,
                e.last_error
                    .as_deref()
                    .map(|x| format!(", last error: {x}"))
                    .unwrap_or_default()
            );
        }
        if let Some(m) = &self.milter {
            out.push_str("\nmilter:\n");
            for (name, v) in m {
                let _ = writeln!(out, "  {name} {v}");
            }
        }
        out
    }
}
