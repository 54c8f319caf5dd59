//! Command line: clap definitions and the commands they run. Flags override
//! the TOML configuration file.

use crate::auth::Authenticator;
use crate::config::{self, Config};
use crate::milter::{self, listen::MilterListener, session::Session, Shared};
use clap::{Args, Parser, Subcommand};
use std::{net::IpAddr, net::SocketAddr, path::PathBuf, sync::Arc};
use tracing::info;

/// authsense: perimeter mail authentication (SPF) stamped as
/// X-Agari-Authentication-Results, for Postfix and Sendmail.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the milter protocol to Postfix/Sendmail: evaluate SPF, delete
    /// forged authentication headers, stamp X-Agari-Authentication-Results.
    ///
    /// Postfix: smtpd_milters = inet:127.0.0.1:8891 (and milter_default_action = accept
    /// if mail must flow while authsense is down).
    Milter(MilterArgs),
    /// Print the header(s) the milter would stamp for a client, HELO name and
    /// sender, without sending mail (uses the same configuration and DNS).
    Check(CheckArgs),
}

/// Options shared by every command that evaluates.
#[derive(Debug, Args)]
pub struct CommonArgs {
    /// TOML configuration file (see examples/authsense.toml); flags override it.
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// authserv-id to stamp and to recognise forged headers by (default: this host's name).
    #[arg(long, value_name = "ID")]
    pub authserv_id: Option<String>,
    /// DNS server as IP or IP:PORT instead of /etc/resolv.conf (repeatable).
    #[arg(long = "nameserver", value_name = "IP:PORT", value_parser = config::parse_nameserver)]
    pub nameservers: Vec<SocketAddr>,
}

/// `authsense milter`.
#[derive(Debug, Args)]
pub struct MilterArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// Socket: inet:HOST:PORT, inet:PORT@HOST or unix:/path [default: inet:127.0.0.1:8891].
    #[arg(short, long, value_name = "SOCKET")]
    listen: Option<milter::listen::SocketSpec>,
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
}

impl CommonArgs {
    /// Loads the file (if any) and applies the flags.
    pub fn config(&self) -> Result<Config, String> {
        let mut cfg = match &self.config {
            Some(path) => Config::load(path).map_err(|e| e.to_string())?,
            None => Config::default(),
        };
        if let Some(id) = &self.authserv_id {
            cfg.milter.authserv_id = Some(id.clone());
        }
        if !self.nameservers.is_empty() {
            cfg.dns.nameservers = self.nameservers.clone();
        }
        Ok(cfg)
    }

    fn shared(&self, cfg: Config) -> Result<Arc<Shared>, String> {
        let auth = Authenticator::new(&cfg.dns)?;
        Ok(Arc::new(Shared::new(cfg.milter, auth)))
    }
}

/// `authsense milter`: runs until SIGTERM or SIGINT.
pub async fn milter(args: MilterArgs) -> Result<(), String> {
    let mut cfg = args.common.config()?;
    if let Some(l) = args.listen {
        cfg.milter.listen = l;
    }
    let spec = cfg.milter.listen.clone();
    let listener = MilterListener::bind(&spec, cfg.milter.socket_mode)
        .await
        .map_err(|e| format!("cannot listen on {spec}: {e}"))?;
    let shared = args.common.shared(cfg)?;
    info!(listen = %spec, authserv_id = %shared.authserv_id, mode = ?shared.config.mode, "authsense milter started");
    milter::run(listener, shared, shutdown_signal())
        .await
        .map_err(|e| format!("milter stopped: {e}"))?;
    if let milter::listen::SocketSpec::Unix(path) = &spec {
        let _ = std::fs::remove_file(path);
    }
    info!("authsense milter stopped");
    Ok(())
}

/// `authsense check`: prints what the milter would stamp.
pub async fn check(args: CheckArgs) -> Result<(), String> {
    let cfg = args.common.config()?;
    let shared = args.common.shared(cfg)?;
    let mut s = Session::connect(shared, String::new(), Some(args.ip));
    s.helo(&args.helo);
    let from = if args.from == "<>" {
        ""
    } else {
        args.from.as_str()
    };
    if let milter::session::MailDecision::Reject(text) = s.mail(from, None).await {
        println!("550 5.7.23 {text}");
        return Ok(());
    }
    let plan = s.eom(None);
    if plan.inserts.is_empty() {
        println!("(no stamp: this client is not stamped by the configuration — trusted network or downstream mode)");
    }
    for (name, value) in plan.inserts {
        println!("{name}: {value}");
    }
    Ok(())
}

async fn shutdown_signal() {
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
