//! `authsense postfix-config`: prints the main.cf and master.cf lines that
//! make a Postfix perimeter play the vendor's dual-delivery guide
//! (the Proofpoint dual-delivery guide for Agari sensors; each step it names
//! is quoted in the comments printed): the milter that
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
//!
//! Two spellings of the same lines: `--format postconf` (the default) prints
//! a shell script of `postconf -e/-M/-P` commands that merges with a live
//! configuration (postconf.rs); `--format files` prints the main.cf and
//! master.cf sections for a fresh or private instance (what the lab uses).
//!
//! Debian runs `smtpd` chrooted in the queue directory: a milter unix socket
//! under it is printed relative to it (Postfix daemons work in the queue
//! directory, chrooted or not); a socket elsewhere draws a warning.

mod postconf;

use clap::{Args, ValueEnum};
use std::collections::HashMap;
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

/// How the lines are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A shell script of `postconf -e`/`-M`/`-P` commands that merges with
    /// the existing configuration (lists get our entry once).
    Postconf,
    /// The main.cf and master.cf lines, in two marked sections, for a fresh
    /// or private instance.
    Files,
}

/// `authsense postfix-config`.
#[derive(Debug, Args)]
pub struct PostfixConfigArgs {
    /// postconf: commands to run on a live host; files: main.cf and
    /// master.cf sections to paste.
    #[arg(long, value_enum, default_value = "postconf")]
    pub format: Format,
    /// Postfix's queue directory, where Debian chroots smtpd: a unix milter
    /// socket must be under it.
    #[arg(long, value_name = "DIR", default_value = "/var/spool/postfix")]
    pub queue_directory: String,
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
    #[arg(long, value_name = "IP:PORT", default_value = "127.0.0.1:10040")]
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
    if let Some(warning) = chroot_warning(&args) {
        eprintln!("authsense postfix-config: warning: {warning}");
    }
    let files = render(&args)?;
    match args.format {
        Format::Files => print!("{files}"),
        Format::Postconf => print!("{}", postconf::script(&files)),
    }
    Ok(())
}

/// The milter socket as Postfix should spell it: a unix socket under the
/// queue directory relative to it (found by a chrooted smtpd and by an
/// unchrooted one alike).
fn milter_for_postfix(a: &PostfixConfigArgs) -> Option<String> {
    let m = a.milter.as_ref()?;
    let queue = a.queue_directory.trim_end_matches('/');
    match m
        .strip_prefix("unix:")
        .and_then(|p| p.strip_prefix(queue))
        .and_then(|p| p.strip_prefix('/'))
    {
        Some(rel) if !queue.is_empty() => Some(format!("unix:{rel}")),
        _ => Some(m.clone()),
    }
}

/// Why Postfix's chrooted smtpd would not find a unix socket, if it would not.
fn chroot_warning(a: &PostfixConfigArgs) -> Option<String> {
    let path = a.milter.as_ref()?.strip_prefix("unix:")?;
    if milter_for_postfix(a).is_some_and(|m| !m.starts_with("unix:/")) {
        return None;
    }
    Some(format!(
        "{path} is outside Postfix's queue directory {q}: Debian runs smtpd chrooted there \
         (master.cf chroot column y) and it will not find the socket. Put it under {q} \
         (e.g. [milter] listen = \"unix:{q}/authsense/milter.sock\", socket_group = \"postfix\") \
         or use inet:127.0.0.1:8897",
        q = a.queue_directory
    ))
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

/// The whole output: main.cf part, then master.cf part, rendered from
/// `postfix_config/postfix.tmpl`.
pub fn render(a: &PostfixConfigArgs) -> Result<String, String> {
    let vars = variables(a)?;
    super::template::render(include_str!("postfix_config/postfix.tmpl"), &vars)
}

/// Checks the arguments and computes the template's variables.
fn variables(a: &PostfixConfigArgs) -> Result<HashMap<&'static str, String>, String> {
    if a.milter.is_none() && a.sensors.is_empty() {
        return Err("nothing to print: give --milter SOCKET and/or --sensor HOST:PORT".into());
    }
    let hops = a
        .sensors
        .iter()
        .map(|s| nexthop(s))
        .collect::<Result<Vec<_>, _>>()?;
    check_milter(a)?;
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
    let (copy_hop, copy_master) = match copy_listen {
        std::net::SocketAddr::V4(v4) => (format!("[{}]:{}", v4.ip(), v4.port()), v4.to_string()),
        std::net::SocketAddr::V6(v6) => (format!("[{}]:{}", v6.ip(), v6.port()), v6.to_string()),
    };
    let load_balanced = hops.len() > 1 && a.mode == SensorMode::LoadBalanced;
    let flag = |b: bool| if b { "1" } else { "" }.to_string();
    let mut v: HashMap<&'static str, String> = HashMap::new();
    v.insert("milter", milter_for_postfix(a).unwrap_or_default());
    v.insert("chroot_warning", chroot_warning(a).unwrap_or_default());
    v.insert("default_action", a.milter_default_action.clone());
    v.insert("sensors", flag(!hops.is_empty()));
    v.insert("example_copy", format!("example.com@{COPY_DOMAIN}"));
    v.insert("skip_domains", a.skip_domains.join(", "));
    v.insert("bcc", bcc_map(a));
    v.insert("copy_domain", COPY_DOMAIN.to_string());
    v.insert("copy_domain_re", re_escape(COPY_DOMAIN));
    v.insert("copy_hop", copy_hop);
    v.insert("copy_listen", copy_master);
    v.insert("copy_hostname", a.copy_hostname.clone());
    v.insert("blackhole", a.blackhole.clone());
    v.insert("load_balanced", flag(load_balanced));
    v.insert("not_load_balanced", flag(!load_balanced));
    v.insert("ordered", flag(hops.len() > 1 && !load_balanced));
    v.insert("single", flag(hops.len() == 1));
    let keys: Vec<String> = (0..hops.len()).map(|i| format!("sensor{i}")).collect();
    v.insert("pick_keys", keys.join(","));
    v.insert("rotations", rotations(&hops));
    v.insert("hops", hops.join(","));
    v.insert("tls", flag(a.tls));
    v.insert("no_tls", flag(!a.tls));
    v.insert("timeout", a.timeout.to_string());
    Ok(v)
}

/// `--milter` as Postfix spells a milter socket.
fn check_milter(a: &PostfixConfigArgs) -> Result<(), String> {
    if !matches!(a.milter_default_action.as_str(), "accept" | "tempfail") {
        return Err("--milter-default-action: accept or tempfail".into());
    }
    let Some(m) = &a.milter else {
        return Ok(());
    };
    let ok = m
        .strip_prefix("inet:")
        .is_some_and(|r| r.contains(':') || r.contains('@'))
        || m.strip_prefix("unix:").is_some_and(|p| p.starts_with('/'));
    if !ok || m.contains(char::is_whitespace) {
        return Err(format!(
            "--milter {m:?}: expected inet:HOST:PORT or unix:/path"
        ));
    }
    Ok(())
}

/// The `recipient_bcc_maps` regexp entries: one copy recipient per original
/// recipient, none for the black hole or the skipped domains.
fn bcc_map(a: &PostfixConfigArgs) -> String {
    let bh_re = re_escape(&a.blackhole);
    let mut bcc = format!("{{if !/^{bh_re}$$/}}, ");
    for d in &a.skip_domains {
        let _ = write!(bcc, "{{if !/@{}$$/}}, ", re_escape(d));
    }
    let _ = write!(bcc, "{{/^(.+)@([^@]+)$$/ $${{1}}=$${{2}}@{COPY_DOMAIN}}}");
    for _ in 0..=a.skip_domains.len() {
        bcc.push_str(", {endif}");
    }
    bcc
}

/// For load balancing: one rotation of the sensor list per key of the
/// randmap (Postfix 3.7's randmap cannot return a value with white space,
/// so inline turns the key into the FILTER action).
fn rotations(hops: &[String]) -> String {
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
    rotations.join(", ")
}
