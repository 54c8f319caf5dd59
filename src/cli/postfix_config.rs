//! `authsense postfix-config`: prints the main.cf and master.cf lines that
//! make a Postfix perimeter play the vendor's dual-delivery guide
//! (shared/reference/proofpoint-dual-delivery-guide.txt): the milter that
//! evaluates SPF and stamps X-Agari-Authentication-Results, and a copy of
//! every message to one or more sensors with the original envelope
//! recipients and a black-hole return path. postfix-test/lab builds its
//! perimeter from this output, so what admins are told is what is tested.
//!
//! How the copy is made (Postfix 3.5 or later):
//!  1. `recipient_bcc_maps` adds one copy recipient per original recipient,
//!     the original address encoded in the local part
//!     (`bob@example.com` -> `bob=example.com@sensor-copy.invalid`). Postfix
//!     gives BCC recipients NOTIFY=NEVER: a failed copy never bounces to the
//!     original sender.
//!  2. `transport_maps` sends that pseudo-domain to a second smtpd of the same
//!     instance (no milter), whose own cleanup rewrites the envelope only:
//!     sender -> black hole, recipients decoded. In Postfix the envelope
//!     sender belongs to the queue entry, so the copy has to be queued again
//!     to get its own return path.
//!  3. That second queue entry goes, all recipients at once, through
//!     `content_filter` to the sensors. Ordered: the next-hop list
//!     `[a]:p,[b]:p` (Postfix 3.5+ tries the list in order). Load-balanced:
//!     a `randmap` picks one rotation of that list per copy, so every sensor
//!     is first for a share of the copies and the others are its fallbacks.
//!  4. The black-hole address itself is delivered by discard(8).

use clap::{Args, ValueEnum};
use std::fmt::Write as _;

/// Pseudo-domain of the copy recipients (never leaves the instance).
const COPY_DOMAIN: &str = "sensor-copy.invalid";

/// How copies are spread over several sensors (the guide's "Delivery Type").
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SensorMode {
    /// The first sensor gets every copy; the next ones only while it is unreachable.
    Ordered,
    /// Each copy goes to a randomly chosen sensor, the others are its fallbacks.
    LoadBalanced,
}

/// `authsense postfix-config`.
#[derive(Debug, Args)]
pub struct PostfixConfigArgs {
    /// The authsense milter's socket as Postfix spells it (inet:HOST:PORT or
    /// unix:/path); omit to print only the dual delivery.
    #[arg(long, value_name = "SOCKET")]
    pub milter: Option<String>,
    /// A sensor as HOST:PORT, [HOST]:PORT or [IPv6]:PORT (repeatable, in
    /// order of preference); omit to print only the milter lines.
    #[arg(long = "sensor", value_name = "HOST:PORT")]
    pub sensors: Vec<String>,
    /// Several sensors: ordered (failover) or load-balanced.
    #[arg(long, value_enum, default_value = "load-balanced")]
    pub mode: SensorMode,
    /// Return path of the copies (the guide's "Assign Return Path"): a
    /// deliverable black hole, delivered here by discard(8).
    #[arg(long, value_name = "ADDR", default_value = "blackhole@discard.invalid")]
    pub blackhole: String,
    /// Require STARTTLS to the sensors (smtp_tls_security_level = encrypt).
    #[arg(long)]
    pub tls: bool,
    /// Address of the second smtpd that re-queues the copies.
    #[arg(long, value_name = "IP:PORT", default_value = "127.0.0.1:10026")]
    pub copy_listen: String,
    /// Greeting name of that smtpd (must differ from myhostname).
    #[arg(long, value_name = "NAME", default_value = "authsense-copy.invalid")]
    pub copy_hostname: String,
    /// Recipients in this domain get no copy here, e.g. because a downstream
    /// MTA makes it (repeatable).
    #[arg(long = "skip-domain", value_name = "DOMAIN")]
    pub skip_domains: Vec<String>,
    /// Seconds to wait for a sensor's TCP connection (the guide's "Timeout").
    #[arg(long, value_name = "SECONDS", default_value_t = 5)]
    pub timeout: u32,
    /// Mail flow when the milter is down: accept (default, mail keeps
    /// flowing unstamped) or tempfail.
    #[arg(long, value_name = "ACTION", default_value = "accept")]
    pub milter_default_action: String,
}

/// `authsense postfix-config`: prints the configuration on stdout.
pub fn postfix_config(args: PostfixConfigArgs) -> Result<(), String> {
    print!("{}", render(&args)?);
    Ok(())
}

/// A sensor as a Postfix SMTP next hop, `[host]:port` (no MX lookup).
fn nexthop(sensor: &str) -> Result<String, String> {
    let bad = || format!("--sensor {sensor:?}: expected HOST:PORT, [HOST]:PORT or [IPv6]:PORT");
    let (host, port) = if let Some(rest) = sensor.strip_prefix('[') {
        let (host, port) = rest.split_once("]:").ok_or_else(bad)?;
        (host, port)
    } else {
        let (host, port) = sensor.rsplit_once(':').ok_or_else(bad)?;
        if host.contains(':') {
            return Err(bad());
        }
        (host, port)
    };
    let ok_host = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'));
    if !ok_host || port.parse::<u16>().map_or(true, |p| p == 0) {
        return Err(bad());
    }
    if host.contains(':') {
        // Postfix spells an IPv6 next hop [ipv6:addr] only in some places;
        // the SMTP client takes the bare address in brackets.
        host.parse::<std::net::Ipv6Addr>().map_err(|_| bad())?;
    }
    Ok(format!("[{host}]:{port}"))
}

/// An address or domain as a POSIX regexp, anchored by the caller.
fn re_escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if ".[]()*+?{}|^$\\/".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn check_word(what: &str, v: &str) -> Result<(), String> {
    if v.is_empty()
        || !v
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '@' | '+' | '='))
    {
        return Err(format!(
            "{what} {v:?}: only letters, digits and . - _ @ + = are allowed"
        ));
    }
    Ok(())
}

/// The main.cf lines that drop incoming stamps and seals before the
/// milter: defence in depth for when the milter is down and
/// `milter_default_action = accept` lets mail through unstamped.
fn header_checks(w: &mut String) {
    for line in [
        "# Defence in depth (RFC 8601 §5): while the milter is down, mail flows unstamped",
        "# (milter_default_action = accept), so drop incoming copies of the headers only",
        "# the perimeter may write. Postfix applies header_checks to the headers it",
        "# receives, never to headers a milter adds: the milter's own stamp is untouched.",
        "# If you already use header_checks, add $authsense_header_checks to its list.",
        "authsense_header_checks = regexp:{ {/^X-Agari-Authentication-Results:/ IGNORE}, {/^X-Authsense-Seal:/ IGNORE} }",
        "header_checks = $authsense_header_checks",
    ] {
        let _ = writeln!(w, "{line}");
    }
}

/// The whole output: main.cf part, then master.cf part.
pub fn render(a: &PostfixConfigArgs) -> Result<String, String> {
    if a.milter.is_none() && a.sensors.is_empty() {
        return Err("nothing to print: give --milter SOCKET and/or --sensor HOST:PORT".into());
    }
    let hops = a
        .sensors
        .iter()
        .map(|s| nexthop(s))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(m) = &a.milter {
        let ok = m
            .strip_prefix("inet:")
            .is_some_and(|r| r.contains(':') || r.contains('@'))
            || m.strip_prefix("unix:").is_some_and(|p| p.starts_with('/'));
        if !ok || m.contains(char::is_whitespace) {
            return Err(format!(
                "--milter {m:?}: expected inet:HOST:PORT or unix:/path"
            ));
        }
    }
    if !matches!(a.milter_default_action.as_str(), "accept" | "tempfail") {
        return Err("--milter-default-action: accept or tempfail".into());
    }
    check_word("--blackhole", &a.blackhole)?;
    if !a.blackhole.contains('@') {
        return Err("--blackhole: an address local@domain".into());
    }
    check_word("--copy-hostname", &a.copy_hostname)?;
    for d in &a.skip_domains {
        check_word("--skip-domain", d)?;
    }
    let copy_listen: std::net::SocketAddr = a
        .copy_listen
        .parse()
        .map_err(|_| format!("--copy-listen {:?}: expected IP:PORT", a.copy_listen))?;
    let copy_hop = match copy_listen {
        std::net::SocketAddr::V4(v4) => format!("[{}]:{}", v4.ip(), v4.port()),
        std::net::SocketAddr::V6(v6) => format!("[{}]:{}", v6.ip(), v6.port()),
    };
    let copy_master_addr = match copy_listen {
        std::net::SocketAddr::V4(v4) => format!("{}:{}", v4.ip(), v4.port()),
        std::net::SocketAddr::V6(v6) => format!("[{}]:{}", v6.ip(), v6.port()),
    };

    let mut main = String::new();
    let mut master = String::new();
    let w = &mut main;
    let _ = writeln!(
        w,
        "# ===== main.cf (authsense postfix-config; Postfix 3.5 or later) ====="
    );
    if let Some(m) = &a.milter {
        let _ = writeln!(
            w,
            "# Guide: \"Enable SPF Assessment\" and \"Adding X-Agari-Authentication-Results in a"
        );
        let _ = writeln!(
            w,
            "# perimeter gateway\": authsense milter evaluates SPF and stamps the header before"
        );
        let _ = writeln!(
            w,
            "# the message is queued, so the original and every copy carry it."
        );
        let _ = writeln!(w, "smtpd_milters = {m}");
        let _ = writeln!(
            w,
            "# Guide: \"do not change the Delivery Method from Continue\": with accept, mail"
        );
        let _ = writeln!(
            w,
            "# keeps flowing (unstamped) while the milter is down; tempfail answers 4xx instead."
        );
        let _ = writeln!(w, "milter_default_action = {}", a.milter_default_action);
        let _ = writeln!(w, "milter_connect_timeout = 10s");
        header_checks(w);
    }
    if !hops.is_empty() {
        let bh_re = re_escape(&a.blackhole);
        let mut bcc = format!("{{if !/^{bh_re}$$/}}, ");
        for d in &a.skip_domains {
            let _ = write!(bcc, "{{if !/@{}$$/}}, ", re_escape(d));
        }
        let _ = write!(bcc, "{{/^(.+)@([^@]+)$$/ $${{1}}=$${{2}}@{COPY_DOMAIN}}}");
        for _ in 0..=a.skip_domains.len() {
            bcc.push_str(", {endif}");
        }
        let _ = writeln!(
            w,
            "# Guide: \"Create a Spam Detection Rule\" > \"Send a copy to destination\","
        );
        let _ = writeln!(
            w,
            "# \"Copy filtered message\": one copy recipient per original recipient, the"
        );
        let _ = writeln!(
            w,
            "# original address kept in the local part (bob@example.com becomes"
        );
        let _ = writeln!(
            w,
            "# bob=example.com@{COPY_DOMAIN}). BCC recipients get NOTIFY=NEVER: a copy"
        );
        let _ = writeln!(
            w,
            "# that cannot be delivered never bounces to the original sender."
        );
        if !a.skip_domains.is_empty() {
            let _ = writeln!(
                w,
                "# No copy here for {} (copied downstream).",
                a.skip_domains.join(", ")
            );
        }
        let _ = writeln!(
            w,
            "# If you already use recipient_bcc_maps, list this map in it."
        );
        let _ = writeln!(w, "recipient_bcc_maps = regexp:{{ {bcc} }}");
        let _ = writeln!(
            w,
            "# Guide: \"Create an SMTP Profile\": the copies go to the copy smtpd (master.cf),"
        );
        let _ = writeln!(
            w,
            "# and the black-hole return path is delivered by discard(8) (guide: \"choose a"
        );
        let _ = writeln!(
            w,
            "# deliverable black-hole address\"). If you already use transport_maps, add"
        );
        let _ = writeln!(w, "# $authsense_transport to it, e.g. transport_maps = hash:/etc/postfix/transport, $authsense_transport");
        let _ = writeln!(
            w,
            "authsense_transport = inline:{{ {COPY_DOMAIN}=authsense_copy:{copy_hop}, {}=discard: }}",
            a.blackhole
        );
        let _ = writeln!(w, "transport_maps = $authsense_transport");
        let _ = writeln!(
            w,
            "# Used by authsense_cleanup (master.cf): decodes the copy recipients."
        );
        let _ = writeln!(
            w,
            "authsense_rcpt_decode = regexp:{{ {{/^(.*)=([^=@]+)@{}$$/ $${{1}}@$${{2}}}} }}",
            re_escape(COPY_DOMAIN)
        );
        let _ = writeln!(
            w,
            "# One copy per message, whatever its number of recipients (the default limit"
        );
        let _ = writeln!(
            w,
            "# of 50 would split a message to 60 recipients into two copies, two records)."
        );
        let _ = writeln!(w, "authsense_copy_destination_recipient_limit = 1000");
        let _ = writeln!(w, "authsense_sensor_destination_recipient_limit = 1000");
        if hops.len() > 1 && a.mode == SensorMode::LoadBalanced {
            // randmap picks a key (Postfix 3.7's randmap cannot return a value
            // with whitespace), inline turns it into the FILTER action.
            let keys: Vec<String> = (0..hops.len()).map(|i| format!("sensor{i}")).collect();
            let rotations: Vec<String> = (0..hops.len())
                .map(|i| {
                    let list: Vec<&str> = hops[i..]
                        .iter()
                        .chain(&hops[..i])
                        .map(String::as_str)
                        .collect();
                    format!("{{sensor{i} = FILTER authsense_sensor:{}}}", list.join(","))
                })
                .collect();
            let _ = writeln!(
                w,
                "# Guide: \"Delivery Type: Load Balanced\": each copy picks one rotation of the"
            );
            let _ = writeln!(
                w,
                "# sensor list at random (randmap), so each sensor is first for a share of the"
            );
            let _ = writeln!(
                w,
                "# copies and the others are tried, in order, when it is unreachable."
            );
            let _ = writeln!(
                w,
                "authsense_sensor_pick = pipemap:{{ randmap:{{{}}}, inline:{{ {} }} }}",
                keys.join(","),
                rotations.join(", ")
            );
        }
    }

    let w = &mut master;
    if !hops.is_empty() {
        let _ = writeln!(w, "# ===== master.cf (authsense postfix-config) =====");
        let _ = writeln!(
            w,
            "# Hop 1: the copies (recipients still encoded) leave the queue for the copy smtpd."
        );
        let _ = writeln!(w, "authsense_copy unix - - n - - smtp");
        let _ = writeln!(w, "  -o smtp_tls_security_level=none");
        let _ = writeln!(
            w,
            "# The copy smtpd: no milter (the stamp is in the message already), only this"
        );
        let _ = writeln!(w, "# host may use it, and its own cleanup below.");
        if hops.len() > 1 && a.mode == SensorMode::LoadBalanced {
            let _ = writeln!(
                w,
                "# Guide: \"Delivery Type: Load Balanced\": a FILTER action from"
            );
            let _ = writeln!(
                w,
                "# $authsense_sensor_pick (main.cf) routes each copy to the sensors."
            );
        } else if hops.len() > 1 {
            let _ = writeln!(w, "# Guide: SMTP profile \"Host\", \"Port\", \"Delivery Type: Ordered\": Postfix 3.5+");
            let _ = writeln!(w, "# tries a next-hop list in order (the next only while the previous is unreachable).");
        } else {
            let _ = writeln!(
                w,
                "# Guide: SMTP profile \"Host\" and \"Port\": content_filter below."
            );
        }
        let _ = writeln!(w, "{copy_master_addr} inet n - n - - smtpd");
        let _ = writeln!(w, "  -o myhostname={}", a.copy_hostname);
        let _ = writeln!(w, "  -o smtpd_milters=");
        let _ = writeln!(
            w,
            "  # The copy's header must reach the sensor as the milter sealed it: no"
        );
        let _ = writeln!(
            w,
            "  # address rewriting or added headers for this (local) client."
        );
        let _ = writeln!(w, "  -o local_header_rewrite_clients=");
        let _ = writeln!(w, "  -o mynetworks=127.0.0.0/8,[::1]/128");
        let _ = writeln!(w, "  -o smtpd_client_restrictions=permit_mynetworks,reject");
        let _ = writeln!(w, "  -o smtpd_helo_restrictions=");
        let _ = writeln!(w, "  -o smtpd_sender_restrictions=");
        let _ = writeln!(w, "  -o smtpd_relay_restrictions=permit_mynetworks,reject");
        let _ = writeln!(w, "  -o smtpd_recipient_restrictions=");
        let _ = writeln!(w, "  -o smtpd_reject_unlisted_recipient=no");
        let _ = writeln!(w, "  -o smtpd_tls_security_level=none");
        let _ = writeln!(w, "  -o smtpd_sasl_auth_enable=no");
        let _ = writeln!(w, "  -o cleanup_service_name=authsense_cleanup");
        if hops.len() > 1 && a.mode == SensorMode::LoadBalanced {
            let _ = writeln!(
                w,
                "  -o smtpd_end_of_data_restrictions=check_client_access,$authsense_sensor_pick"
            );
        } else {
            let _ = writeln!(w, "  -o content_filter=authsense_sensor:{}", hops.join(","));
        }
        let _ = writeln!(
            w,
            "# Guide: \"Assign Return Path\" (black hole) and \"SMTP Address: Use"
        );
        let _ = writeln!(
            w,
            "# Original-Recipient Address\": the envelope only is rewritten (the *_classes"
        );
        let _ = writeln!(
            w,
            "# keep headers untouched), nothing else of the perimeter's processing is redone."
        );
        let _ = writeln!(w, "authsense_cleanup unix n - n - 0 cleanup");
        let _ = writeln!(w, "  -o recipient_bcc_maps=");
        let _ = writeln!(w, "  -o sender_bcc_maps=");
        let _ = writeln!(w, "  -o always_bcc=");
        let _ = writeln!(w, "  -o canonical_maps=");
        let _ = writeln!(w, "  -o virtual_alias_maps=");
        let _ = writeln!(w, "  -o masquerade_domains=");
        let _ = writeln!(w, "  -o header_checks=");
        let _ = writeln!(w, "  -o body_checks=");
        let _ = writeln!(w, "  -o sender_canonical_maps=static:{}", a.blackhole);
        let _ = writeln!(w, "  -o sender_canonical_classes=envelope_sender");
        let _ = writeln!(w, "  -o recipient_canonical_maps=$authsense_rcpt_decode");
        let _ = writeln!(w, "  -o recipient_canonical_classes=envelope_recipient");
        let _ = writeln!(
            w,
            "# Hop 2, the guide's SMTP profile to the sensors: a short connect timeout"
        );
        let _ = writeln!(
            w,
            "# (\"Timeout\"){}.",
            if a.tls {
                " and TLS required (\"Encrypting Messages to the Sensor\")"
            } else {
                ""
            }
        );
        let _ = writeln!(w, "authsense_sensor unix - - n - - smtp");
        let _ = writeln!(w, "  -o smtp_connect_timeout={}s", a.timeout);
        if a.tls {
            let _ = writeln!(w, "  -o smtp_tls_security_level=encrypt");
            let _ = writeln!(w, "  -o smtp_tls_loglevel=1");
            let _ = writeln!(w, "# TLS needs tlsmgr, which the stock master.cf has:");
            let _ = writeln!(w, "#   tlsmgr unix - - n 1000? 1 tlsmgr");
        } else {
            let _ = writeln!(w, "  -o smtp_tls_security_level=none");
        }
        let _ = writeln!(
            w,
            "# discard(8), for the black hole (in the stock master.cf):"
        );
        let _ = writeln!(w, "#   discard unix - - n - - discard");
    }
    Ok(main + &master)
}
