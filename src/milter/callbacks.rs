//! indymilter callbacks: each pulls its arguments and macros out of the
//! milter context, hands them to the [`Session`] method of the same protocol
//! step, and turns the answer into a milter reply.

use super::session::{MailDecision, Session};
use super::Shared;
use indymilter::{
    Actions, Callbacks, ContextActions, EomContext, MacroStage, NegotiateContext, ProtoOpts,
    SetErrorReply, SocketInfo, Status,
};
use std::{ffi::CStr, sync::Arc};
use tracing::{error, warn};

fn text(s: &CStr) -> String {
    String::from_utf8_lossy(s.to_bytes()).into_owned()
}

/// Builds the callback table over shared state.
pub fn callbacks(shared: Arc<Shared>) -> Callbacks<Session> {
    Callbacks::new()
        .on_negotiate(|cx, _, _| Box::pin(negotiate(cx)))
        .on_connect(move |cx, hostname, socket| {
            let ip = match socket {
                SocketInfo::Inet(addr) => Some(addr.ip()),
                _ => None,
            };
            cx.data = Some(Session::connect(shared.clone(), text(&hostname), ip));
            Box::pin(async { Status::Continue })
        })
        .on_helo(|cx, name| {
            if let Some(s) = cx.data.as_mut() {
                s.helo(&text(&name));
            }
            Box::pin(async { Status::Continue })
        })
        .on_mail(|cx, args| {
            Box::pin(async move {
                let auth = cx.macros.get(c"{auth_authen}").map(text);
                let Some(s) = cx.data.as_mut() else {
                    return Status::Continue;
                };
                let sender = args.first().map(|a| text(a)).unwrap_or_default();
                match s.mail(&sender, auth.as_deref()).await {
                    MailDecision::Continue => Status::Continue,
                    MailDecision::Tempfail => Status::Tempfail,
                    MailDecision::Reject(msg) => {
                        let msg = msg.replace('%', "%%");
                        if let Err(e) = cx.reply.set_error_reply("550", Some("5.7.23"), [msg]) {
                            warn!("cannot set reject reply: {e}");
                        }
                        Status::Reject
                    }
                }
            })
        })
        // Answering RCPT and DATA (instead of opting out of those steps) keeps
        // Postfix from waiting on a delayed ACK after its DATA-stage macros.
        .on_rcpt(|_, _| Box::pin(async { Status::Continue }))
        .on_data(|_| Box::pin(async { Status::Continue }))
        .on_header(|cx, name, value| {
            if let Some(s) = cx.data.as_mut() {
                s.header(&text(&name), &text(&value));
            }
            Box::pin(async { Status::Continue })
        })
        .on_eom(|cx| Box::pin(eom(cx)))
        .on_abort(|cx| {
            if let Some(s) = cx.data.as_mut() {
                s.abort();
            }
            Box::pin(async { Status::Continue })
        })
}

async fn negotiate(cx: &mut NegotiateContext<Session>) -> Status {
    cx.requested_actions |= Actions::ADD_HEADER | Actions::CHANGE_HEADER;
    // Not needed: body chunks and a reply per header value.
    cx.requested_opts |= ProtoOpts::NO_BODY;
    cx.requested_macros
        .insert(MacroStage::Mail, c"{auth_authen} i".into());
    cx.requested_macros.insert(MacroStage::Eom, c"i".into());
    Status::Continue
}

async fn eom(cx: &mut EomContext<Session>) -> Status {
    let queue_id = cx.macros.get(c"i").map(text);
    let Some(s) = cx.data.as_mut() else {
        return Status::Accept;
    };
    let plan = s.eom(queue_id.as_deref());
    for (name, index) in plan.deletions {
        if let Err(e) = cx.actions.change_header(name, index, None::<&CStr>).await {
            error!(
                queue_id = queue_id.as_deref().unwrap_or("-"),
                "cannot delete {name} #{index}: {e}"
            );
            return Status::Accept;
        }
    }
    // Inserted in reverse so the first planned header ends up on top.
    for (name, value) in plan.inserts.into_iter().rev() {
        if let Err(e) = cx.actions.insert_header(0, name, value).await {
            error!(
                queue_id = queue_id.as_deref().unwrap_or("-"),
                "cannot insert {name}: {e}"
            );
            return Status::Accept;
        }
    }
    Status::Accept
}
