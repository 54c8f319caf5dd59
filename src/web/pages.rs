//! The HTML pages: status (`/`), message search (`/messages`) and one
//! message (`/messages/{id}`).

use super::api::{self, blocking};
use super::html::{esc, esc_opt, respond, sparkline};
use super::search::Search;
use super::WebState;
use crate::model::{MethodInfo, Record};
use crate::status::report::pct;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use std::fmt::Write;

/// `GET /`: the "Sensors status" page.
pub async fn status(State(st): State<WebState>) -> Response {
    let r = match api::report(&st).await {
        Ok(r) => r,
        Err(e) => return e,
    };
    let mut b = format!(
        "<h1>Sensors status <span id=\"overall\" class=\"state state-{0}\">{0}</span></h1>\
         <p class=\"muted\">{1} · last {2} min · {3} records stored</p>",
        r.state.as_str(),
        esc(&r.generated_at),
        r.window_minutes,
        r.records
    );
    b.push_str(
        "<table id=\"gateways\"><tr><th>State</th><th>Gateway</th><th>HELO</th>\
         <th>Last connected</th><th>Msgs/min</th><th>Per minute</th><th>X-Agari</th>\
         <th>AR fallback</th><th>None/unknown</th><th>Tampered</th><th>TLS</th><th>Rule</th></tr>",
    );
    for g in &r.gateways {
        let s = &g.status;
        let _ = write!(
            b,
            "<tr class=\"gateway\" data-ip=\"{ip}\"><td><span class=\"state state-{st}\">{st}</span></td>\
             <td><a href=\"/messages?gateway={ip}\">{ip}</a></td><td>{helo}</td><td>{last}</td>\
             <td>{rate:.2}</td><td>{spark}</td><td>{xa}</td><td>{ar}</td><td>{bad}</td><td>{tampered}</td><td>{tls}</td>\
             <td class=\"rule\">{rule}</td></tr>",
            ip = esc(&s.gateway_ip),
            st = g.assessment.state.as_str(),
            helo = esc_opt(s.helo.as_deref()),
            last = esc(&g.last_seen),
            rate = g.rate_per_minute,
            spark = sparkline(&s.per_minute),
            xa = pct(g.share_x_agari),
            ar = pct(g.share_authentication_results),
            bad = pct(g.share_broken),
            tampered = pct(g.share_tampered),
            tls = pct(g.share_tls),
            rule = esc(&g.assessment.rule),
        );
    }
    if r.gateways.is_empty() {
        b.push_str("<tr><td colspan=\"12\">No gateway has sent a copy yet.</td></tr>");
    }
    b.push_str("</table>");
    b.push_str("<h2>Backends</h2><table id=\"backends\"><tr><th>Part</th><th>State</th></tr>");
    let _ = write!(
        b,
        "<tr><td>store</td><td id=\"store-backend\">{} {}</td></tr>",
        esc(r.store.backend),
        esc(&r.store.location)
    );
    if let Some(e) = &r.export {
        let _ = write!(
            b,
            "<tr class=\"{cls}\"><td>NATS export</td><td id=\"export-state\">{state}, {n} spooled{err}</td></tr>",
            cls = if e.connected { "green" } else { "red" },
            state = if e.connected { "connected" } else { "not connected" },
            n = e.spool_depth,
            err = e
                .last_error
                .as_deref()
                .map(|x| format!(", last error: {}", esc(x)))
                .unwrap_or_default(),
        );
    }
    b.push_str("</table>");
    if let Some(m) = &r.milter {
        b.push_str("<h2>Milter</h2><table id=\"milter\"><tr><th>Counter</th><th>Value</th></tr>");
        for (name, v) in m {
            let _ = write!(b, "<tr><td>{}</td><td>{v}</td></tr>", esc(name));
        }
        b.push_str("</table>");
    }
    respond(StatusCode::OK, "Sensors status", &b)
}

fn input(name: &str, label: &str, v: &Option<String>) -> String {
    format!(
        "<label>{label} <input name=\"{name}\" value=\"{}\" size=\"12\"></label>",
        esc(v.as_deref().unwrap_or(""))
    )
}

fn results(r: &Record) -> String {
    let m = |label: &str, v: Option<&MethodInfo>| {
        format!("{label}={}", esc(v.map_or("-", |m| m.result.as_str())))
    };
    let dkim = r
        .auth
        .dkim
        .iter()
        .find(|d| d.result == "pass")
        .or(r.auth.dkim.first());
    format!(
        "{} {} {}",
        m("spf", r.auth.spf.as_ref()),
        m("dkim", dkim),
        m("dmarc", r.auth.dmarc.as_ref())
    )
}

fn verdict(r: &Record) -> String {
    match (r.verdict, r.score) {
        (Some(v), s) => format!(
            "<span class=\"verdict-{0}\">{0}</span>{1}",
            v.as_str(),
            s.map_or(String::new(), |s| format!(" ({s})"))
        ),
        (None, Some(s)) => format!("({s})"),
        (None, None) => "-".into(),
    }
}

/// `GET /messages`: search form and results.
pub async fn messages(
    State(st): State<WebState>,
    q: Result<Query<Search>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let q = match q {
        Ok(Query(q)) => q,
        Err(e) => return respond(StatusCode::BAD_REQUEST, "Bad search", &esc(&e.body_text())),
    };
    let mut b = String::from(
        "<h1>Messages</h1><form class=\"search\" method=\"get\" action=\"/messages\">",
    );
    for (name, label, v) in [
        ("sender", "Sender", &q.sender),
        ("domain", "Domain", &q.domain),
        ("recipient", "Recipient", &q.recipient),
        ("subject", "Subject", &q.subject),
        ("spf", "SPF", &q.spf),
        ("dkim", "DKIM", &q.dkim),
        ("dmarc", "DMARC", &q.dmarc),
        ("verdict", "Verdict", &q.verdict),
        ("min_score", "Score ≥", &q.min_score),
        ("gateway", "Gateway", &q.gateway),
        ("since", "Since", &q.since),
        ("until", "Until", &q.until),
    ] {
        b.push_str(&input(name, label, v));
    }
    b.push_str("<button type=\"submit\">Search</button></form>");
    if let Err(e) = q.to_filter() {
        // Shown above the form's values, so the user can correct them.
        let _ = write!(b, "<p class=\"error\">{}</p>", esc(&e));
        return respond(StatusCode::BAD_REQUEST, "Messages", &b);
    }
    let (records, next) = match api::search(&st, &q).await {
        Ok(x) => x,
        Err(e) => return e,
    };
    b.push_str(
        "<table id=\"messages\"><tr><th>Received</th><th>Gateway</th><th>Sender</th><th>From</th>\
         <th>Recipients</th><th>Subject</th><th>Results</th><th>Verdict</th></tr>",
    );
    for r in &records {
        let id = r.id.unwrap_or_default();
        let _ = write!(
            b,
            "<tr class=\"message\"><td><a href=\"/messages/{id}\">{ts}</a></td><td>{gw}</td><td>{snd}</td>\
             <td>{from}</td><td>{rcpt}</td><td><a href=\"/messages/{id}\">{subj}</a></td><td>{res}</td><td>{v}</td></tr>",
            ts = esc(&r.ts),
            gw = esc(&r.gateway.ip),
            snd = esc_opt(r.original.mailfrom.as_deref()),
            from = esc_opt(r.from.as_ref().and_then(|m| m.address.as_deref())),
            rcpt = esc(&r.rcptto.join(", ")),
            subj = esc_opt(r.subject.as_deref()),
            res = results(r),
            v = verdict(r),
        );
    }
    b.push_str("</table>");
    if records.is_empty() {
        b.push_str("<p>No message matches.</p>");
    }
    if let Some(after) = next {
        let _ = write!(
            b,
            "<p><a id=\"older\" href=\"/messages?{}\">Older →</a></p>",
            esc(&q.query_string(Some(after)))
        );
    }
    respond(StatusCode::OK, "Messages", &b)
}

fn row(b: &mut String, id: &str, label: &str, value: &str) {
    let _ = write!(b, "<dt>{label}</dt><dd id=\"{id}\">{value}</dd>");
}

fn method(m: Option<&MethodInfo>) -> String {
    let Some(m) = m else { return "-".into() };
    let props: Vec<String> = m.props.iter().map(|(k, v)| format!("{k}={v}")).collect();
    esc(&format!("{} {}", m.result, props.join(" ")))
}

/// `GET /messages/{id}`: one record.
pub async fn message(State(st): State<WebState>, Path(id): Path<String>) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return not_found_page(&id);
    };
    let store = st.store.clone();
    let r = match blocking(move || store.get(id)).await {
        Ok(Some(r)) => r,
        Ok(None) => return not_found_page(&id.to_string()),
        Err(e) => return e,
    };
    let mut b = format!("<h1>Message {id}</h1><dl class=\"record\">");
    for (id, label, value) in record_rows(&r) {
        row(&mut b, id, label, &value);
    }
    let _ = write!(b, "</dl><p><a href=\"/api/messages/{id}\">JSON</a></p>");
    respond(StatusCode::OK, "Message", &b)
}

/// The message page's rows: element id, label, HTML value.
fn record_rows(r: &Record) -> Vec<(&'static str, &'static str, String)> {
    let gw = format!(
        "{} ({}){}",
        r.gateway.ip,
        r.gateway.helo,
        if r.gateway.tls { " TLS" } else { "" }
    );
    let o = &r.original;
    let a = &r.auth;
    let sealed = if a.sealed { "sealed" } else { "not sealed" };
    let source = format!("{} ({sealed})", a.source.as_str());
    let mut rows = vec![
        ("message-subject", "Subject", esc_opt(r.subject.as_deref())),
        ("message-ts", "Received", esc(&r.ts)),
        ("message-uid", "Copy id", esc(&r.uid)),
        ("message-gateway", "Gateway", esc(&gw)),
        (
            "message-sender",
            "Original sender",
            esc_opt(o.mailfrom.as_deref()),
        ),
        ("message-helo", "Original HELO", esc_opt(o.helo.as_deref())),
        (
            "message-client",
            "Original client",
            esc_opt(o.client_ip.as_deref()),
        ),
        ("message-from", "From", mailbox(r.from.as_ref())),
        ("message-rcpt", "Recipients", esc(&r.rcptto.join(", "))),
        ("message-msgid", "Message-ID", esc_opt(r.msg_id.as_deref())),
        ("message-source", "Results from", esc(&source)),
        (
            "message-tamper",
            "Not believed because",
            esc_opt(a.tamper.as_deref()),
        ),
        ("message-spf", "SPF", method(a.spf.as_ref())),
        (
            "message-dkim",
            "DKIM",
            lines(a.dkim.iter().map(|d| method(Some(d)))),
        ),
        ("message-dmarc", "DMARC", method(a.dmarc.as_ref())),
        ("message-raw", "Trusted header", esc_opt(a.raw.as_deref())),
        ("message-verdict", "Verdict", verdict(r)),
        (
            "message-reasons",
            "Reasons",
            lines(
                r.reasons
                    .iter()
                    .map(|x| esc(&format!("{} (+{}): {}", x.rule, x.points, x.detail))),
            ),
        ),
    ];
    rows.extend(content_rows(r));
    rows
}

/// The rows for what the copy carried: its path, attachments, URLs, size.
fn content_rows(r: &Record) -> Vec<(&'static str, &'static str, String)> {
    vec![
        (
            "message-path",
            "Received path",
            lines(r.path.iter().map(|h| {
                esc(&format!(
                    "from {} [{}] by {}",
                    h.from_host.as_deref().unwrap_or("?"),
                    h.from_ip.as_deref().unwrap_or("?"),
                    h.by_host.as_deref().unwrap_or("?")
                ))
            })),
        ),
        (
            "message-attachments",
            "Attachments",
            lines(r.attachments.iter().map(|a| {
                esc(&format!(
                    "{} {} {} B sha256={}",
                    a.name.as_deref().unwrap_or("-"),
                    a.mime_type,
                    a.size,
                    a.sha256
                ))
            })),
        ),
        (
            "message-urls",
            "URLs",
            lines(r.urls.iter().map(|u| esc(&u.url))),
        ),
        ("message-size", "Size", format!("{} octets", r.size)),
    ]
}

/// HTML lines joined by `<br>`, or `-` when there are none.
fn lines(items: impl Iterator<Item = String>) -> String {
    let v: Vec<String> = items.collect();
    if v.is_empty() {
        "-".into()
    } else {
        v.join("<br>")
    }
}

/// `name <address>`, escaped, or `-`.
fn mailbox(m: Option<&crate::model::Mailbox>) -> String {
    m.map_or("-".into(), |m| {
        esc(&format!(
            "{} <{}>",
            m.name.as_deref().unwrap_or(""),
            m.address.as_deref().unwrap_or("")
        ))
    })
}

fn not_found_page(what: &str) -> Response {
    respond(
        StatusCode::NOT_FOUND,
        "Not found",
        &format!("<h1>Not found</h1><p>No message {}.</p>", esc(what)),
    )
}

/// Any other path: 404.
pub async fn not_found() -> Response {
    respond(StatusCode::NOT_FOUND, "Not found", "<h1>Not found</h1>")
}
