//! `authsense sensor`, `authsense run` (milter + sensor) and
//! `authsense messages`.

use super::{load, shutdown_signal, MessagesArgs, RunArgs, SensorArgs, SensorOpts};
use crate::config::Config;
use crate::milter as m;
use crate::sensor::{self, setup};
use crate::store::Filter;
use crate::web::search::Search;
use std::time::Duration;
use tokio::sync::watch;
use tracing::info;

impl SensorOpts {
    fn apply(&self, cfg: &mut Config) {
        if let Some(db) = &self.db {
            cfg.store.set_db(db);
        }
        if !self.trusted_authserv_ids.is_empty() {
            cfg.sensor.trusted_authserv_ids = self.trusted_authserv_ids.clone();
        }
        if !self.allow.is_empty() {
            cfg.sensor.allow = self.allow.clone();
        }
        cfg.sensor.self_signed |= self.self_signed;
        if let Some(web) = self.web {
            cfg.web.listen = web;
        }
        if let Some(url) = &self.nats {
            cfg.export.nats = Some(url.clone());
        }
    }
}

/// The sensor's sockets, bound before anything is created and before root
/// privileges are dropped.
struct SensorSockets {
    smtp: tokio::net::TcpListener,
    web: Option<tokio::net::TcpListener>,
}

/// Binds the SMTP and web sockets; either failing stops the start-up.
async fn bind_sensor(cfg: &Config) -> Result<SensorSockets, String> {
    let addr = cfg.sensor.listen;
    let smtp = sensor::listen(addr, cfg.sensor.max_sessions)
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let web = crate::web::bind(&cfg.web).await?;
    Ok(SensorSockets { smtp, web })
}

/// Runs the sensor on its bound sockets until `stop` flips.
async fn serve_sensor(
    cfg: &Config,
    sockets: SensorSockets,
    mut stop: watch::Receiver<bool>,
    milter: bool,
) -> Result<(), String> {
    let built = setup::build(cfg)?;
    let web = crate::web::spawn(
        &cfg.web,
        sockets.web,
        built.sensor.store.clone(),
        milter,
        built.sensor.exporter.clone(),
        stop.clone(),
    )
    .await;
    let addr = cfg.sensor.listen;
    let listener = sockets.smtp;
    let s = built.sensor.clone();
    info!(listen = %addr, db = %cfg.store.location(), trusted_authserv_ids = ?s.extract.trusted_authserv_ids, tls = s.tls.is_some(), alerts = s.alerts.is_some(), export = s.exporter.is_some(), "authsense sensor started");
    if cfg.alerts.relay.is_some() == cfg.alerts.to.is_empty() {
        tracing::warn!("[alerts] needs both relay and to; alerts are off");
    }
    if let Some(pem) = &built.self_signed_pem {
        info!("self-signed certificate:\n{pem}");
    }
    crate::process::notify_ready();
    let web_stop = stop.clone();
    // The accept loop runs as a task on the runtime's workers, not on this
    // (the main) thread: a session spawned there starts on the worker that
    // accepted it instead of being handed across threads, which cost CPU
    // on every copy (BENCHMARKS.md).
    let accept = tokio::spawn(sensor::run(listener, s, async move {
        let _ = stop.wait_for(|v| *v).await;
    }));
    accept
        .await
        .map_err(|e| format!("sensor stopped: {e}"))?
        .map_err(|e| format!("sensor stopped: {e}"))?;
    if let Some(web) = web {
        // The sensor only returns once `stop` flipped, which stops the web
        // server too.
        drop(web_stop);
        let _ = web.await;
    }
    let store = built.sensor.store.clone();
    let alerts = built.alerts;
    drop(built.sensor);
    // Every Alerts handle is gone with the sensor: queued threat alerts go out.
    if let Some(running) = alerts {
        running.finish(Duration::from_secs(10)).await;
    }
    store.close().await.map_err(|e| e.to_string())?;
    info!("authsense sensor stopped");
    Ok(())
}

/// `authsense sensor`.
pub async fn sensor(args: SensorArgs) -> Result<(), String> {
    let mut cfg = args.common.config()?;
    args.sensor.apply(&mut cfg);
    crate::metrics::install();
    if let Some(l) = args.listen {
        cfg.sensor.listen = l;
    }
    crate::process::target(&cfg.process)?;
    setup::trust_options(&cfg)?;
    let sockets = bind_sensor(&cfg).await?;
    crate::process::drop_privileges(&cfg.process)?;
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = tx.send(true);
    });
    serve_sensor(&cfg, sockets, rx, false).await
}

/// `authsense run`: milter and sensor in one process.
pub async fn run(args: RunArgs) -> Result<(), String> {
    let mut cfg = args.common.config()?;
    args.sensor.apply(&mut cfg);
    // Before the resolver is built: hickory registers its counters then.
    crate::metrics::install();
    if let Some(l) = args.milter_listen {
        cfg.milter.listen = l;
    }
    if let Some(l) = args.sensor_listen {
        cfg.sensor.listen = l;
    }
    crate::process::target(&cfg.process)?;
    let spec = cfg.milter.listen.clone();
    let listener = super::milter::bind_milter(&cfg).await?;
    let sockets = bind_sensor(&cfg).await?;
    crate::process::drop_privileges(&cfg.process)?;
    super::default_seal_key(&mut cfg)?;
    setup::trust_options(&cfg)?;
    let shared = args.common.shared(&cfg)?;
    info!(listen = %spec, authserv_id = %shared.authserv_id, "authsense milter started");
    let (tx, rx) = watch::channel(false);
    let mut milter_stop = rx.clone();
    let milter = tokio::spawn(m::run(listener, shared, async move {
        let _ = milter_stop.wait_for(|v| *v).await;
    }));
    let sensor = serve_sensor(&cfg, sockets, rx, true);
    tokio::pin!(sensor);
    let result = tokio::select! {
        r = &mut sensor => r,
        _ = shutdown_signal() => {
            let _ = tx.send(true);
            sensor.await
        }
    };
    let _ = tx.send(true);
    let _ = milter.await;
    if let m::listen::SocketSpec::Unix(path) = &spec {
        let _ = std::fs::remove_file(path);
    }
    result
}

/// `authsense messages`.
pub async fn messages(args: MessagesArgs) -> Result<(), String> {
    let mut cfg = load(args.config.as_deref())?;
    // The web search's parameters, parsed the same way.
    let search = Search {
        sender: args.sender,
        domain: args.domain,
        recipient: args.recipient,
        subject: args.subject,
        spf: args.spf,
        dkim: args.dkim,
        dmarc: args.dmarc,
        auth_source: args.auth_source,
        verdict: args.verdict,
        min_score: args.min_score,
        gateway: args.gateway,
        since: args.since,
        until: args.until,
        limit: None,
        after: None,
    };
    let filter = Filter {
        limit: Some(args.limit),
        ..search
            .to_filter()
            .map_err(|e| format!("--{}", e.replacen('_', "-", 1)))?
    };
    let store = super::open_existing_store(&mut cfg, args.db.as_deref())?;
    let records = store.query(&filter).map_err(|e| e.to_string())?;
    let printed = print_records(&records, args.json);
    store.close().await.map_err(|e| e.to_string())?;
    match printed {
        // A reader that went away (`| head`) is not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(format!("cannot write to stdout: {e}")),
        Ok(()) => Ok(()),
    }
}

fn print_records(records: &[crate::model::Record], json: bool) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for r in records {
        if json {
            serde_json::to_writer(&mut out, r)?;
            writeln!(out)?;
        } else {
            let score = r.score.map_or("-".to_string(), |s| s.to_string());
            writeln!(
                out,
                "{:>6} {} {:<15} {:<10} {:>2} spf={:<9} src={:<22} from={} subject={}",
                r.id.unwrap_or_default(),
                r.ts,
                r.gateway.ip,
                r.verdict.map_or("-", |v| v.as_str()),
                score,
                r.auth.spf.as_ref().map_or("-", |m| m.result.as_str()),
                r.auth.source.as_str(),
                r.original.mailfrom.as_deref().unwrap_or("-"),
                r.subject.as_deref().unwrap_or("-"),
            )?;
        }
    }
    out.flush()
}
