//! Live reload on SIGHUP (`systemctl reload`, logrotate's habit): the
//! configuration file is read again with the command line's flags applied
//! as at start, checked the same way start-up checks it, and only if all
//! of it is valid are the new settings swapped in ([`crate::swap::Swap`]):
//!
//! - milter: trusted networks, methods, DNS (a new resolver), policy
//!   options, authserv-id, seal and ARC keys; each new connection takes the
//!   new settings, and each new message on an open connection when they fit
//!   what it negotiated ([`crate::milter::session::Negotiated`]);
//! - sensor: allow list, trusted and sealed authserv-ids, sealed gateways,
//!   journal sources, `[analysis]`, per-session limits, the TLS
//!   certificate and key (read again: a renewed certificate is used by new
//!   STARTTLS sessions), `[alerts]` (the alert tasks are restarted when
//!   their settings change); taken per connection, EHLO and transaction;
//! - web: the token and allowed hosts, checked per request.
//!
//! A message in progress finishes with the settings it started with. A
//! configuration that does not load or validate is refused with one log
//! line naming the problem (the key and line, from the parser), and the
//! running one stays in force. Settings bound or opened at start
//! ([`RESTART_NEEDED`]) are compared with the ones the process started
//! with and, if changed, named in a warning: they need a restart.
//! Reloads are counted in `authsense_config_reloads_total{result}`.

pub mod diff;

use crate::config::Config;
use crate::milter::{Live, Shared};
use crate::sensor::{setup, Sensor};
use crate::swap::Swap;
use crate::web::Access;
use diff::Parts;
use std::{net::SocketAddr, sync::Arc};
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::{sync::watch, task::JoinHandle};
use tracing::{error, info, warn};

/// The settings a reload cannot change, for `--help`.
pub const RESTART_NEEDED: &str = "\
Reload: SIGHUP (systemctl reload) reads the configuration file again, flags applied, and \
swaps it in if all of it is valid, without dropping a connection; an invalid file is refused \
and the running configuration stays. These settings change only with a restart: \
milter.listen, milter.socket_*, milter.max_connections, sensor.listen, sensor.max_sessions, \
sensor.spool_mb, [store], web.listen, web.enabled, [export], [process].";

/// Reads the configuration as at start-up: the file, then the flags.
pub type Loader = Box<dyn Fn() -> Result<Config, String> + Send>;

/// What a reload swaps settings into.
#[derive(Default)]
pub struct Targets {
    /// The milter's settings.
    pub milter: Option<Arc<Live>>,
    /// The sensor.
    pub sensor: Option<Arc<Sensor>>,
    /// The web UI's access rules, and the address it is bound to.
    pub web: Option<(Arc<Swap<Access>>, SocketAddr)>,
}

/// What a reload changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Keys now in force with their new values (and files read again
    /// whose contents changed).
    pub changed: Vec<String>,
    /// Keys that differ from the ones the process started with but change
    /// only with a restart.
    pub restart_needed: Vec<String>,
}

/// Reloads the configuration into the running parts.
pub struct Reloader {
    load: Loader,
    started: Config,
    current: Config,
    files: Vec<(&'static str, Option<[u8; 32]>)>,
    targets: Targets,
    alerts: Option<crate::alerts::Running>,
}

impl Reloader {
    /// A reloader for `targets`, which run with `current` (as `load`
    /// returned it at start) and, for a sensor, the alert tasks `alerts`.
    pub fn new(
        load: Loader,
        current: Config,
        targets: Targets,
        alerts: Option<crate::alerts::Running>,
    ) -> Self {
        Reloader {
            load,
            files: diff::file_digests(&current),
            started: current.clone(),
            current,
            targets,
            alerts,
        }
    }

    /// The alert tasks in force (to finish them when the sensor stops).
    pub fn into_alerts(self) -> Option<crate::alerts::Running> {
        self.alerts
    }

    fn parts(&self) -> Parts {
        Parts {
            milter: self.targets.milter.is_some(),
            sensor: self.targets.sensor.is_some(),
        }
    }

    /// Reads the configuration again and puts it in force if it is valid;
    /// logs and counts the outcome.
    ///
    /// # Errors
    /// The configuration was refused (the message says why); the running
    /// one stays in force.
    pub fn reload(&mut self) -> Result<Report, String> {
        match self.try_reload() {
            Ok(report) => {
                metrics::counter!(crate::metrics::CONFIG_RELOADS, "result" => "ok").increment(1);
                let changed = list(&report.changed);
                if !report.restart_needed.is_empty() {
                    warn!(keys = %list(&report.restart_needed), "changed settings not in force: they need a restart");
                }
                info!(changed = %changed, "configuration reloaded");
                Ok(report)
            }
            Err(e) => {
                let e = one_line(&e);
                metrics::counter!(crate::metrics::CONFIG_RELOADS, "result" => "refused")
                    .increment(1);
                error!(error = %e, "configuration refused; the running configuration stays in force");
                Err(e)
            }
        }
    }

    fn try_reload(&mut self) -> Result<Report, String> {
        let new = (self.load)()?;
        // Everything is built and checked before anything is swapped; the
        // sensor last, as it may start alert tasks.
        let milter = match &self.targets.milter {
            Some(_) => Some(Arc::new(Shared::from_config(&new)?)),
            None => None,
        };
        let web = self
            .targets
            .web
            .as_ref()
            .map(|(_, a)| Access::new(&new.web, *a));
        let sensor = match &self.targets.sensor {
            Some(s) => Some(setup::reload(&new, s)?),
            None => None,
        };
        let parts = self.parts();
        let files = diff::file_digests(&new);
        let mut changed: Vec<String> = diff::changed_keys(&self.current, &new);
        changed.extend(diff::changed_files(&self.files, &files, &changed));
        changed.retain(|k| parts.uses(k) && !diff::restart_only(k));
        // Compared with the start: named again at every reload until a
        // restart puts them in force.
        let mut restart_needed = diff::changed_keys(&self.started, &new);
        restart_needed.retain(|k| parts.uses(k) && diff::restart_only(k));
        if let (Some(live), Some(shared)) = (&self.targets.milter, milter) {
            live.store(shared);
        }
        if let (Some((swap, _)), Some(access)) = (&self.targets.web, web) {
            swap.store(Arc::new(access));
        }
        if let (Some(s), Some(r)) = (&self.targets.sensor, sensor) {
            s.replace(r.settings);
            if let Some(started) = r.started {
                if let Some(old) = std::mem::replace(&mut self.alerts, started) {
                    old.retire();
                }
                info!(
                    alerts = self.alerts.is_some(),
                    "alert tasks restarted with the new [alerts] settings"
                );
            }
        }
        self.current = new;
        self.files = files;
        Ok(Report {
            changed,
            restart_needed,
        })
    }
}

/// `a, b, c`, or `nothing`.
fn list(keys: &[String]) -> String {
    if keys.is_empty() {
        "nothing".to_string()
    } else {
        keys.join(", ")
    }
}

/// A multi-line error (the TOML parser shows the offending line with a
/// caret under it) as one log line: the messages, and of the source
/// excerpt only the key it names (never the value, which may be a secret).
pub fn one_line(e: &str) -> String {
    let mut parts = Vec::new();
    for line in e.lines() {
        let t = line.trim();
        let after_number = t.trim_start_matches(|c: char| c.is_ascii_digit());
        let excerpt = after_number.trim_start().strip_prefix('|');
        match excerpt {
            // `3 | key = value`: the key.
            Some(src) if after_number.len() < t.len() => {
                if let Some((key, _)) = src.split_once('=') {
                    parts.push(format!("key `{}`", key.trim()));
                }
            }
            // `|` and `| ^^^` lines.
            Some(_) => {}
            None if t.is_empty() => {}
            None => parts.push(t.to_string()),
        }
    }
    parts.join(": ")
}

/// Starts listening for SIGHUP. Call it first thing: from then on SIGHUP no
/// longer ends the process, even before the reloader runs.
///
/// # Errors
/// The signal handler cannot be installed.
pub fn hangups() -> Result<Signal, String> {
    signal(SignalKind::hangup()).map_err(|e| format!("cannot handle SIGHUP: {e}"))
}

/// Reloads on every SIGHUP in `hup` until `stop` flips to `true` (or its
/// sender is gone); returns the reloader.
pub fn spawn(
    mut reloader: Reloader,
    mut hup: Signal,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<Reloader> {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                got = hup.recv() => {
                    if got.is_none() {
                        break;
                    }
                    info!("SIGHUP: reloading the configuration");
                    let _ = reloader.reload();
                }
                _ = stop.wait_for(|v| *v) => break,
            }
        }
        reloader
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn errors_on_one_line() {
        let e = "/etc/a.toml: TOML parse error at line 3, column 1\n  |\n3 | bogus = 1\n  | ^^^^^\nunknown field `bogus`, expected one of `listen`\n";
        assert_eq!(
            super::one_line(e),
            "/etc/a.toml: TOML parse error at line 3, column 1: key `bogus`: unknown field `bogus`, expected one of `listen`"
        );
        let secret = "TOML parse error at line 2, column 9\n  |\n2 | token = \"a b\"\n  |         ^^^^^\nweb.token must be non-empty and without whitespace\n";
        let one = super::one_line(secret);
        assert_eq!(
            one,
            "TOML parse error at line 2, column 9: key `token`: web.token must be non-empty and without whitespace"
        );
        assert_eq!(
            super::one_line("cannot read x: No such file"),
            "cannot read x: No such file"
        );
    }
}
