//! The `authsense` binary: parses the command line, sets up logging, builds
//! the runtime the command needs, runs it.

use authsense::cli::{self, Cli, Command};
use clap::Parser;
use std::{
    io::{self, Write},
    process::ExitCode,
};

fn main() -> ExitCode {
    let cli = Cli::parse();
    cli::logging::init(&cli);
    // The milter alone runs on one thread: its work per message is small,
    // and waking workers across cores cost more than the work itself
    // (context switches taken straight from the MTA; see BENCHMARKS.md).
    // The sensor parses large copies on the blocking pool.
    let runtime = match cli.command {
        Command::Milter(_)
        | Command::Check(_)
        | Command::CheckConfig(_)
        | Command::Messages(_)
        | Command::Status(_)
        | Command::Export(_)
        | Command::PostfixConfig(_)
        | Command::Keygen(_) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        // One async worker per CPU (`TOKIO_WORKER_THREADS` overrides). One
        // worker fewer than the CPUs took less CPU per small copy, but
        // stored large copies more slowly (BENCHMARKS.md).
        Command::Run(_) | Command::Sensor(_) => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build(),
    };
    let runtime = match runtime {
        Ok(rt) => rt,
        Err(e) => {
            let _ = writeln!(
                io::stderr(),
                "authsense: cannot start the async runtime: {e}"
            );
            return ExitCode::from(2);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Run(a) => cli::run(a).await,
            Command::Milter(a) => cli::milter(a).await,
            Command::Sensor(a) => cli::sensor(a).await,
            Command::Messages(a) => cli::messages(a).await,
            Command::Status(a) => cli::status(a).await,
            Command::Export(a) => cli::export(a).await,
            Command::Check(a) => cli::check(a).await,
            Command::CheckConfig(a) => cli::check_config(a),
            Command::PostfixConfig(a) => cli::postfix_config(a),
            Command::Keygen(a) => cli::keygen(a),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(io::stderr(), "authsense: {e}");
            ExitCode::from(2)
        }
    }
}
