//! `null_milter`: a milter that evaluates nothing, for `bench/milter` to
//! measure what the milter protocol itself costs an MTA (the floor that no
//! milter can go below on the same machine).
//!
//! - `--events none`: only end of message is requested (every other step is
//!   negotiated away with SMFIP_NO*); it accepts without changing anything.
//! - `--events authsense`: the same steps, no-reply options and answers as
//!   `authsense milter` with only SPF (connect, HELO, MAIL answered, each
//!   header, end of message), the same socket handling (authsense's own
//!   listener: TCP_NODELAY, TCP_QUICKACK), and one fixed header inserted at
//!   the top, but no SPF, no DNS and no header inspection.
//!
//! ```text
//! cargo run --release --example null_milter -- --listen unix:/tmp/null.sock --events authsense
//! ```

use authsense::milter::listen::{MilterListener, SocketSpec};
use clap::{Parser, ValueEnum};
use indymilter::{Actions, Callbacks, ContextActions, ProtoOpts, Status};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Events {
    /// End of message only.
    None,
    /// authsense's steps and answers (SPF only), without the work.
    Authsense,
}

#[derive(Parser, Debug)]
#[command(about = "A milter that does nothing (benchmark floor)")]
struct Args {
    /// inet:HOST:PORT or unix:PATH, as in authsense's `[milter] listen`.
    #[arg(long)]
    listen: SocketSpec,
    #[arg(long, value_enum, default_value = "authsense")]
    events: Events,
    /// Experiment (with `--events authsense`): do not answer MAIL either.
    #[arg(long)]
    noreply_mail: bool,
    /// Experiment (with `--events authsense`): skip connect (the client
    /// address would come from the `{client_addr}` macro at MAIL).
    #[arg(long)]
    no_connect: bool,
}

const NOREPLY: ProtoOpts = ProtoOpts::NOREPLY_CONNECT
    .union(ProtoOpts::NOREPLY_HELO)
    .union(ProtoOpts::NOREPLY_HEADER);
const SKIPPED: ProtoOpts = ProtoOpts::NO_RCPT
    .union(ProtoOpts::NO_DATA)
    .union(ProtoOpts::NO_BODY);

fn authsense_like(args: &Args) -> Callbacks<()> {
    let mut want = NOREPLY | SKIPPED | ProtoOpts::LEADING_SPACE;
    if args.noreply_mail {
        want |= ProtoOpts::NOREPLY_MAIL;
    }
    if args.no_connect {
        want |= ProtoOpts::NO_CONNECT;
    }
    let mail = if args.noreply_mail {
        Status::Noreply
    } else {
        Status::Continue
    };
    Callbacks::new()
        .on_negotiate(move |cx, _, mta_opts| {
            let opts = mta_opts & want;
            Box::pin(async move {
                cx.requested_actions |= Actions::ADD_HEADER | Actions::CHANGE_HEADER;
                cx.requested_opts |= opts;
                Status::Continue
            })
        })
        .on_connect(|_, _, _| Box::pin(async { Status::Noreply }))
        .on_helo(|_, _| Box::pin(async { Status::Noreply }))
        .on_mail(move |_, _| Box::pin(async move { mail }))
        .on_header(|_, _, _| Box::pin(async { Status::Noreply }))
        .on_eom(|cx| {
            Box::pin(async move {
                let _ = cx.actions.insert_header(0, "X-Null-Milter", " seen").await;
                Status::Accept
            })
        })
}

fn eom_only() -> Callbacks<()> {
    Callbacks::new().on_eom(|_| Box::pin(async { Status::Accept }))
}

fn main() -> std::io::Result<()> {
    let args = Args::parse();
    // One thread, as `authsense milter` runs.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let listener = MilterListener::bind(&args.listen, 0o666).await?;
        let callbacks = match args.events {
            Events::None => eom_only(),
            Events::Authsense => authsense_like(&args),
        };
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        indymilter::run(listener, callbacks, Default::default(), shutdown).await
    })
}
