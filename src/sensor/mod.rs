//! The sensor: an embedded ESMTP sink that receives the dual-delivered copy
//! of every inbound message, never bounces, reads the perimeter's
//! authentication stamp and stores metadata (no bodies) durably.
//!
//! Accept loop: allowlist (554 at connect for anyone else), a global and a
//! per-IP session cap (421), then one task per session; STARTTLS upgrades the
//! stream and the session goes on over TLS. The handshake and every write
//! are bounded by the idle timeout. Refused connections are counted
//! (`authsense_sensor_refused_total`) and logged at most once per address
//! per minute, with the count since the previous line
//! ([`crate::loglimit`]; at most [`REFUSED_LOG_ADDRESSES`] addresses are
//! tracked, further ones share one line).

pub mod conn;
mod data;
pub mod session;
pub mod setup;
pub mod tls;

use crate::alerts;
use crate::config::{AnalysisConfig, SensorConfig};
use crate::ingest::extract;
use crate::store::Store;
use conn::Conn;
use session::{Handler, Next, SessionState, TlsInfo};
use std::{
    collections::HashMap,
    future::Future,
    io,
    net::{IpAddr, SocketAddr},
    sync::{Arc, Mutex},
};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::Semaphore,
    task::JoinSet,
};
use tokio_rustls::TlsAcceptor;
use tracing::{debug, info, warn};

/// One "connection refused" line per address per this interval.
pub const REFUSED_LOG_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// Addresses whose refusals are logged one by one (beyond: one shared line).
pub const REFUSED_LOG_ADDRESSES: usize = 4096;

/// What a session works with that a reload may replace ([`crate::reload`]):
/// taken when a connection is accepted and again at each EHLO and each new
/// transaction, so a copy being received finishes with the settings it
/// started with.
#[derive(Clone)]
pub struct Settings {
    /// `[sensor]` configuration (`listen`, `max_sessions` and `spool_mb`
    /// are read once, at start).
    pub config: SensorConfig,
    /// Name in greetings.
    pub hostname: String,
    /// STARTTLS, if configured.
    pub tls: Option<TlsAcceptor>,
    /// Extraction settings (trusted authserv-ids, caps).
    pub extract: extract::ExtractOptions,
    /// Threat alerts for stored records, when `[alerts]` is enabled.
    pub alerts: Option<alerts::Alerts>,
    /// `[analysis]`: what every stored record is analysed against
    /// (default: no organisation domains, no protected names).
    pub analysis: Arc<AnalysisConfig>,
    /// What the alert tasks were started with ([`setup`]): they are
    /// restarted by a reload only when it changes.
    pub alerts_key: String,
}

impl Settings {
    /// The extraction settings for a copy delivered by `ip` (see
    /// [`extract_options_for`]).
    pub fn extract_options(&self, ip: IpAddr) -> extract::ExtractOptions {
        extract_options_for(&self.extract, &self.config.sealed_gateways, ip)
    }

    fn allowed(&self, ip: IpAddr) -> bool {
        self.config.allow.iter().any(|n| n.contains(&ip))
    }
}

/// State shared by every session.
pub struct Sensor {
    /// Where records go.
    pub store: Store,
    /// Publishes each stored record to NATS JetStream (`[export]`), if on.
    pub exporter: Option<crate::export::Exporter>,
    /// Memory for messages in flight, in KiB permits.
    pub spool: Arc<Semaphore>,
    /// The spool's size in octets (`spool_mb` at start).
    pub spool_bytes: usize,
    settings: crate::swap::Swap<Settings>,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
    refused_log: crate::loglimit::LogLimiter<IpAddr>,
}

impl Sensor {
    /// Shared state from its parts.
    pub fn new(
        config: SensorConfig,
        hostname: String,
        tls: Option<TlsAcceptor>,
        store: Store,
        extract: extract::ExtractOptions,
    ) -> Self {
        let settings = Settings {
            config,
            hostname,
            tls,
            extract,
            alerts: None,
            analysis: Arc::new(AnalysisConfig::default()),
            alerts_key: String::new(),
        };
        Sensor::with_settings(store, settings)
    }

    /// Shared state over `store` with `settings` (the spool sized by their
    /// `spool_mb`).
    pub fn with_settings(store: Store, settings: Settings) -> Self {
        let kib = settings.config.spool_mb.saturating_mul(1024);
        let spool = Arc::new(Semaphore::new(kib.min(Semaphore::MAX_PERMITS)));
        Sensor {
            spool,
            spool_bytes: kib.saturating_mul(1024),
            store,
            exporter: None,
            settings: crate::swap::Swap::new(settings),
            per_ip: Mutex::new(HashMap::new()),
            refused_log: crate::loglimit::LogLimiter::new(REFUSED_LOG_EVERY, REFUSED_LOG_ADDRESSES),
        }
    }

    /// The same sensor, handing flagged records to `alerts`.
    pub fn with_alerts(self, alerts: Option<alerts::Alerts>) -> Self {
        self.change(|s| s.alerts = alerts)
    }

    /// The same sensor analysing records against `analysis`.
    pub fn with_analysis(self, analysis: AnalysisConfig) -> Self {
        self.change(|s| s.analysis = Arc::new(analysis))
    }

    fn change(self, f: impl FnOnce(&mut Settings)) -> Self {
        let mut s = Settings::clone(&self.settings.load());
        f(&mut s);
        self.settings.store(Arc::new(s));
        self
    }

    /// The settings in force now.
    pub fn settings(&self) -> Arc<Settings> {
        self.settings.load()
    }

    /// Puts `settings` in force for new sessions and transactions; returns
    /// the previous ones (sessions that took them keep them).
    pub fn replace(&self, settings: Settings) -> Arc<Settings> {
        self.settings.store(Arc::new(settings))
    }

    /// Counts a connection refused by the allowlist and logs it, rate
    /// limited.
    fn log_refused(&self, ip: IpAddr) {
        metrics::counter!(crate::metrics::SENSOR_REFUSED).increment(1);
        let every_s = REFUSED_LOG_EVERY.as_secs();
        match self.refused_log.hit(ip, std::time::Instant::now()) {
            Some(crate::loglimit::Line { key: Some(ip), count }) => warn!(%ip, refusals = count, every_s, "connection refused: address not in sensor.allow"),
            Some(crate::loglimit::Line { key: None, count }) => warn!(refusals = count, every_s, "connection refused: address not in sensor.allow (addresses beyond the tracked ones, counted together)"),
            None => {}
        }
    }

    /// Takes a per-IP slot (at most `cap` per address); None if the
    /// address is at its cap.
    fn claim(self: &Arc<Self>, ip: IpAddr, cap: usize) -> Option<IpSlot> {
        let mut map = self.per_ip.lock().unwrap_or_else(|p| p.into_inner());
        let n = map.entry(ip).or_insert(0);
        if *n >= cap {
            return None;
        }
        *n += 1;
        Some(IpSlot {
            sensor: self.clone(),
            ip,
        })
    }
}

/// `base` for a copy delivered by `ip`: from one of `sealed_gateways` (the
/// perimeters where our milter stamps, `[sensor] sealed_gateways`) every
/// trusted authserv-id needs our seal, so a stamp of a gateway that cannot
/// seal, forged by an outsider while such a perimeter's milter is down, is
/// recorded as tampered rather than believed.
pub fn extract_options_for(
    base: &extract::ExtractOptions,
    sealed_gateways: &[ipnet::IpNet],
    ip: IpAddr,
) -> extract::ExtractOptions {
    let mut opts = base.clone();
    let ip = ip.to_canonical();
    if sealed_gateways.iter().any(|n| n.contains(&ip)) {
        opts.sealed_authserv_ids
            .clone_from(&opts.trusted_authserv_ids);
    }
    opts
}

/// A per-IP session slot, released on drop.
struct IpSlot {
    sensor: Arc<Sensor>,
    ip: IpAddr,
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        let mut map = self.sensor.per_ip.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

/// The sensor's listening socket, with a queue of pending connections as
/// deep as `max_sessions` (at least 1024; the kernel caps it at
/// net.core.somaxconn): SMTP servers speak first, so a connection dropped
/// from a full queue leaves its client waiting for a greeting that never
/// comes, where a deeper queue lets the sensor answer it a moment later.
pub fn listen(addr: std::net::SocketAddr, max_sessions: usize) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(max_sessions.clamp(1024, u32::MAX as usize) as u32)
}

/// Serves gateways on `listener` until `shutdown` completes, then waits for
/// sessions in progress (a copy being stored is finished and answered).
///
/// # Errors
/// The listener fails.
pub async fn run(
    listener: TcpListener,
    sensor: Arc<Sensor>,
    shutdown: impl Future,
) -> io::Result<()> {
    let sessions = Arc::new(Semaphore::new(sensor.settings().config.max_sessions));
    let mut tasks = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        while tasks.try_join_next().is_some() {}
        let _ = stream.set_nodelay(true);
        let sensor = sensor.clone();
        let permit = sessions.clone().try_acquire_owned();
        tasks.spawn(async move {
            let result = match permit {
                Ok(_permit) => connection(stream, peer, &sensor).await,
                Err(_) => refuse(stream, "421 4.3.2 Too many connections, try again later").await,
            };
            if let Err(e) = result {
                debug!(%peer, error = %e, "session ended");
            }
        });
    }
    info!(
        sessions = tasks.len(),
        "sensor stopping; waiting for sessions"
    );
    let drain = async { while tasks.join_next().await.is_some() {} };
    if tokio::time::timeout(std::time::Duration::from_secs(30), drain)
        .await
        .is_err()
    {
        tasks.abort_all();
    }
    Ok(())
}

async fn refuse(stream: TcpStream, reply: &str) -> io::Result<()> {
    let mut conn = Conn::new(stream);
    conn.reply(reply).await?;
    conn.flush().await
}

async fn connection(stream: TcpStream, peer: SocketAddr, sensor: &Arc<Sensor>) -> io::Result<()> {
    let ip = peer.ip().to_canonical();
    let settings = sensor.settings();
    if !settings.allowed(ip) {
        sensor.log_refused(ip);
        return refuse(
            stream,
            &format!("554 5.7.1 {ip} is not allowed to send copies to this sensor"),
        )
        .await;
    }
    let Some(_slot) = sensor.claim(ip, settings.config.max_sessions_per_ip) else {
        return refuse(stream, "421 4.7.0 Too many connections from your address").await;
    };
    metrics::counter!(crate::metrics::SENSOR_SESSIONS).increment(1);
    let idle = std::time::Duration::from_secs(settings.config.idle_timeout_secs);
    let greeting = format!("220 {} ESMTP authsense sensor", settings.hostname);
    let mut plain = Handler {
        conn: Conn::new(stream).with_write_timeout(idle),
        st: SessionState::new(peer, settings),
        sensor,
    };
    plain.conn.reply(&greeting).await?;
    if let Next::Quit = plain.run().await? {
        return Ok(());
    }
    let Handler { conn, mut st, .. } = plain;
    // The acceptor of the settings that offered STARTTLS to this session.
    let Some(acceptor) = st.settings.tls.clone() else {
        return Ok(());
    };
    let tls = tokio::time::timeout(idle, acceptor.accept(conn.into_inner()))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timeout"))??;
    let (_, server) = tls.get_ref();
    st.start_tls(TlsInfo {
        version: server
            .protocol_version()
            .map_or_else(|| "unknown".into(), |v| format!("{v:?}")),
        cipher: server
            .negotiated_cipher_suite()
            .map_or_else(|| "unknown".into(), |c| format!("{:?}", c.suite())),
    });
    let mut secure = Handler {
        conn: Conn::new(tls).with_write_timeout(idle),
        st,
        sensor,
    };
    secure.run().await?;
    Ok(())
}
