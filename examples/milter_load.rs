//! `milter_load`: a load generator that speaks the milter protocol itself
//! (the MTA's side, through `indymilter-test`) to any milter: authsense or
//! a peer. `bench/milter-direct` runs it; see BENCHMARKS.md.
//!
//! Every message is one milter connection, as Postfix opens one per SMTP
//! session: option negotiation, connect (client IP and host), HELO, MAIL,
//! RCPT, DATA, the message's header fields, end of headers, the body in
//! 64 KiB chunks, end of message, close. Latency is measured from opening
//! the connection to the end-of-message reply, i.e. all the time an MTA
//! waits for this milter for one message. `--sessions` workers run at once,
//! `--messages` in all (bounded), after `--warmup` untimed messages.
//!
//! Each end-of-message answer is checked: it must be `continue`/`accept`,
//! and with `--expect-header NAME:SUBSTRING` the milter must add or insert a
//! header NAME whose value contains SUBSTRING. Any failure is counted and
//! makes the exit status 1.
//!
//! ```text
//! cargo run --release --example milter_load -- --tcp 127.0.0.1:25891 \
//!     --message msg.eml --client-ip 127.0.0.1 --helo mail.pass.lab.test \
//!     --from user@pass.lab.test --rcpt rcpt@dest.lab.test \
//!     --sessions 20 --messages 5000 --expect-header X-Agari-Authentication-Results:spf=pass
//! ```

use clap::Parser;
use indymilter_test::{EomAction, EomActions, MacroStage, ProtoOpts, Status, TestConnection};
use std::{
    net::IpAddr,
    path::PathBuf,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

#[derive(Parser, Debug, Clone)]
#[command(about = "Milter-protocol load generator (the MTA's side)")]
struct Args {
    /// Milter at HOST:PORT.
    #[arg(long, conflicts_with = "unix")]
    tcp: Option<String>,
    /// Milter at a unix socket path.
    #[arg(long)]
    unix: Option<PathBuf>,
    /// The message (RFC 5322, LF or CRLF line ends) sent every time.
    #[arg(long)]
    message: PathBuf,
    #[arg(long, default_value = "127.0.0.1")]
    client_ip: IpAddr,
    #[arg(long, default_value = "client.lab.test")]
    client_name: String,
    #[arg(long)]
    helo: String,
    #[arg(long)]
    from: String,
    #[arg(long)]
    rcpt: String,
    /// Concurrent connections.
    #[arg(long, default_value_t = 1)]
    sessions: usize,
    /// Timed messages in all.
    #[arg(long, default_value_t = 1000)]
    messages: usize,
    /// Untimed messages first (warms DNS caches and the milter).
    #[arg(long, default_value_t = 20)]
    warmup: usize,
    /// NAME:SUBSTRING a header the milter must add at end of message.
    #[arg(long)]
    expect_header: Option<String>,
    /// Per-reply timeout in seconds.
    #[arg(long, default_value_t = 30)]
    timeout: u64,
    /// Print one machine-readable line (`key=value ...`) instead of prose.
    #[arg(long)]
    kv: bool,
}

/// The message split as an MTA hands it to a milter.
struct Message {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn parse_message(raw: &[u8]) -> Message {
    let text = String::from_utf8_lossy(raw).replace("\r\n", "\n");
    let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = headers.last_mut() {
                v.push('\n');
                v.push_str(line);
            }
        } else if let Some((n, v)) = line.split_once(':') {
            headers.push((n.to_string(), v.trim_start().to_string()));
        }
    }
    Message {
        headers,
        body: body.replace('\n', "\r\n").into_bytes(),
    }
}

/// A reply that lets the message go on, or the step's name and the reply.
fn expect(step: &str, status: Status) -> Result<(), String> {
    match status {
        Status::Continue | Status::Accept | Status::Noreply => Ok(()),
        other => Err(format!("{step}: milter answered {other:?}")),
    }
}

/// One message over one new connection; `Err` names what went wrong.
async fn one(args: &Args, msg: &Message, n: usize) -> Result<(), String> {
    let t = Duration::from_secs(args.timeout);
    let b = TestConnection::configure().read_timeout(t).write_timeout(t);
    let mut c = match (&args.tcp, &args.unix) {
        (Some(a), _) => b.open_tcp(a.as_str()).await,
        (None, Some(p)) => b.open_unix(p).await,
        _ => return Err("give --tcp or --unix".into()),
    }
    .map_err(|e| format!("open: {e}"))?;
    let e = |step: &str, err: indymilter_test::TestError| format!("{step}: {err}");
    let macros = [("j", "mx.lab.test"), ("{daemon_name}", "bench")];
    c.macros(MacroStage::Connect, macros)
        .await
        .map_err(|x| e("macros", x))?;
    // Steps the milter opted out of at negotiation are not sent, as an MTA
    // does (authsense, for one, asks for no end-of-headers).
    let opts = c.negotiated_opts();
    let wants = |o: ProtoOpts| !opts.contains(o);
    if wants(ProtoOpts::NO_CONNECT) {
        let port = 40000 + (n % 20000) as u16;
        let s = c
            .connect(args.client_name.as_str(), (args.client_ip, port))
            .await;
        expect("connect", s.map_err(|x| e("connect", x))?)?;
    }
    if wants(ProtoOpts::NO_HELO) {
        let s = c.helo(args.helo.as_str()).await;
        expect("helo", s.map_err(|x| e("helo", x))?)?;
    }
    let qid = format!("B{n:08X}");
    let mail_macros = [("i", qid.as_str()), ("{mail_addr}", args.from.as_str())];
    c.macros(MacroStage::Mail, mail_macros)
        .await
        .map_err(|x| e("macros", x))?;
    if wants(ProtoOpts::NO_MAIL) {
        let s = c.mail([format!("<{}>", args.from)]).await;
        expect("mail", s.map_err(|x| e("mail", x))?)?;
    }
    if wants(ProtoOpts::NO_RCPT) {
        let s = c.rcpt([format!("<{}>", args.rcpt)]).await;
        expect("rcpt", s.map_err(|x| e("rcpt", x))?)?;
    }
    if wants(ProtoOpts::NO_DATA) {
        expect("data", c.data().await.map_err(|x| e("data", x))?)?;
    }
    if wants(ProtoOpts::NO_HEADER) {
        for (name, value) in &msg.headers {
            let s = c.header(name.as_str(), value.as_str()).await;
            expect("header", s.map_err(|x| e("header", x))?)?;
        }
    }
    if wants(ProtoOpts::NO_EOH) {
        expect("eoh", c.eoh().await.map_err(|x| e("eoh", x))?)?;
    }
    if wants(ProtoOpts::NO_BODY) {
        for chunk in msg.body.chunks(65535) {
            let s = c.body(chunk.to_vec()).await.map_err(|x| e("body", x))?;
            if matches!(s, Status::Skip) {
                break;
            }
            expect("body", s)?;
        }
    }
    let (actions, s) = c.eom().await.map_err(|x| e("eom", x))?;
    expect("eom", s)?;
    if let Some(spec) = &args.expect_header {
        check_header(&actions, spec)?;
    }
    c.close().await.map_err(|x| e("close", x))?;
    Ok(())
}

fn check_header(actions: &EomActions, spec: &str) -> Result<(), String> {
    let (want, sub) = spec.split_once(':').unwrap_or((spec, ""));
    let found = actions.actions.iter().any(|a| match a {
        EomAction::AddHeader { name, value } | EomAction::InsertHeader { name, value, .. } => {
            name.to_string_lossy().eq_ignore_ascii_case(want)
                && value.to_string_lossy().contains(sub)
        }
        _ => false,
    });
    found
        .then_some(())
        .ok_or_else(|| format!("no {want} header containing {sub:?} at end of message"))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Runs `total` messages with `args.sessions` workers; latencies and failures.
async fn run(args: Arc<Args>, msg: Arc<Message>, total: usize) -> (Vec<Duration>, Vec<String>) {
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..args.sessions.max(1) {
        let (args, msg, next) = (args.clone(), msg.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let (mut lat, mut errs) = (Vec::new(), Vec::new());
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= total {
                    break;
                }
                let t0 = Instant::now();
                match one(&args, &msg, n).await {
                    Ok(()) => lat.push(t0.elapsed()),
                    Err(e) => errs.push(e),
                }
            }
            (lat, errs)
        }));
    }
    let (mut lat, mut errs) = (Vec::new(), Vec::new());
    for t in tasks {
        let (l, e) = t.await.expect("worker panicked");
        lat.extend(l);
        errs.extend(e);
    }
    (lat, errs)
}

#[tokio::main]
async fn main() {
    let args = Arc::new(Args::parse());
    let raw = std::fs::read(&args.message).unwrap_or_else(|e| {
        eprintln!("milter_load: cannot read {}: {e}", args.message.display());
        std::process::exit(2)
    });
    let msg = Arc::new(parse_message(&raw));
    let (_, warm_errs) = run(args.clone(), msg.clone(), args.warmup).await;
    let t0 = Instant::now();
    let (mut lat, errs) = run(args.clone(), msg, args.messages).await;
    let wall = t0.elapsed();
    lat.sort();
    let failures = errs.len() + warm_errs.len();
    if let Some(e) = errs.first().or(warm_errs.first()) {
        eprintln!("milter_load: {failures} failed message(s); first: {e}");
    }
    if lat.is_empty() {
        eprintln!("milter_load: no message succeeded");
        std::process::exit(1);
    }
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let rate = lat.len() as f64 / wall.as_secs_f64();
    let (p50, p99, max) = (
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        lat[lat.len() - 1],
    );
    if args.kv {
        println!(
            "ok={} failed={} sessions={} wall_s={:.3} msg_per_s={:.1} p50_us={:.0} p99_us={:.0} max_us={:.0}",
            lat.len(), failures, args.sessions, wall.as_secs_f64(), rate, us(p50), us(p99), us(max)
        );
    } else {
        println!(
            "{} messages ({} failed) over {} sessions in {:.2} s: {:.0} msg/s; latency open→end-of-message p50 {:.0} µs, p99 {:.0} µs, max {:.0} µs",
            lat.len(), failures, args.sessions, wall.as_secs_f64(), rate, us(p50), us(p99), us(max)
        );
    }
    if failures > 0 {
        std::process::exit(1);
    }
}
