//! The `authsense` binary: parses the command line, sets up logging, runs.

use authsense::cli::{self, Cli, Command};
use clap::Parser;
use std::{io::IsTerminal, process::ExitCode};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let result = match cli.command {
        Command::Run(a) => cli::run(a).await,
        Command::Milter(a) => cli::milter(a).await,
        Command::Sensor(a) => cli::sensor(a).await,
        Command::Messages(a) => cli::messages(a).await,
        Command::Check(a) => cli::check(a).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("authsense: {e}");
            ExitCode::from(2)
        }
    }
}
