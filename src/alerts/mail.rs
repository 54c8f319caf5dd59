//! Alert mail: plain-text subject and body from a [`Summary`] or a health
//! finding, and the SMTP client (lettre over tokio) that hands them to the
//! configured relay.
//!
//! Everything interpolated comes from the attacker's message (subject,
//! From, reasons quoting it): control characters, CR and LF included, are
//! replaced by spaces and long values are cut, so no header can be injected
//! and no line can be forged. The body is never part of a summary, so it
//! cannot appear here. Mail carries `Auto-Submitted: auto-generated`
//! (RFC 3834) so that vacation responders stay quiet, and the loop tag
//! `X-Authsense-Alert` (`looptag.rs`) so that the sensor sends no alert
//! about it when it comes back through the perimeter.

use super::looptag::{self, LoopKey};
use super::Summary;
use crate::config::AlertsConfig;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::Mailbox;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::fmt::Write;
use std::time::Duration;

/// Longest value copied from a message into an alert (characters).
const MAX_FIELD: usize = 200;

/// SMTP client for the relay of `[alerts]`.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    loop_key: LoopKey,
}

impl Mailer {
    /// A client for `config.relay` (plain SMTP, or STARTTLS required when
    /// `starttls`), greeting with `hostname`, tagging mail with `loop_key`.
    ///
    /// # Errors
    /// No relay, a bad sender address, or TLS setup failure.
    pub fn new(config: &AlertsConfig, hostname: &str, loop_key: LoopKey) -> Result<Mailer, String> {
        let (host, port) = config.relay.clone().ok_or("[alerts] relay is not set")?;
        let from = config
            .from
            .clone()
            .unwrap_or_else(|| format!("authsense@{hostname}"));
        let from: Mailbox = from
            .parse()
            .map_err(|e| format!("[alerts] from {from:?}: {e}"))?;
        // builder_dangerous: plain SMTP to a relay that is usually on
        // loopback or the LAN; STARTTLS is opt-in.
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.clone())
            .port(port)
            .hello_name(ClientId::Domain(hostname.to_string()))
            .timeout(Some(Duration::from_secs(20)));
        if config.starttls {
            let tls = TlsParameters::new(host)
                .map_err(|e| format!("[alerts] starttls: cannot set up TLS: {e}"))?;
            builder = builder.tls(Tls::Required(tls));
        }
        Ok(Mailer {
            transport: builder.build(),
            from,
            loop_key,
        })
    }

    /// Sends one plain-text mail to `to`.
    ///
    /// # Errors
    /// A bad recipient address, or the relay refused or was unreachable.
    pub async fn send(&self, to: &[String], subject: &str, body: &str) -> Result<(), String> {
        let from = self.from.email.to_string();
        let tag = self.loop_key.tag(&from, std::time::SystemTime::now());
        let mut b = Message::builder()
            .from(self.from.clone())
            .subject(clean(subject))
            .header(ContentType::TEXT_PLAIN)
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("Auto-Submitted"),
                "auto-generated".into(),
            ))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str(looptag::HEADER),
                tag,
            ));
        for t in to {
            let mbox: Mailbox = t.parse().map_err(|e| format!("recipient {t:?}: {e}"))?;
            b = b.to(mbox);
        }
        let msg = b.body(body.to_string()).map_err(|e| e.to_string())?;
        self.transport
            .send(msg)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// `s` on one line: control characters become spaces, at most
/// [`MAX_FIELD`] characters.
pub fn clean(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_FIELD)
        .collect();
    if s.chars().count() > MAX_FIELD {
        out.push('…');
    }
    out
}

fn opt(s: &Option<String>) -> String {
    s.as_deref().map_or_else(|| "-".to_string(), clean)
}

fn verdict_line(s: &Summary) -> String {
    let verdict = s.verdict.map_or("unanalysed", |v| v.as_str());
    match s.score {
        Some(n) => format!("{verdict} (score {n}/10)"),
        None => verdict.to_string(),
    }
}

fn reasons(s: &Summary, out: &mut String) {
    for r in &s.reasons {
        let _ = writeln!(
            out,
            "  - {} (+{}): {}",
            clean(&r.rule),
            r.points,
            clean(&r.detail)
        );
    }
    if s.reasons.is_empty() {
        out.push_str("  (none recorded)\n");
    }
}

/// Subject and body of the admins' threat alert.
pub fn threat(s: &Summary) -> (String, String) {
    let who = s
        .from_address
        .as_deref()
        .or(s.sender.as_deref())
        .unwrap_or("unknown sender");
    let subject = format!(
        "[authsense] {} message from {}",
        s.verdict.map_or("flagged", |v| v.as_str()),
        clean(who)
    );
    let mut b = String::new();
    let _ = writeln!(b, "authsense flagged a message received by the sensor.\n");
    let _ = writeln!(b, "Verdict:         {}", verdict_line(s));
    b.push_str("Reasons:\n");
    reasons(s, &mut b);
    let _ = writeln!(b, "Envelope sender: {}", opt(&s.sender));
    let _ = writeln!(b, "From:            {}", opt(&s.from));
    let _ = writeln!(b, "Subject:         {}", opt(&s.subject));
    let rcpts: Vec<String> = s.recipients.iter().map(|r| clean(r)).collect();
    let _ = writeln!(b, "Recipients:      {}", rcpts.join(", "));
    let _ = writeln!(
        b,
        "Gateway:         {} (HELO {})",
        clean(&s.gateway_ip),
        clean(&s.gateway_helo)
    );
    let _ = writeln!(b, "Received:        {}", clean(&s.ts));
    let _ = writeln!(b, "Record:          id {}, uid {}", s.id, clean(&s.uid));
    let _ = writeln!(b, "Web UI:          /messages/{}", s.id);
    b.push_str("\nThe message body is never included in alerts.\n");
    (subject, b)
}

/// Subject and body of the warning to one original recipient.
pub fn recipient_warning(s: &Summary) -> (String, String) {
    let subject = format!(
        "[authsense] Caution: a message to you looks {}",
        s.verdict.map_or("suspicious", |v| v.as_str())
    );
    let mut b = String::new();
    b.push_str("A message delivered to you was flagged by the mail security sensor.\n");
    b.push_str("Do not follow its links or instructions until it is checked.\n\n");
    let _ = writeln!(b, "From:     {}", opt(&s.from));
    let _ = writeln!(b, "Subject:  {}", opt(&s.subject));
    let _ = writeln!(b, "Received: {}", clean(&s.ts));
    let _ = writeln!(b, "Verdict:  {}", verdict_line(s));
    b.push_str("Why:\n");
    reasons(s, &mut b);
    (subject, b)
}

/// Subject and body of the health alert for a gateway silent since
/// `last_seen` (RFC 3339) for `silent`.
pub fn gateway_silent(gateway: &str, last_seen: &str, silent: Duration) -> (String, String) {
    let silent = humantime::format_duration(Duration::from_secs(silent.as_secs()));
    let subject = format!(
        "[authsense] health: gateway {} silent for {silent}",
        clean(gateway)
    );
    let body = format!(
        "The sensor has received no copy from gateway {}\nfor {silent} \
         (last copy at {last_seen}).\n\nCheck the gateway and its delivery of \
         copies to the sensor.\n",
        clean(gateway)
    );
    (subject, body)
}

/// Subject and body of the health alert for too few trusted copies.
pub fn stamp_health(
    trusted: u64,
    total: u64,
    min_share: f64,
    window: Duration,
) -> (String, String) {
    let pct = |x: f64| format!("{:.0}%", x * 100.0);
    let share = trusted as f64 / total.max(1) as f64;
    let window = humantime::format_duration(window);
    let subject = format!(
        "[authsense] health: only {} of copies carry trusted results",
        pct(share)
    );
    let body = format!(
        "Of the {total} copies received in the last {window}, {trusted} carry\n\
         trusted authentication results ({}; the minimum is {}).\n\n\
         The others have no trusted X-Agari-Authentication-Results (or\n\
         Authentication-Results) or an unknown SPF result: check that the\n\
         perimeter's milter is running and stamping, and the sensor's\n\
         trusted_authserv_ids.\n",
        pct(share),
        pct(min_share)
    );
    (subject, body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Reason, Verdict};

    #[test]
    fn attacker_text_stays_on_one_line() {
        let s = Summary {
            id: 7,
            verdict: Some(Verdict::Malicious),
            score: Some(9),
            from_address: Some("x@evil.test\r\nBcc: victim@example.com".into()),
            subject: Some("Hi\r\nX-Injected: 1".into()),
            reasons: vec![Reason {
                rule: "lookalike-domain".into(),
                points: 5,
                detail: "a\nb".into(),
            }],
            ..Summary::default()
        };
        let (subject, body) = threat(&s);
        assert!(!subject.contains(['\r', '\n']), "{subject:?}");
        assert!(
            !body.contains("\nX-Injected") && !body.contains("\nBcc:"),
            "{body}"
        );
        assert!(body.contains("/messages/7") && body.contains("malicious (score 9/10)"));
        assert!(body.contains("lookalike-domain (+5): a b"));
        let long = "x".repeat(1000);
        assert_eq!(clean(&long).chars().count(), MAX_FIELD + 1);
    }
}
