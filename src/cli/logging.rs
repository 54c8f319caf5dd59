//! Logging set up before a command runs: text or JSON lines on standard
//! error, the level from `RUST_LOG` (default `info`), and no timestamps of
//! our own under systemd's journal (`JOURNAL_STREAM` set), which stamps
//! every line itself.

use super::{Cli, Command};
use crate::config::LogFormat;
use std::io::{self, IsTerminal, Write};
use std::path::Path;

impl Cli {
    /// The configuration file this command reads, if it names one.
    pub fn config_path(&self) -> Option<&Path> {
        match &self.command {
            Command::Run(a) => a.common.config.as_deref(),
            Command::Milter(a) => a.common.config.as_deref(),
            Command::Sensor(a) => a.common.config.as_deref(),
            Command::Check(a) => a.common.config.as_deref(),
            Command::Messages(a) => a.config.as_deref(),
            Command::Status(a) => a.config.as_deref(),
            Command::CheckConfig(a) => a.config.as_deref(),
            Command::Export(a) => a.config_path(),
            Command::PostfixConfig(_) | Command::Keygen(_) => None,
        }
    }

    /// `--log-format`, else the configuration's `[process] log_format`
    /// (a configuration that does not load is reported by the command).
    fn log_format(&self) -> LogFormat {
        if let Some(f) = self.log_format {
            return f;
        }
        super::load(self.config_path())
            .map(|c| c.process.log_format)
            .unwrap_or_default()
    }
}

/// Installs the subscriber for `cli`.
pub fn init(cli: &Cli) {
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let journal = std::env::var_os("JOURNAL_STREAM").is_some();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| LogWriter)
        .with_ansi(io::stderr().is_terminal() && !journal);
    match (cli.log_format(), journal) {
        (LogFormat::Json, _) => builder.json().init(),
        (LogFormat::Text, true) => builder.without_time().init(),
        (LogFormat::Text, false) => builder.init(),
    }
}

/// Standard error for log lines, ignoring write errors: a closed or full
/// stderr (the supervisor's pipe gone) must not stop a daemon that is
/// storing mail. `tracing-subscriber` reports a failed write with
/// `eprintln!`, which panics on a closed pipe, so the error never reaches it.
struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let _ = io::stderr().write_all(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        let _ = io::stderr().flush();
        Ok(())
    }
}
