//! `authsense milter` and `authsense check`.

use super::{shutdown_signal, CheckArgs, MilterArgs};
use crate::config::Config;
use crate::milter::{self, listen::MilterListener, session::Session};
use crate::reload::{self, Reloader, Targets};
use std::sync::Arc;
use tracing::info;

/// The milter's configuration: the file, then the flags (also on reload).
fn milter_config(args: &MilterArgs) -> Result<Config, String> {
    let mut cfg = args.common.config()?;
    if let Some(l) = &args.listen {
        cfg.milter.listen = l.clone();
    }
    Ok(cfg)
}

/// `authsense milter`: runs until SIGTERM or SIGINT; SIGHUP reloads the
/// configuration ([`crate::reload`]).
pub async fn milter(args: MilterArgs) -> Result<(), String> {
    let hup = reload::hangups()?;
    let cfg = milter_config(&args)?;
    let spec = cfg.milter.listen.clone();
    let listener = bind_milter(&cfg).await?;
    crate::process::drop_privileges(&cfg.process)?;
    let live = Arc::new(milter::Live::new(milter::Shared::from_config(&cfg)?));
    let (id, mode) = (live.load().authserv_id.clone(), live.load().config.mode);
    info!(listen = %spec, authserv_id = %id, ?mode, user = %crate::process::current_user(), "authsense milter started");
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let targets = Targets {
        milter: Some(live.clone()),
        ..Targets::default()
    };
    let load = Box::new(move || milter_config(&args));
    let reloading = reload::spawn(Reloader::new(load, cfg, targets, None), hup, stopped);
    crate::process::notify_ready();
    let served = milter::run_live(listener, live, shutdown_signal()).await;
    let _ = stop.send(true);
    let _ = reloading.await;
    served.map_err(|e| format!("milter stopped: {e}"))?;
    if let milter::listen::SocketSpec::Unix(path) = &spec {
        let _ = std::fs::remove_file(path);
    }
    info!("authsense milter stopped");
    Ok(())
}

/// Binds the milter's socket: a unix socket gets `socket_mode`, the
/// `[process] user` as owner and `socket_group` (else the user's group) so
/// that both we (after dropping root) and the MTA can use it.
///
/// # Errors
/// An unknown user or group, or the socket cannot be bound (or is in use).
pub(super) async fn bind_milter(cfg: &crate::config::Config) -> Result<MilterListener, String> {
    let spec = &cfg.milter.listen;
    let owner = crate::process::target(&cfg.process)?;
    let unix = matches!(spec, milter::listen::SocketSpec::Unix(_));
    let group = match &cfg.milter.socket_group {
        // Only a unix socket has a group: an inet milter on a host without
        // that group (no Postfix) must not fail over it.
        Some(_) if !unix => None,
        Some(g) => {
            Some(crate::process::group_id(g).map_err(|e| format!("[milter] socket_group: {e}"))?)
        }
        None => owner.map(|(_, gid)| gid),
    };
    MilterListener::bind_owned(
        spec,
        cfg.milter.socket_mode,
        owner.map(|(uid, _)| uid),
        group,
    )
    .await
    .map_err(|e| format!("cannot listen on {spec}: {e}"))
}

/// `authsense check`: prints what the milter would stamp. With `--message`
/// the message file's headers and body go through the milter's own path, so
/// DKIM, DMARC, ARC and iprev are evaluated too and the standard
/// Authentication-Results is printed with every method.
pub async fn check(args: CheckArgs) -> Result<(), String> {
    let mut cfg = args.common.config()?;
    let message = match &args.message {
        Some(path) => {
            let bytes = std::fs::read(path)
                .map_err(|e| format!("cannot read message {}: {e}", path.display()))?;
            cfg.milter.add_authentication_results = true;
            Some(bytes)
        }
        None => None,
    };
    let shared = args.common.shared(&cfg)?;
    let mut s = Session::new(shared);
    s.connect(String::new(), Some(args.ip));
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
    if let Some(bytes) = &message {
        let (headers, body) = split_message(bytes);
        for (name, value) in headers {
            s.header(&name, value.as_bytes());
        }
        s.body(&body);
    }
    let plan = s.eom(None).await;
    if plan.inserts.is_empty() {
        println!("(no stamp: this client is not stamped by the configuration — trusted network or downstream mode)");
    }
    for (name, value) in plan.inserts {
        println!("{name}: {value}");
    }
    Ok(())
}

/// Splits a message file (LF or CRLF) into `(name, value)` header pairs as
/// an MTA passes them to a milter (value after the colon, folded lines kept)
/// and a CRLF body.
fn split_message(bytes: &[u8]) -> (Vec<(String, String)>, Vec<u8>) {
    let text = String::from_utf8_lossy(bytes).replace("\r\n", "\n");
    let (head, body) = text.split_once("\n\n").unwrap_or((text.as_str(), ""));
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some(last) = headers.last_mut() {
                last.1.push('\n');
                last.1.push_str(line);
            }
        } else if let Some((n, v)) = line.split_once(':') {
            headers.push((n.to_string(), v.to_string()));
        }
    }
    (headers, body.replace('\n', "\r\n").into_bytes())
}
