//! `authsense milter` and `authsense check`.

use super::{shutdown_signal, CheckArgs, MilterArgs};
use crate::milter::{self, listen::MilterListener, session::Session};
use tracing::info;

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
    let shared = args.common.shared(&cfg)?;
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
    let plan = s.eom(None).await;
    if plan.inserts.is_empty() {
        println!("(no stamp: this client is not stamped by the configuration — trusted network or downstream mode)");
    }
    for (name, value) in plan.inserts {
        println!("{name}: {value}");
    }
    Ok(())
}
