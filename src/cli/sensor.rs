//! `authsense sensor`, `authsense run` (milter + sensor) and
//! `authsense messages`.

use super::{load, shutdown_signal, MessagesArgs, RunArgs, SensorArgs, SensorOpts};
use crate::config::Config;
use crate::milter as m;
use crate::reload;
use crate::sensor::{self, setup};
use crate::store::Filter;
use crate::web::search::Search;
use std::{sync::Arc, time::Duration};
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

/// What the sensor half of a process runs with.
struct Serve {
    /// The configuration (flags applied).
    cfg: Config,
    /// Its bound sockets.
    sockets: SensorSockets,
    /// Reads the configuration again on SIGHUP.
    load: reload::Loader,
    /// SIGHUP, listened to since the start.
    hup: tokio::signal::unix::Signal,
    /// The milter's settings, in `authsense run`.
    milter: Option<Arc<m::Live>>,
}

/// Runs the sensor on its bound sockets until `stop` flips; SIGHUP reloads
/// the configuration into it (and into the milter of `authsense run`).
async fn serve_sensor(serve: Serve, stop: watch::Receiver<bool>) -> Result<(), String> {
    let cfg = &serve.cfg;
    let built = setup::build(cfg)?;
    let in_run = serve.milter.is_some();
    let exporter = built.sensor.exporter.clone();
    let store = built.sensor.store.clone();
    let web = crate::web::spawn(
        &cfg.web,
        serve.sockets.web,
        store,
        in_run,
        exporter,
        stop.clone(),
    )
    .await;
    let addr = cfg.sensor.listen;
    let listener = serve.sockets.smtp;
    let s = built.sensor.clone();
    let set = s.settings();
    info!(listen = %addr, db = %cfg.store.location(), trusted_authserv_ids = ?set.extract.trusted_authserv_ids, tls = set.tls.is_some(), alerts = set.alerts.is_some(), export = s.exporter.is_some(), "authsense sensor started");
    drop(set);
    if cfg.alerts.relay.is_some() == cfg.alerts.to.is_empty() {
        tracing::warn!("[alerts] needs both relay and to; alerts are off");
    }
    if let Some(pem) = &built.self_signed_pem {
        info!("self-signed certificate:\n{pem}");
    }
    let targets = reload::Targets {
        milter: serve.milter,
        sensor: Some(s.clone()),
        web: web.as_ref().map(|w| (w.access.clone(), w.addr)),
    };
    let reloader = reload::Reloader::new(serve.load, serve.cfg.clone(), targets, built.alerts);
    let reloading = reload::spawn(reloader, serve.hup, stop.clone());
    crate::process::notify_ready();
    let mut accept_stop = stop;
    // The accept loop runs as a task on the runtime's workers, not on this
    // (the main) thread: a session spawned there starts on the worker that
    // accepted it instead of being handed across threads, which cost CPU
    // on every copy (BENCHMARKS.md).
    let accept = tokio::spawn(sensor::run(listener, s, async move {
        let _ = accept_stop.wait_for(|v| *v).await;
    }));
    let accepted = accept.await;
    // The sensor only returns once `stop` flipped, which stops the web
    // server and the reloader too.
    if let Some(web) = web {
        let _ = web.task.await;
    }
    let alerts = reloading.await.ok().and_then(reload::Reloader::into_alerts);
    accepted
        .map_err(|e| format!("sensor stopped: {e}"))?
        .map_err(|e| format!("sensor stopped: {e}"))?;
    let store = built.sensor.store.clone();
    drop(built.sensor);
    // Every Alerts handle is gone with the sensor: queued threat alerts go out.
    if let Some(running) = alerts {
        running.finish(Duration::from_secs(10)).await;
    }
    store.close().await.map_err(|e| e.to_string())?;
    info!("authsense sensor stopped");
    Ok(())
}

/// The sensor's configuration: the file, then the flags (also on reload).
fn sensor_config(args: &SensorArgs) -> Result<Config, String> {
    let mut cfg = args.common.config()?;
    args.sensor.apply(&mut cfg);
    if let Some(l) = args.listen {
        cfg.sensor.listen = l;
    }
    Ok(cfg)
}

/// `authsense sensor`.
pub async fn sensor(args: SensorArgs) -> Result<(), String> {
    let hup = reload::hangups()?;
    let cfg = sensor_config(&args)?;
    crate::metrics::install();
    crate::process::target(&cfg.process)?;
    setup::trust_options(&cfg)?;
    let sockets = bind_sensor(&cfg).await?;
    crate::process::drop_privileges(&cfg.process)?;
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = tx.send(true);
    });
    let serve = Serve {
        cfg,
        sockets,
        load: Box::new(move || sensor_config(&args)),
        hup,
        milter: None,
    };
    serve_sensor(serve, rx).await
}

/// `authsense run`'s configuration: the file, then the flags (also on
/// reload; the default seal key is added after privileges are dropped).
fn run_config(args: &RunArgs) -> Result<Config, String> {
    let mut cfg = args.common.config()?;
    args.sensor.apply(&mut cfg);
    if let Some(l) = &args.milter_listen {
        cfg.milter.listen = l.clone();
    }
    if let Some(l) = args.sensor_listen {
        cfg.sensor.listen = l;
    }
    Ok(cfg)
}

/// `authsense run`: milter and sensor in one process.
pub async fn run(args: RunArgs) -> Result<(), String> {
    let hup = reload::hangups()?;
    let mut cfg = run_config(&args)?;
    // Before the resolver is built: hickory registers its counters then.
    crate::metrics::install();
    crate::process::target(&cfg.process)?;
    let spec = cfg.milter.listen.clone();
    let listener = super::milter::bind_milter(&cfg).await?;
    let sockets = bind_sensor(&cfg).await?;
    crate::process::drop_privileges(&cfg.process)?;
    super::default_seal_key(&mut cfg)?;
    setup::trust_options(&cfg)?;
    let live = Arc::new(m::Live::new(m::Shared::from_config(&cfg)?));
    let id = live.load().authserv_id.clone();
    info!(listen = %spec, authserv_id = %id, "authsense milter started");
    let (tx, rx) = watch::channel(false);
    let mut milter_stop = rx.clone();
    let milter = tokio::spawn(m::run_live(listener, live.clone(), async move {
        let _ = milter_stop.wait_for(|v| *v).await;
    }));
    let load = move || {
        let mut cfg = run_config(&args)?;
        super::default_seal_key(&mut cfg)?;
        Ok(cfg)
    };
    let serve = Serve {
        cfg,
        sockets,
        load: Box::new(load),
        hup,
        milter: Some(live),
    };
    let sensor = serve_sensor(serve, rx);
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
