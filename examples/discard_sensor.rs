//! `discard_sensor`: `authsense sensor` with a store that keeps nothing, for
//! `bench/sensor` to measure how fast the sensor could at best go on this
//! machine with any durable store: the floor under the SQL and the fsync,
//! as `null_sensor` is the floor under the whole of the sensor's work.
//!
//! It is the sensor exactly as `authsense sensor --config FILE` builds it
//! ([`authsense::sensor::setup::build_with`]: the same runtime, server,
//! extraction, analysis with its store reads, metrics, writer thread and
//! commit delay), except that the writer thread acknowledges each record
//! without writing it ([`authsense::store::Store::open_discarding_writes`]).
//! **Every record is lost**: a benchmark tool, built only with
//! `--features bench-floor`. The web UI is not started.
//!
//! On SIGUSR1 it writes the number of records acknowledged to
//! `--count-file` (so `bench/sensor` can check that none was lost before
//! the store). SIGTERM or Ctrl-C stops it.
//!
//! ```text
//! cargo run --release --features bench-floor --example discard_sensor -- \
//!     --config sensor.toml --count-file /tmp/discard.count
//! ```

use authsense::config::Config;
use authsense::sensor::{self, setup};
use authsense::store::Store;
use clap::Parser;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::signal::unix::{signal, SignalKind};

#[derive(Parser, Debug)]
#[command(about = "authsense sensor with a store that keeps nothing (benchmark floor)")]
struct Args {
    /// The sensor's configuration file (`[store] path` must be a SQLite
    /// file: it is opened for the analysis's reads, never written).
    #[arg(long)]
    config: PathBuf,
    /// Where SIGUSR1 writes the count of records acknowledged.
    #[arg(long)]
    count_file: Option<PathBuf>,
}

fn main() -> Result<(), String> {
    let args = Args::parse();
    let cfg = Config::load(&args.config).map_err(|e| e.to_string())?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(serve(cfg, args.count_file))
}

async fn serve(cfg: Config, count_file: Option<PathBuf>) -> Result<(), String> {
    authsense::metrics::install();
    let mut rows: Option<Arc<AtomicU64>> = None;
    let built = setup::build_with(&cfg, |location, opts| {
        let (store, n) = Store::open_discarding_writes(location, opts)?;
        rows = Some(n);
        Ok(store)
    })?;
    let rows = rows.ok_or("no store opened")?;
    let addr = cfg.sensor.listen;
    let listener = sensor::listen(addr, cfg.sensor.max_sessions)
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let mut term = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut usr1 = signal(SignalKind::user_defined1()).map_err(|e| e.to_string())?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let accept = tokio::spawn(sensor::run(listener, built.sensor.clone(), stopped));
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
            _ = usr1.recv() => {
                if let Some(path) = &count_file {
                    let n = rows.load(Ordering::SeqCst);
                    std::fs::write(path, format!("{n}\n")).map_err(|e| e.to_string())?;
                }
            }
        }
    }
    let _ = stop.send(());
    let _ = accept.await;
    let store = built.sensor.store.clone();
    drop(built);
    store.close().await.map_err(|e| e.to_string())
}
