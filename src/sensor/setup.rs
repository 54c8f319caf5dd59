//! Builds a [`Sensor`] from the configuration: host name, trusted
//! authserv-ids, TLS, the store, the `[analysis]` settings and the alert
//! tasks (`[alerts]`).

use super::{tls, Sensor, Settings};
use crate::config::Config;
use crate::ingest::extract::ExtractOptions;
use crate::store::{Store, StoreError, StoreLocation, StoreOptions};
use std::sync::Arc;

/// A ready sensor, and the PEM of its self-signed certificate if one was
/// generated (so a client can be told to trust it).
pub struct Built {
    /// Shared sensor state.
    pub sensor: Arc<Sensor>,
    /// Self-signed certificate, PEM.
    pub self_signed_pem: Option<String>,
    /// The alert tasks, when `[alerts]` is enabled.
    pub alerts: Option<crate::alerts::Running>,
}

/// Opens the store, starts the exporter and sets up TLS as configured
/// (inside a tokio runtime: the exporter spawns its spool drainer).
///
/// # Errors
/// The store cannot be opened or the TLS files are unusable; the message
/// names the file.
pub fn build(cfg: &Config) -> Result<Built, String> {
    build_with(cfg, Store::open_location)
}

/// [`build`], with the store opened by `open` (given `[store]`'s location
/// and the options derived from it) instead of [`Store::open_location`].
///
/// # Errors
/// As [`build`].
pub fn build_with(
    cfg: &Config,
    open: impl FnOnce(&StoreLocation, StoreOptions) -> Result<Store, StoreError>,
) -> Result<Built, String> {
    bound_heap();
    // Everything is checked before the store is opened (and maybe created).
    let (mut settings, self_signed_pem) = settings_of(cfg, None)?;
    let store = open(&cfg.store.location(), store_options(cfg)).map_err(|e| e.to_string())?;
    let (alerts, running) = match start_alerts(cfg, &store, &settings.hostname)? {
        Some((a, r)) => (Some(a), Some(r)),
        None => (None, None),
    };
    settings.alerts = alerts;
    let mut sensor = Sensor::with_settings(store, settings);
    sensor.exporter = crate::export::Exporter::start(&cfg.export)?;
    Ok(Built {
        sensor: Arc::new(sensor),
        self_signed_pem,
        alerts: running,
    })
}

/// The sensor settings a reload puts in force, and the alert tasks started
/// for them (their settings changed; the old tasks are to be retired once
/// the new settings are in force).
pub struct Reloaded {
    /// The new settings.
    pub settings: Settings,
    /// New alert tasks; `None`: the running ones go on (or none run).
    pub started: Option<Option<crate::alerts::Running>>,
}

/// The settings of `cfg` for the running `sensor`, checked as at start-up
/// (and `max_message_size` against the spool it started with); the alert
/// tasks are restarted only if `[alerts]` or what they use changed.
///
/// # Errors
/// As at start-up; nothing is started then.
pub fn reload(cfg: &Config, sensor: &Sensor) -> Result<Reloaded, String> {
    let old = sensor.settings();
    let (mut settings, _) = settings_of(cfg, Some(&old))?;
    if cfg.sensor.max_message_size > sensor.spool_bytes {
        return Err(format!(
            "[sensor] max_message_size = {} octets is larger than the spool this sensor \
             started with ({} octets; spool_mb changes only with a restart)",
            cfg.sensor.max_message_size, sensor.spool_bytes
        ));
    }
    if settings.alerts_key == old.alerts_key {
        settings.alerts.clone_from(&old.alerts);
        return Ok(Reloaded {
            settings,
            started: None,
        });
    }
    let (alerts, running) = match start_alerts(cfg, &sensor.store, &settings.hostname)? {
        Some((a, r)) => (Some(a), Some(r)),
        None => (None, None),
    };
    settings.alerts = alerts;
    Ok(Reloaded {
        settings,
        started: Some(running),
    })
}

/// The per-session settings of `cfg`, checked (and files read) as at
/// start-up, and the PEM of a self-signed certificate if one was made. A
/// self-signed certificate already in `previous` is kept.
fn settings_of(
    cfg: &Config,
    previous: Option<&Settings>,
) -> Result<(Settings, Option<String>), String> {
    let sc = &cfg.sensor;
    if sc.spool_mb.saturating_mul(1 << 20) < sc.max_message_size {
        // A copy that can never fit would be deferred (452) until the
        // gateway gives up on it: refuse the configuration instead.
        return Err(format!(
            "[sensor] spool_mb = {} MiB is smaller than max_message_size = {} octets: \
             a copy of the largest accepted size could never be received; \
             raise spool_mb or lower max_message_size",
            sc.spool_mb, sc.max_message_size
        ));
    }
    let hostname = sc.hostname.clone().unwrap_or_else(crate::host_name);
    let extract = trust_options(cfg)?;
    let kept = previous
        .filter(|p| p.config.self_signed && p.config.tls_cert.is_none() && p.tls.is_some())
        .and_then(|p| p.tls.clone());
    let (tls, pem) = match kept {
        Some(tls) if sc.self_signed && sc.tls_cert.is_none() && sc.tls_key.is_none() => {
            (Some(tls), None)
        }
        _ => tls_of(sc, &hostname)?,
    };
    let alerts_key = if cfg.alerts.enabled() {
        format!(
            "{:?}|{:?}|{hostname}|{:?}",
            cfg.alerts, cfg.analysis.org_domains, extract.seal_keys
        )
    } else {
        String::new()
    };
    let settings = Settings {
        config: sc.clone(),
        hostname,
        tls,
        extract,
        alerts: None,
        analysis: Arc::new(cfg.analysis.clone()),
        alerts_key,
    };
    Ok((settings, pem))
}

/// Starts the alert tasks when `[alerts]` is enabled.
fn start_alerts(
    cfg: &Config,
    store: &Store,
    hostname: &str,
) -> Result<Option<(crate::alerts::Alerts, crate::alerts::Running)>, String> {
    if !cfg.alerts.enabled() {
        return Ok(None);
    }
    let wiring = crate::alerts::Wiring {
        org_domains: cfg.analysis.org_domains.clone(),
        loop_key: alert_loop_key(cfg)?,
    };
    crate::alerts::start(&cfg.alerts, store.clone(), hostname, wiring)
}

/// What the sensor believes: trusted and sealed authserv-ids (default: the
/// milter's; sealed when a seal key is configured), the seal keys and the
/// journaling sources.
///
/// # Errors
/// A sealed id without a key, or one that is not trusted.
pub fn trust_options(cfg: &Config) -> Result<ExtractOptions, String> {
    let sc = &cfg.sensor;
    let milter_id = cfg
        .milter
        .authserv_id
        .clone()
        .unwrap_or_else(crate::host_name);
    let trusted = if sc.trusted_authserv_ids.is_empty() {
        vec![milter_id.clone()]
    } else {
        sc.trusted_authserv_ids.clone()
    };
    let seal_keys = crate::headers::seal::Keys::load(cfg.seal.key_file.as_deref())?;
    let sealed = match (&sc.sealed_authserv_ids, &seal_keys) {
        (Some(ids), _) => ids.clone(),
        (None, Some(_)) => vec![milter_id],
        (None, None) => Vec::new(),
    };
    if !sealed.is_empty() && seal_keys.is_none() {
        return Err(format!(
            "[sensor] sealed_authserv_ids = {sealed:?} needs [seal] key_file: \
             without the key no stamp of theirs could be believed"
        ));
    }
    if !sc.sealed_gateways.is_empty() && seal_keys.is_none() {
        return Err("[sensor] sealed_gateways needs [seal] key_file".into());
    }
    if let Some(id) = sealed
        .iter()
        .find(|s| !trusted.iter().any(|t| t.eq_ignore_ascii_case(s)))
    {
        return Err(format!(
            "[sensor] sealed_authserv_ids lists {id:?}, which is not in trusted_authserv_ids"
        ));
    }
    let unsealed: Vec<&String> = trusted
        .iter()
        .filter(|t| !sealed.iter().any(|s| s.eq_ignore_ascii_case(t)))
        .collect();
    if seal_keys.is_some() && !unsealed.is_empty() && sc.sealed_gateways.is_empty() {
        tracing::warn!(?unsealed, "trusted authserv-ids need no seal and [sensor] sealed_gateways is empty: \
            while a perimeter's milter is down, an outsider's forged stamp of these ids is believed \
            (docs/security.md)");
    }
    Ok(ExtractOptions {
        trusted_authserv_ids: trusted,
        sealed_authserv_ids: sealed,
        seal_keys,
        seal_max_age_secs: cfg.seal.max_age_hours.saturating_mul(3600),
        journal_sources: sc.journal_sources.clone(),
        ..ExtractOptions::default()
    })
}

/// STARTTLS as configured: files, a self-signed certificate, or none.
fn tls_of(
    sc: &crate::config::SensorConfig,
    hostname: &str,
) -> Result<(Option<tokio_rustls::TlsAcceptor>, Option<String>), String> {
    let (tls, pem) = match (&sc.tls_cert, &sc.tls_key, sc.self_signed) {
        (Some(cert), Some(key), _) => (Some(tls::from_files(cert, key)?), None),
        (Some(_), None, _) | (None, Some(_), _) => {
            return Err("sensor.tls_cert and sensor.tls_key must be given together".into())
        }
        (None, None, true) => {
            let (acceptor, pem) = tls::self_signed(hostname)?;
            (Some(acceptor), Some(pem))
        }
        (None, None, false) => (None, None),
    };
    if sc.require_tls && tls.is_none() {
        return Err("sensor.require_tls needs tls_cert/tls_key or self_signed".into());
    }
    Ok((tls, pem))
}

/// The store's options from `[store]`.
fn store_options(cfg: &Config) -> StoreOptions {
    let st = &cfg.store;
    StoreOptions {
        retention_days: (st.retention_days > 0).then_some(st.retention_days),
        max_db_bytes: (st.max_size_mb > 0).then_some(st.max_size_mb * 1024 * 1024),
        commit_delay: std::time::Duration::from_micros(st.commit_delay_us),
        ..StoreOptions::default()
    }
}

/// The key that tags alert mail (`X-Authsense-Alert`, see
/// [`crate::alerts::looptag`]) so that the sensor sends no alert about its
/// own alert mail when it comes back through the perimeter.
///
/// Derived from the seal key (`[seal] key_file`) when there is one, so every
/// sensor of a fleet and every restart recognise the tag; otherwise 32
/// random bytes new in every process (a looped alert is then recognised
/// only by the sensor process that sent it).
///
/// # Errors
/// The key file or the random bytes cannot be read.
pub fn alert_loop_key(cfg: &Config) -> Result<crate::alerts::looptag::LoopKey, String> {
    if let Some(keys) = crate::headers::seal::Keys::load(cfg.seal.key_file.as_deref())? {
        return crate::alerts::looptag::LoopKey::new(&keys.derive("alert-loop"));
    }
    let mut key = [0u8; 32];
    std::io::Read::read_exact(
        &mut std::fs::File::open("/dev/urandom")
            .map_err(|e| format!("alert loop key: cannot open /dev/urandom: {e}"))?,
        &mut key,
    )
    .map_err(|e| format!("alert loop key: cannot read /dev/urandom: {e}"))?;
    crate::alerts::looptag::LoopKey::new(&key)
}

/// Pins glibc's mmap threshold at 4 MiB: larger buffers (big copies, their
/// decoded attachments) are mmapped and go back to the system when dropped.
/// By default glibc raises the threshold to the largest block freed so far
/// (up to 32 MiB), after which large copies come from per-thread heaps and
/// stay resident once freed (measured with `bench/sensor`'s memory test:
/// BENCHMARKS.md).
fn bound_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only tunes the allocator; any value is valid.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 4 << 20);
    }
}
