//! indymilter callbacks: each pulls its arguments and macros out of the
//! milter context, hands them to the [`Session`] method of the same protocol
//! step, and turns the answer into a milter reply.
//!
//! Round trips cost latency on every message, so the MTA is told not to wait
//! for replies at connect, HELO, RCPT, each header and body chunk (protocol
//! v6 no-reply options, where the MTA offers them); the listener re-arms
//! TCP_QUICKACK after every read so the MTA's next small write never waits
//! for our ACK. RCPT and DATA are not sent at all, nor the body when only SPF
//! is evaluated (see [`wanted_opts`]). End of message is answered, and MAIL only
//! when its answer may depend on SPF (`reject_spf`, `on_error = tempfail`; see
//! [`super::evaluate::decides_at_mail`]): then it waits for SPF. Otherwise
//! MAIL needs no reply, SPF runs while the message arrives and is awaited at
//! end of message. Measured in Postfix with a do-nothing milter
//! (`bench/milter`, BENCHMARKS.md), the unanswered MAIL costs Postfix and the
//! milter one write and wake-up less per message.

use super::evaluate::{decides_at_mail, needs_message};
use super::session::{MailDecision, Negotiated, Session};
use super::{Live, Shared};
use indymilter::{
    Actions, CallbackFuture, Callbacks, Context, ContextActions, EomContext, MacroStage,
    NegotiateContext, ProtoOpts, SetErrorReply, SocketInfo, Status,
};
use std::{
    ffi::{CStr, CString},
    sync::Arc,
};
use tracing::{error, warn};

/// Per-connection data: the session and the protocol options in force.
pub struct Conn {
    session: Session,
    noreply: ProtoOpts,
    /// Header values arrive with their leading space (byte-exact for DKIM).
    leading_space: bool,
}

impl Conn {
    /// The status for a step whose reply the MTA may not expect.
    fn ack(&self, step: ProtoOpts) -> Status {
        if self.noreply.contains(step) {
            Status::Noreply
        } else {
            Status::Continue
        }
    }
}

fn text(s: &CStr) -> String {
    String::from_utf8_lossy(s.to_bytes()).into_owned()
}

const NOREPLY: ProtoOpts = ProtoOpts::NOREPLY_CONNECT
    .union(ProtoOpts::NOREPLY_HELO)
    .union(ProtoOpts::NOREPLY_RCPT)
    .union(ProtoOpts::NOREPLY_HEADER)
    .union(ProtoOpts::NOREPLY_BODY);

/// The steps that need no reply (MAIL too when its answer is always
/// "continue"), and the steps the MTA need not send at all: RCPT and DATA
/// (nothing is decided there), and the body when only SPF is evaluated. Each
/// skipped step is a write and a wake-up less per message, and DATA a whole
/// round trip (the seal needs the body: see [`crate::headers::seal`]). The
/// callbacks stay registered for MTAs that do not offer these options.
fn wanted_opts(shared: &Shared) -> (ProtoOpts, ProtoOpts) {
    let cfg = &shared.config;
    let mut noreply = NOREPLY;
    if !decides_at_mail(cfg) {
        noreply |= ProtoOpts::NOREPLY_MAIL;
    }
    let mut skipped = ProtoOpts::NO_RCPT | ProtoOpts::NO_DATA;
    if !needs_message(cfg) && shared.seal_keys.is_none() {
        skipped |= ProtoOpts::NO_BODY;
    }
    (noreply, skipped)
}

/// The callback table: each protocol step goes to the handler of its name.
/// A new connection takes the settings in force (`live`) at negotiate.
pub fn callbacks(live: Arc<Live>) -> Callbacks<Conn> {
    Callbacks::new()
        .on_negotiate(move |cx, _, mta| Box::pin(handle_negotiate(cx, live.clone(), mta)))
        .on_connect(|cx, host, socket| ready(handle_connect(cx, &host, socket)))
        .on_helo(|cx, name| ready(handle_helo(cx, &name)))
        .on_mail(|cx, args| Box::pin(handle_mail(cx, args)))
        .on_rcpt(|cx, _| ready(handle_rcpt(cx)))
        .on_data(|_| ready(Status::Continue))
        .on_header(|cx, name, value| ready(handle_header(cx, &name, &value)))
        .on_body(|cx, chunk| ready(handle_body(cx, &chunk)))
        .on_eom(|cx| Box::pin(handle_eom(cx)))
        .on_abort(|cx| ready(handle_abort(cx)))
}

/// A step answered at once, without waiting for anything.
fn ready<'a>(status: Status) -> CallbackFuture<'a> {
    Box::pin(std::future::ready(status))
}

/// Negotiate: a new MTA connection gets its session with the settings in
/// force; we take the no-reply and skip options they want among those the
/// MTA offers. What was agreed holds for the whole connection, so a later
/// reload applies to its next messages only if they fit it.
async fn handle_negotiate(
    cx: &mut NegotiateContext<Conn>,
    live: Arc<Live>,
    mta_opts: ProtoOpts,
) -> Status {
    let shared = live.load();
    let (noreply_wanted, skipped) = wanted_opts(&shared);
    let noreply = mta_opts & noreply_wanted;
    let skipped = mta_opts & skipped;
    let leading_space = mta_opts.contains(ProtoOpts::LEADING_SPACE);
    let negotiated = Negotiated {
        mail_unanswered: noreply.contains(ProtoOpts::NOREPLY_MAIL),
        body_skipped: skipped.contains(ProtoOpts::NO_BODY),
    };
    cx.data = Some(Conn {
        session: Session::with_live(shared, live, negotiated),
        noreply,
        leading_space,
    });
    let mut opts = noreply | skipped;
    if leading_space {
        opts |= ProtoOpts::LEADING_SPACE;
    }
    negotiate(cx, opts).await
}

fn handle_connect(cx: &mut Context<Conn>, hostname: &CStr, socket: SocketInfo) -> Status {
    let ip = match socket {
        SocketInfo::Inet(addr) => Some(addr.ip()),
        _ => None,
    };
    cx.data.as_mut().map_or(Status::Continue, |c| {
        c.session.connect(text(hostname), ip);
        c.ack(ProtoOpts::NOREPLY_CONNECT)
    })
}

fn handle_helo(cx: &mut Context<Conn>, name: &CStr) -> Status {
    cx.data.as_mut().map_or(Status::Continue, |c| {
        c.session.helo(&text(name));
        c.ack(ProtoOpts::NOREPLY_HELO)
    })
}

/// MAIL: SPF may decide here (`reject_spf`, `on_error = tempfail`).
async fn handle_mail(cx: &mut Context<Conn>, args: Vec<CString>) -> Status {
    let auth = cx.macros.get(c"{auth_authen}").map(text);
    let Some(c) = cx.data.as_mut() else {
        return Status::Continue;
    };
    let sender = args.first().map(|a| text(a)).unwrap_or_default();
    match c.session.mail(&sender, auth.as_deref()).await {
        MailDecision::Continue => c.ack(ProtoOpts::NOREPLY_MAIL),
        MailDecision::Tempfail => Status::Tempfail,
        MailDecision::Reject(msg) => {
            let msg = msg.replace('%', "%%");
            if let Err(e) = cx.reply.set_error_reply("550", Some("5.7.23"), [msg]) {
                warn!("cannot set reject reply: {e}");
            }
            Status::Reject
        }
    }
}

fn handle_rcpt(cx: &mut Context<Conn>) -> Status {
    cx.data
        .as_ref()
        .map_or(Status::Continue, |c| c.ack(ProtoOpts::NOREPLY_RCPT))
}

fn handle_header(cx: &mut Context<Conn>, name: &CStr, value: &CStr) -> Status {
    cx.data.as_mut().map_or(Status::Continue, |c| {
        let mut raw = Vec::with_capacity(value.to_bytes().len() + 1);
        if !c.leading_space {
            // Without SMFIP_HDR_LEADSPC the MTA drops the space after the
            // colon; put the usual one back.
            raw.push(b' ');
        }
        raw.extend_from_slice(value.to_bytes());
        c.session.header(&text(name), &raw);
        c.ack(ProtoOpts::NOREPLY_HEADER)
    })
}

fn handle_body(cx: &mut Context<Conn>, chunk: &[u8]) -> Status {
    cx.data.as_mut().map_or(Status::Continue, |c| {
        c.session.body(chunk);
        c.ack(ProtoOpts::NOREPLY_BODY)
    })
}

fn handle_abort(cx: &mut Context<Conn>) -> Status {
    if let Some(c) = cx.data.as_mut() {
        c.session.abort();
    }
    Status::Continue
}

async fn negotiate(cx: &mut NegotiateContext<Conn>, opts: ProtoOpts) -> Status {
    cx.requested_actions |= Actions::ADD_HEADER | Actions::CHANGE_HEADER;
    cx.requested_opts |= opts;
    cx.requested_macros
        .insert(MacroStage::Mail, c"{auth_authen} i".into());
    cx.requested_macros.insert(MacroStage::Eom, c"i".into());
    Status::Continue
}

/// End of message: delete the forgeries, insert the stamps (and seals).
async fn handle_eom(cx: &mut EomContext<Conn>) -> Status {
    let queue_id = cx.macros.get(c"i").map(text);
    let Some(c) = cx.data.as_mut() else {
        return Status::Accept;
    };
    let plan = c.session.eom(queue_id.as_deref()).await;
    for (name, index) in plan.deletions {
        if let Err(e) = cx.actions.change_header(name, index, None::<&CStr>).await {
            error!(
                queue_id = queue_id.as_deref().unwrap_or("-"),
                "cannot delete {name} #{index}: {e}"
            );
            return Status::Accept;
        }
    }
    // Inserted in reverse so the first planned header ends up on top (the
    // stamps, then our ARC set). With SMFIP_HDR_LEADSPC the MTA writes the
    // value verbatim after the colon.
    let planned = plan.inserts.into_iter().map(|(n, v)| (n.to_string(), v));
    for (name, mut value) in planned
        .chain(plan.arc_set)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
    {
        if c.leading_space {
            value.insert(0, ' ');
        }
        if let Err(e) = cx.actions.insert_header(0, name.as_str(), value).await {
            error!(
                queue_id = queue_id.as_deref().unwrap_or("-"),
                "cannot insert {name}: {e}"
            );
            return Status::Accept;
        }
    }
    Status::Accept
}
