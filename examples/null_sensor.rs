//! `null_sensor`: an SMTP sink built like `authsense sensor` that does none
//! of the sensor's work, for `bench/sensor` to measure what the server's
//! own shape costs on this machine (the floor under the sensor, as
//! `null_milter` is the floor under the milter).
//!
//! It has the sensor's runtime (Tokio, one worker per CPU unless
//! `TOKIO_WORKER_THREADS` says otherwise), its accept loop on the workers
//! with TCP_NODELAY, its framing ([`authsense::sensor::conn::Conn`]: reply
//! buffering, command line limit, DATA with dot-unstuffing into memory) and
//! its command parser (`smtp-proto`). It answers every command the way the
//! sensor answers a well-formed one, and throws each message away: no
//! parsing, no extraction, no analysis, no store, no commit.
//!
//! On SIGUSR1 it writes the number of messages it has answered 250 to
//! `--count-file` (so `bench/sensor` can check that none was lost).
//!
//! ```text
//! cargo run --release --example null_sensor -- --listen 127.0.0.1:2525 --count-file /tmp/null.count
//! ```

use authsense::sensor::conn::{Conn, Line};
use clap::Parser;
use smtp_proto::Request;
use std::sync::atomic::{AtomicU64, Ordering};
use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

#[derive(Parser, Debug)]
#[command(
    about = "An SMTP sink shaped like authsense sensor, doing none of its work (benchmark floor)"
)]
struct Args {
    /// Address to listen on.
    #[arg(long)]
    listen: SocketAddr,
    /// Where SIGUSR1 writes the count of messages answered 250.
    #[arg(long)]
    count_file: Option<PathBuf>,
}

/// Messages answered 250 since the start.
static ANSWERED: AtomicU64 = AtomicU64::new(0);

/// The sensor's defaults: 64 MiB per message, 300 s per command, 180 s per
/// DATA read.
const MAX_MESSAGE: usize = 64 << 20;
const COMMAND_TIMEOUT: Duration = Duration::from_secs(300);
const DATA_TIMEOUT: Duration = Duration::from_secs(180);

fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let listener = TcpListener::bind(args.listen).await?;
        let accept = tokio::spawn(async move {
            // The sensor's spool: memory for messages being received, in KiB.
            let spool = Arc::new(Semaphore::new(64 << 10));
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                };
                let _ = stream.set_nodelay(true);
                tokio::spawn(session(stream, spool.clone()));
            }
        });
        let mut usr1 =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::user_defined1())?;
        tokio::pin!(accept);
        loop {
            tokio::select! {
                _ = &mut accept => return Ok(()),
                _ = tokio::signal::ctrl_c() => return Ok(()),
                _ = usr1.recv() => {
                    if let Some(path) = &args.count_file {
                        let n = ANSWERED.load(Ordering::SeqCst);
                        std::fs::write(path, format!("{n}\n"))?;
                    }
                }
            }
        }
    })
}

async fn session(stream: TcpStream, spool: Arc<Semaphore>) -> std::io::Result<()> {
    let mut conn = Conn::new(stream);
    conn.reply("220 null.sensor ESMTP").await?;
    loop {
        let line = match conn.read_line(COMMAND_TIMEOUT).await? {
            Line::Ok(line) => line,
            Line::TooLong => {
                conn.reply("500 5.5.2 Line too long").await?;
                continue;
            }
        };
        match Request::parse(&mut line.iter()) {
            Ok(Request::Ehlo { .. }) => {
                for l in [
                    "250-null.sensor",
                    "250-PIPELINING",
                    "250-SIZE 67108864",
                    "250-8BITMIME",
                    "250-ENHANCEDSTATUSCODES",
                    "250 SMTPUTF8",
                ] {
                    conn.reply(l).await?;
                }
            }
            Ok(Request::Helo { .. }) => conn.reply("250 null.sensor").await?,
            Ok(Request::Mail { .. }) => conn.reply("250 2.1.0 Ok").await?,
            Ok(Request::Rcpt { .. }) => conn.reply("250 2.1.5 Ok").await?,
            Ok(Request::Data) => {
                conn.reply("354 End data with <CR><LF>.<CR><LF>").await?;
                conn.flush().await?;
                let data = conn
                    .read_data(MAX_MESSAGE, &spool, None, DATA_TIMEOUT, 0)
                    .await?;
                let n = ANSWERED.fetch_add(1, Ordering::SeqCst) + 1;
                let reply = format!("250 2.0.0 Ok: discarded {n} ({} bytes)", data.bytes.len());
                conn.reply(&reply).await?;
            }
            Ok(Request::Quit) => {
                conn.reply("221 2.0.0 Bye").await?;
                return conn.flush().await;
            }
            Ok(_) => conn.reply("250 2.0.0 Ok").await?,
            Err(_) => conn.reply("500 5.5.2 Syntax error").await?,
        }
    }
}
