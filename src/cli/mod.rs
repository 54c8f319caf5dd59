//! Command line: clap definitions; the commands live in submodules. Flags
//! override the TOML configuration file.

mod check_config;
mod export;
pub mod logging;
mod milter;
mod postfix_config;
mod sensor;
mod status;
mod template;

pub use check_config::{check_config, CheckConfigArgs};
pub use export::{export, ExportArgs};
pub use milter::{check, milter};
pub use postfix_config::{postfix_config, PostfixConfigArgs, SensorMode};
pub use sensor::{messages, run, sensor};

pub use status::status;

use crate::config::{self, Config};
use crate::milter::{listen::SocketSpec, Shared};
use clap::{Args, Parser, Subcommand};
use ipnet::IpNet;
use std::{net::IpAddr, net::SocketAddr, path::PathBuf, sync::Arc};

/// authsense: perimeter mail authentication stamped as
/// X-Agari-Authentication-Results (milter for Postfix and Sendmail), and a
/// sensor that turns a copy of every inbound message into metadata.
#[derive(Debug, Parser)]
#[command(version = version(), about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
    /// Log lines as text or JSON (one object per line) [default: [process]
    /// log_format, else text; no timestamps under systemd's journal].
    #[arg(long, global = true, value_enum, value_name = "FORMAT")]
    pub log_format: Option<crate::config::LogFormat>,
}

/// `authsense --version`: the version, the commit it was built from and the
/// store schema version it writes.
pub fn version() -> &'static str {
    static V: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    V.get_or_init(|| {
        format!(
            "{} (commit {}, store schema {})",
            env!("CARGO_PKG_VERSION"),
            env!("AUTHSENSE_COMMIT"),
            crate::store::SCHEMA_VERSION
        )
    })
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run milter and sensor together on the embedded defaults (milter on
    /// inet:127.0.0.1:8897, sensor SMTP on 127.0.0.1:2526, store ./authsense.db).
    Run(RunArgs),
    /// Serve the milter protocol to Postfix/Sendmail: evaluate SPF, delete
    /// forged authentication headers, stamp X-Agari-Authentication-Results.
    ///
    /// Postfix: smtpd_milters = inet:127.0.0.1:8897 (and milter_default_action = accept
    /// if mail must flow while authsense is down).
    Milter(MilterArgs),
    /// Receive dual-delivered copies over SMTP and store their metadata.
    Sensor(SensorArgs),
    /// Print stored records (newest first), as a table or JSON lines.
    Messages(MessagesArgs),
    /// Print the status page as text: per gateway, the last hour's copies,
    /// result shares and green/yellow/red state with the rule that set it.
    Status(StatusArgs),
    /// Print records as JSON lines for SIEM pipelines: from the NATS
    /// JetStream event stream (--from-stream) or from a store (--jsonl).
    Export(ExportArgs),
    /// Print the header(s) the milter would stamp for a client, HELO name and
    /// sender, without sending mail (uses the same configuration and DNS).
    Check(CheckArgs),
    /// Check a configuration file without starting anything: every key and
    /// type, the TLS certificate and key, seal and ARC keys, the store path,
    /// the account to run as; prints what would listen where. Exits non-zero
    /// naming the key (and line) of any problem.
    CheckConfig(CheckConfigArgs),
    /// Print the Postfix main.cf/master.cf lines for the milter and for dual
    /// delivery to sensors (the vendor guide's steps, commented).
    PostfixConfig(PostfixConfigArgs),
    /// Write a new seal key file (mode 0600) for `[seal] key_file`: the
    /// milter seals its stamps with it, the sensor believes only sealed
    /// stamps. Copy the same file to every milter and sensor host.
    Keygen(KeygenArgs),
}

/// `authsense keygen`.
#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// The key file to create (never overwritten).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

/// `authsense keygen`: writes a new key file, refusing to replace one.
pub fn keygen(args: KeygenArgs) -> Result<(), String> {
    write_new_key(&args.file)?;
    println!(
        "wrote a new seal key to {} (set [seal] key_file to it on every milter and sensor)",
        args.file.display()
    );
    Ok(())
}

/// Creates `path` with a new seal key, readable by its owner only.
fn write_new_key(path: &std::path::Path) -> Result<(), String> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt;
    let text = crate::headers::seal::Keys::generate()
        .map_err(|e| format!("cannot read random bytes: {e}"))?;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("cannot create seal key file {}: {e}", path.display()))?;
    f.write_all(text.as_bytes())
        .map_err(|e| format!("cannot write seal key file {}: {e}", path.display()))
}

/// `authsense run` seals out of the box: without `[seal] key_file` it uses
/// `authsense-seal.key` beside the SQLite store (in the working directory
/// for a PostgreSQL store), created on first start.
fn default_seal_key(cfg: &mut Config) -> Result<(), String> {
    if cfg.seal.key_file.is_some() {
        return Ok(());
    }
    let dir = match &cfg.store.url {
        None => cfg
            .store
            .path
            .parent()
            .map(|p| p.to_path_buf())
            .unwrap_or_default(),
        Some(_) => PathBuf::new(),
    };
    let path = dir.join("authsense-seal.key");
    if !path.exists() {
        write_new_key(&path)?;
        tracing::info!(path = %path.display(), "created the seal key");
    }
    cfg.seal.key_file = Some(path);
    Ok(())
}

/// Options shared by every command.
#[derive(Debug, Args)]
pub struct CommonArgs {
    /// TOML configuration file (see examples/authsense.toml); flags override
    /// it [default: /etc/authsense/authsense.toml if it exists].
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// authserv-id to stamp and to recognise forged headers by (default: this host's name).
    #[arg(long, value_name = "ID")]
    pub authserv_id: Option<String>,
    /// DNS server as IP or IP:PORT instead of /etc/resolv.conf (repeatable).
    #[arg(long = "nameserver", value_name = "IP:PORT", value_parser = config::parse_nameserver)]
    pub nameservers: Vec<SocketAddr>,
    /// Methods in X-Agari-Authentication-Results, e.g. spf,dkim,dmarc,arc,iprev
    /// [default: spf, the vendor guide's header].
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub methods: Vec<config::Method>,
    /// Seal key file shared by milter and sensor ([seal] key_file; `authsense
    /// keygen FILE` writes one). The milter seals its stamps; the sensor
    /// believes the milter's authserv-id only with a valid seal.
    #[arg(long, value_name = "FILE")]
    pub seal_key: Option<PathBuf>,
}

/// `authsense milter`.
#[derive(Debug, Args)]
#[command(after_help = crate::reload::RESTART_NEEDED)]
pub struct MilterArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// Socket: inet:HOST:PORT, inet:PORT@HOST or unix:/path [default: inet:127.0.0.1:8897].
    #[arg(short, long, value_name = "SOCKET")]
    listen: Option<SocketSpec>,
}

/// Sensor options (also taken by `run`).
#[derive(Debug, Args)]
pub struct SensorOpts {
    /// SQLite database file, or a postgres:// URL for a fleet sharing one
    /// PostgreSQL database [default: ./authsense.db].
    #[arg(long, value_name = "PATH|URL")]
    db: Option<String>,
    /// Trust authentication headers with this authserv-id (repeatable)
    /// [default: the milter's authserv-id].
    #[arg(long = "trusted-authserv-id", value_name = "ID")]
    trusted_authserv_ids: Vec<String>,
    /// Gateway network allowed to send copies, CIDR (repeatable) [default: loopback].
    #[arg(long = "allow", value_name = "CIDR")]
    allow: Vec<IpNet>,
    /// Offer STARTTLS with a self-signed certificate generated at start.
    #[arg(long)]
    self_signed: bool,
    /// Web UI, JSON API and /metrics address [default: 127.0.0.1:8426].
    #[arg(long, value_name = "ADDR")]
    web: Option<SocketAddr>,
    /// Publish every stored record to NATS JetStream at this URL (turns
    /// [export] on; see [export] required for the delivery guarantee).
    #[arg(long, value_name = "URL")]
    nats: Option<String>,
}

/// `authsense sensor`.
#[derive(Debug, Args)]
#[command(after_help = crate::reload::RESTART_NEEDED)]
pub struct SensorArgs {
    #[command(flatten)]
    common: CommonArgs,
    #[command(flatten)]
    sensor: SensorOpts,
    /// SMTP address to listen on [default: 127.0.0.1:2526; production: 0.0.0.0:25].
    #[arg(short, long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
}

/// `authsense run`.
#[derive(Debug, Args)]
#[command(after_help = crate::reload::RESTART_NEEDED)]
pub struct RunArgs {
    #[command(flatten)]
    common: CommonArgs,
    #[command(flatten)]
    sensor: SensorOpts,
    /// Milter socket [default: inet:127.0.0.1:8897].
    #[arg(long, value_name = "SOCKET")]
    milter_listen: Option<SocketSpec>,
    /// Sensor SMTP address [default: 127.0.0.1:2526].
    #[arg(long, value_name = "ADDR")]
    sensor_listen: Option<SocketAddr>,
}

/// `authsense messages`.
#[derive(Debug, Args)]
pub struct MessagesArgs {
    /// TOML configuration file (for the store path).
    #[arg(short, long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// SQLite database file or postgres:// URL [default: ./authsense.db].
    #[arg(long, value_name = "PATH|URL")]
    db: Option<String>,
    /// Only records received since this time: RFC 3339 (2026-11-27T10:00:00Z)
    /// or an age such as 2h, 30min, 7days.
    #[arg(long, value_name = "TIME")]
    since: Option<String>,
    /// Only records received before this time (RFC 3339 or an age).
    #[arg(long, value_name = "TIME")]
    until: Option<String>,
    /// Original sender or From address contains this (case-insensitive).
    #[arg(long)]
    sender: Option<String>,
    /// Sender domain (envelope sender or From), exact.
    #[arg(long)]
    domain: Option<String>,
    /// A recipient (envelope, To or Cc) contains this.
    #[arg(long)]
    recipient: Option<String>,
    /// Subject contains this.
    #[arg(long)]
    subject: Option<String>,
    /// SPF result (pass, fail, softfail, neutral, none, temperror, permerror, unknown).
    #[arg(long)]
    spf: Option<String>,
    /// DKIM result (pass matches a copy with any passing signature).
    #[arg(long)]
    dkim: Option<String>,
    /// DMARC result.
    #[arg(long)]
    dmarc: Option<String>,
    /// Where the results came from: x-agari, authentication-results, none.
    #[arg(long, value_name = "SOURCE")]
    auth_source: Option<String>,
    /// Analysis verdict: trusted, suspicious, malicious.
    #[arg(long)]
    verdict: Option<String>,
    /// Analysis score at least this (0-10).
    #[arg(long, value_name = "N")]
    min_score: Option<String>,
    /// Gateway IP address, exact.
    #[arg(long, value_name = "IP")]
    gateway: Option<String>,
    /// At most this many records.
    #[arg(long, default_value_t = 100)]
    limit: usize,
    /// One JSON object per line (the stored record).
    #[arg(long)]
    json: bool,
}

/// `authsense status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// TOML configuration file (for the store path).
    #[arg(short, long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// SQLite database file or postgres:// URL [default: ./authsense.db].
    #[arg(long, value_name = "PATH|URL")]
    db: Option<String>,
    /// The report as JSON (the same object as GET /api/status).
    #[arg(long)]
    json: bool,
}

/// `authsense check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// SMTP client IP address (IPv4 or IPv6).
    #[arg(long)]
    ip: IpAddr,
    /// HELO/EHLO name the client gave.
    #[arg(long)]
    helo: String,
    /// MAIL FROM address; "" or "<>" for the null reverse-path.
    #[arg(long, value_name = "ADDR")]
    from: String,
    /// A stored message (.eml): also verify DKIM, DMARC, ARC and iprev and
    /// print the full Authentication-Results.
    #[arg(long, value_name = "FILE")]
    message: Option<PathBuf>,
}

impl CommonArgs {
    /// Loads the file (if any) and applies the flags.
    pub fn config(&self) -> Result<Config, String> {
        let mut cfg = load(self.config.as_deref())?;
        if let Some(id) = &self.authserv_id {
            cfg.milter.authserv_id = Some(id.clone());
        }
        if !self.nameservers.is_empty() {
            cfg.dns.nameservers = self.nameservers.clone();
        }
        if !self.methods.is_empty() {
            cfg.milter.methods = self.methods.clone();
        }
        if let Some(key) = &self.seal_key {
            cfg.seal.key_file = Some(key.clone());
        }
        Ok(cfg)
    }

    fn shared(&self, cfg: &Config) -> Result<Arc<Shared>, String> {
        Ok(Arc::new(Shared::from_config(cfg)?))
    }
}

/// The configured store with `--db` applied, opened for reading by a CLI
/// command: a SQLite file must already exist (never create an empty one).
fn open_existing_store(cfg: &mut Config, db: Option<&str>) -> Result<crate::store::Store, String> {
    if let Some(db) = db {
        cfg.store.set_db(db);
    }
    crate::store::Store::open_read_only(&cfg.store.location()).map_err(|e| e.to_string())
}

/// The configuration file read when `--config` is not given, if it exists
/// (what the Debian package installs).
pub const DEFAULT_CONFIG: &str = "/etc/authsense/authsense.toml";

/// Loads `--config FILE`, else [`DEFAULT_CONFIG`] when it exists, else the
/// embedded defaults.
fn load(path: Option<&std::path::Path>) -> Result<Config, String> {
    let default = std::path::Path::new(DEFAULT_CONFIG);
    match path {
        Some(path) => Config::load(path).map_err(|e| e.to_string()),
        None if default.exists() => Config::load(default).map_err(|e| e.to_string()),
        None => Ok(Config::default()),
    }
}

/// Completes on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
