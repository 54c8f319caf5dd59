//! `authsense check-config`: reads a configuration file as the milter and
//! the sensor would (as `postfix check`, `nginx -t`, `opendkim -n`), tries
//! what can be tried without starting anything — TLS certificate and key,
//! seal and ARC keys, the store path, the account to run as, the alert
//! relay settings — and prints what would listen where. Creates nothing.

use crate::config::{Config, StoreLocation};
use crate::store::Store;
use clap::Args;
use std::path::PathBuf;

/// `authsense check-config`.
#[derive(Debug, Args)]
pub struct CheckConfigArgs {
    /// Configuration file to check (default: /etc/authsense/authsense.toml
    /// when it exists, else the embedded defaults).
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// Checks the file; prints one line per finding on stdout.
///
/// # Errors
/// The file does not parse (the message names the key and the line), or
/// one of the checks failed (each is printed; the error counts them).
pub fn check_config(args: CheckConfigArgs) -> Result<(), String> {
    let name = match &args.config {
        Some(p) => p.display().to_string(),
        None if std::path::Path::new(super::DEFAULT_CONFIG).exists() => {
            super::DEFAULT_CONFIG.to_string()
        }
        None => "(embedded defaults)".to_string(),
    };
    let cfg = super::load(args.config.as_deref())?;
    println!("{name}: syntax and keys ok");
    let problems: Vec<String> = checks(&cfg)
        .into_iter()
        .filter_map(|(what, result)| match result {
            Ok(ok) => {
                println!("ok       {what}: {ok}");
                None
            }
            Err(e) => {
                println!("PROBLEM  {what}: {e}");
                Some(e)
            }
        })
        .collect();
    print_listeners(&cfg);
    match problems.len() {
        0 => Ok(()),
        1 => Err(format!("{name}: {}", problems[0])),
        n => Err(format!("{name}: {n} problems (listed above)")),
    }
}

type Check = (&'static str, Result<String, String>);

/// Every check, in the order an admin reads the file.
fn checks(cfg: &Config) -> Vec<Check> {
    vec![
        ("[process]", process(cfg)),
        ("[milter]", milter(cfg)),
        ("[seal] key_file", seal(cfg)),
        ("[sensor] tls", tls(cfg)),
        ("[sensor] trust", trust(cfg)),
        ("[store]", store(cfg)),
        ("[alerts]", alerts(cfg)),
    ]
}

fn process(cfg: &Config) -> Result<String, String> {
    match crate::process::target(&cfg.process)? {
        Some((uid, gid)) => Ok(format!("runs as uid {uid} gid {gid} after binding")),
        None => Ok("runs as the user that starts it".into()),
    }
}

fn milter(cfg: &Config) -> Result<String, String> {
    let unix = matches!(cfg.milter.listen, crate::config::SocketSpec::Unix(_));
    if let Some(g) = cfg.milter.socket_group.as_ref().filter(|_| unix) {
        crate::process::group_id(g).map_err(|e| format!("socket_group: {e}"))?;
    }
    let auth = crate::auth::Authenticator::new(&cfg.dns)?;
    let shared = crate::milter::Shared::new(cfg.milter.clone(), auth)?;
    let arc = match &cfg.milter.arc_seal {
        Some(a) => format!(", ARC key {} loaded", a.key.display()),
        None => String::new(),
    };
    Ok(format!("authserv-id {}{arc}", shared.authserv_id))
}

fn seal(cfg: &Config) -> Result<String, String> {
    match crate::headers::seal::Keys::load(cfg.seal.key_file.as_deref())? {
        Some(_) => Ok("key loaded".into()),
        None => Ok("none (`run` creates one next to the store)".into()),
    }
}

fn tls(cfg: &Config) -> Result<String, String> {
    let sc = &cfg.sensor;
    match (&sc.tls_cert, &sc.tls_key) {
        (Some(cert), Some(key)) => {
            crate::sensor::tls::from_files(cert, key)?;
            Ok(format!(
                "certificate {} and key {} load",
                cert.display(),
                key.display()
            ))
        }
        (None, None) if sc.self_signed => Ok("self-signed certificate made at start".into()),
        (None, None) if sc.require_tls => {
            Err("require_tls needs tls_cert/tls_key or self_signed".into())
        }
        (None, None) => Ok("no STARTTLS".into()),
        _ => Err("tls_cert and tls_key must be given together".into()),
    }
}

fn trust(cfg: &Config) -> Result<String, String> {
    let t = crate::sensor::setup::trust_options(cfg)?;
    Ok(format!(
        "trusted authserv-ids {:?}, sealed {:?}",
        t.trusted_authserv_ids, t.sealed_authserv_ids
    ))
}

fn store(cfg: &Config) -> Result<String, String> {
    let location = cfg.store.location();
    if let Some(problem) = Store::check_location(&location) {
        return Err(problem);
    }
    Ok(match location {
        StoreLocation::Sqlite(p) => format!("SQLite {} can be opened for writing", p.display()),
        StoreLocation::Postgres(_) => format!("{location} (PostgreSQL: not contacted)"),
    })
}

fn alerts(cfg: &Config) -> Result<String, String> {
    let a = &cfg.alerts;
    if a.relay.is_none() && a.to.is_empty() {
        return Ok("off".into());
    }
    if a.relay.is_none() || a.to.is_empty() {
        return Err("relay and to must be given together (alerts would be off)".into());
    }
    let key = crate::sensor::setup::alert_loop_key(cfg)?;
    crate::alerts::mail::Mailer::new(a, &crate::host_name(), key)?;
    Ok(format!("to {:?}", a.to))
}

/// What would listen where (and what cannot change without a restart).
fn print_listeners(cfg: &Config) {
    println!("milter   would listen on {}", cfg.milter.listen);
    println!("sensor   would listen on {}", cfg.sensor.listen);
    if cfg.web.enabled {
        println!("web      would listen on {}", cfg.web.listen);
    } else {
        println!("web      off");
    }
}
