//! What the status page knows about one gateway (perimeter MTA sending
//! copies), independent of the database that computed it, and
//! [`StatusBuilder`], which assembles it from the rows of the two status
//! queries (`sql::GATEWAY_LATEST`, `sql::GATEWAY_WINDOW`) on either backend.

use serde::Serialize;
use std::collections::BTreeMap;

/// One gateway's recent activity: everything counts copies received in the
/// window ending at `now_ms` and `window_minutes` long, except `last_seen_ms`
/// and `helo`, which come from its latest copy ever stored.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct GatewayStatus {
    /// Peer IP address.
    pub gateway_ip: String,
    /// HELO name of its latest copy.
    pub helo: Option<String>,
    /// Receive time of its latest copy, unix milliseconds.
    pub last_seen_ms: i64,
    /// End of the window, unix milliseconds.
    pub now_ms: i64,
    /// Length of the window.
    pub window_minutes: u32,
    /// Copies in the window.
    pub total: u64,
    /// Copies per minute, oldest minute first (`window_minutes` entries).
    pub per_minute: Vec<u64>,
    /// Copies with usable results from a trusted X-Agari header.
    pub x_agari: u64,
    /// Copies with usable results only from a trusted Authentication-Results
    /// header (the fallback).
    pub authentication_results: u64,
    /// Copies with no trusted header, or whose SPF result is missing or
    /// `unknown` (e.g. an unexpanded `${SPFResult}`): the perimeter's
    /// stamping is not working for them.
    pub broken: u64,
    /// Copies delivered over STARTTLS.
    pub tls: u64,
    /// Copies whose stamp could not be believed (`auth_source` tampered:
    /// unparsable, or without the seal its authserv-id requires); also
    /// counted in `broken`.
    pub tampered: u64,
}

impl GatewayStatus {
    /// A gateway with no copies counted yet in a `window_minutes` window
    /// ending at `now_ms`; an empty HELO counts as none.
    fn empty(
        gateway_ip: String,
        helo: Option<String>,
        last_seen_ms: i64,
        now_ms: i64,
        window_minutes: u32,
    ) -> GatewayStatus {
        GatewayStatus {
            gateway_ip,
            helo: helo.filter(|h| !h.is_empty()),
            last_seen_ms,
            now_ms,
            window_minutes,
            per_minute: vec![0; window_minutes as usize],
            ..GatewayStatus::default()
        }
    }

    /// Adds one row of the window query: `minute` from the window's start,
    /// and the copies, broken, X-Agari, AR-fallback, TLS and tampered counts
    /// in it.
    fn add_minute(&mut self, minute: i64, [n, broken, xa, ar, tls, tampered]: [i64; 6]) {
        let n = n.unsigned_abs();
        if let Some(slot) = usize::try_from(minute)
            .ok()
            .and_then(|m| self.per_minute.get_mut(m))
        {
            *slot += n;
        }
        self.total += n;
        self.broken += broken.unsigned_abs();
        self.x_agari += xa.unsigned_abs();
        self.authentication_results += ar.unsigned_abs();
        self.tls += tls.unsigned_abs();
        self.tampered += tampered.unsigned_abs();
    }

    /// `part` as a share of `total` (0 when there are no copies).
    pub fn share(&self, part: u64) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            part as f64 / self.total as f64
        }
    }

    /// Average copies per minute over the window.
    pub fn rate_per_minute(&self) -> f64 {
        self.total as f64 / f64::from(self.window_minutes.max(1))
    }
}

/// Collects [`GatewayStatus`]es from the status queries' rows, one gateway
/// per IP address, ordered by IP.
pub(crate) struct StatusBuilder {
    now_ms: i64,
    minutes: u32,
    gateways: BTreeMap<String, GatewayStatus>,
}

impl StatusBuilder {
    /// A window of `window_minutes` (at least one) ending at `now_ms`.
    pub fn new(now_ms: i64, window_minutes: u32) -> StatusBuilder {
        StatusBuilder {
            now_ms,
            minutes: window_minutes.max(1),
            gateways: BTreeMap::new(),
        }
    }

    /// Start of the window, unix milliseconds (the window query's `?1`;
    /// `now_ms` is its `?2`).
    pub fn since_ms(&self) -> i64 {
        self.now_ms - i64::from(self.minutes) * 60_000
    }

    /// A row of `GATEWAY_LATEST`: a gateway, its latest copy's time and HELO.
    pub fn latest(&mut self, ip: String, last_seen_ms: i64, helo: Option<String>) {
        let g = GatewayStatus::empty(ip.clone(), helo, last_seen_ms, self.now_ms, self.minutes);
        self.gateways.insert(ip, g);
    }

    /// A row of `GATEWAY_WINDOW` (see [`GatewayStatus::add_minute`]); a
    /// gateway without a `latest` row is ignored.
    pub fn minute(&mut self, ip: &str, minute: i64, counts: [i64; 6]) {
        if let Some(g) = self.gateways.get_mut(ip) {
            g.add_minute(minute, counts);
        }
    }

    /// The gateways, ordered by IP.
    pub fn finish(self) -> Vec<GatewayStatus> {
        self.gateways.into_values().collect()
    }
}
