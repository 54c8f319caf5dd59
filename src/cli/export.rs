//! `authsense export`: JSON lines from the event stream or from a store.

use super::load;
use crate::export::consume::{self, StreamSource};
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;

/// `authsense export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// TOML configuration file (store location, [export] stream).
    #[arg(short, long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Consume the NATS JetStream event stream and print each event.
    #[arg(long, conflicts_with = "jsonl", requires = "nats")]
    from_stream: bool,
    /// NATS server URL (with --from-stream).
    #[arg(long, value_name = "URL")]
    nats: Option<String>,
    /// Stream name [default: [export] stream, AUTHSENSE].
    #[arg(long)]
    stream: Option<String>,
    /// Durable consumer name: later runs resume after the last acknowledged
    /// event. Without it, an ephemeral consumer reads from the start.
    #[arg(long, value_name = "NAME")]
    durable: Option<String>,
    /// Stop after this many events.
    #[arg(long, value_name = "N")]
    count: Option<u64>,
    /// Stop when no event arrived for this long (e.g. 5s) [default: wait
    /// forever].
    #[arg(long, value_name = "DURATION")]
    timeout: Option<String>,
    /// Dump every record of the store as JSON lines.
    #[arg(long)]
    jsonl: bool,
    /// SQLite database file or postgres:// URL (with --jsonl).
    #[arg(long, value_name = "PATH|URL")]
    db: Option<String>,
}

impl ExportArgs {
    /// `--config`, if given.
    pub fn config_path(&self) -> Option<&std::path::Path> {
        self.config.as_deref()
    }
}

/// `authsense export`.
pub async fn export(args: ExportArgs) -> Result<(), String> {
    let mut cfg = load(args.config.as_deref())?;
    let mut out = std::io::stdout().lock();
    if args.from_stream {
        let idle_timeout = args
            .timeout
            .as_deref()
            .map(|t| humantime::parse_duration(t).map_err(|e| format!("--timeout {t:?}: {e}")))
            .transpose()?;
        let src = StreamSource {
            url: args.nats.unwrap_or_default(),
            stream: args.stream.unwrap_or(cfg.export.stream),
            durable: args.durable,
            count: args.count,
            idle_timeout: idle_timeout.or(args.count.map(|_| Duration::from_secs(3600))),
        };
        let n = consume::from_stream(&src, &mut out).await?;
        tracing::info!(events = n, "export from stream done");
        return Ok(());
    }
    if !args.jsonl {
        return Err("authsense export: give --from-stream --nats URL or --jsonl".into());
    }
    let store = super::open_existing_store(&mut cfg, args.db.as_deref())?;
    let dumped = consume::dump_jsonl(&store, &mut out);
    store.close().await.map_err(|e| e.to_string())?;
    match dumped {
        Err(e) if e.contains("Broken pipe") => Ok(()),
        other => other.map(|_| ()),
    }
}
