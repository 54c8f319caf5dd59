//! Live reload (SIGHUP) against the real listeners on loopback: the
//! configuration file is rewritten and reloaded while connections are open
//! and messages in progress; the next messages follow the new settings, a
//! message in progress finishes with the old ones, nothing is dropped, and
//! an invalid file is refused while the old settings keep working. The
//! sensor's side is in `reload/sensor.rs` (its alerts in
//! `reload/alerts.rs`), the binary and its signal in `reload/process.rs`.

#[path = "reload/alerts.rs"]
mod alerts;
#[path = "alerts/capture.rs"]
mod capture;
mod common;
#[path = "web/http.rs"]
mod http;
#[path = "reload/process.rs"]
mod process;
#[path = "reload/sensor.rs"]
mod sensor;

use authsense::config::Config;
use authsense::milter::{self, listen::MilterListener, listen::SocketSpec, Live, Shared};
use authsense::reload::{Reloader, Targets};
use common::dns::FakeDns;
use common::{rcpt_data, spf_zone, tempdir::TempDir};
use indymilter_test::{Actions, EomAction, EomActions, ProtoOpts, Status, TestConnection};
use std::{net::IpAddr, path::PathBuf, sync::Arc, time::Duration};

const XA: &str = "X-Agari-Authentication-Results";

/// A configuration file the test rewrites, and a loader that reads it and
/// applies "flags" (as the command line would) on top.
pub struct ConfigFile {
    pub path: PathBuf,
    /// The file's directory, removed with the ConfigFile.
    _dir: TempDir,
}

impl ConfigFile {
    pub fn new(tag: &str, text: &str) -> ConfigFile {
        let dir = TempDir::new(tag);
        let path = dir.join("authsense.toml");
        let f = ConfigFile { path, _dir: dir };
        f.write(text);
        f
    }

    /// Replaces the file's contents (as an admin's editor would: a new file
    /// renamed over the old one).
    pub fn write(&self, text: &str) {
        let tmp = self.path.with_extension("tmp");
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, &self.path).unwrap();
    }

    /// The loader: the file, then `flags`.
    pub fn loader(
        &self,
        flags: impl Fn(&mut Config) + Send + 'static,
    ) -> authsense::reload::Loader {
        let path = self.path.clone();
        Box::new(move || {
            let mut cfg = Config::load(&path).map_err(|e| e.to_string())?;
            flags(&mut cfg);
            Ok(cfg)
        })
    }
}

/// A milter on 127.0.0.1:0 whose settings `reloader` replaces.
struct LiveMilter {
    addr: std::net::SocketAddr,
    reloader: Reloader,
    stop: tokio::sync::oneshot::Sender<()>,
}

async fn live_milter(file: &ConfigFile, dns: &FakeDns) -> LiveMilter {
    let dns_addr = dns.addr;
    let load = file.loader(move |c| {
        c.milter.authserv_id = Some("mx.example.com".into());
        c.milter.listen = SocketSpec::Inet("127.0.0.1:0".parse().unwrap());
        c.dns.nameservers = vec![dns_addr];
        c.dns.timeout_ms = 500;
        c.dns.attempts = 0;
    });
    let cfg = load().unwrap();
    let listener = MilterListener::bind(&cfg.milter.listen, 0o600)
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let live = Arc::new(Live::new(Shared::from_config(&cfg).unwrap()));
    let targets = Targets {
        milter: Some(live.clone()),
        ..Targets::default()
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(milter::run_live(listener, live, stopped));
    LiveMilter {
        addr,
        reloader: Reloader::new(load, cfg, targets, None),
        stop,
    }
}

/// An MTA connection. The MTA does not offer to skip MAIL's reply, so the
/// milter has handled MAIL when `conn.mail()` returns: a reload after it
/// falls within the message (every step up to end of message is otherwise
/// unanswered).
async fn open(addr: std::net::SocketAddr) -> TestConnection {
    TestConnection::configure()
        .read_timeout(Duration::from_secs(30))
        .available_actions(Actions::ADD_HEADER | Actions::CHANGE_HEADER)
        .available_opts(ProtoOpts::all().difference(ProtoOpts::NOREPLY_MAIL))
        .open_tcp(addr)
        .await
        .unwrap()
}

fn acked(s: Status) -> bool {
    matches!(s, Status::Continue | Status::Noreply)
}

/// Connect and HELO from `ip`.
async fn greet(conn: &mut TestConnection, ip: &str) {
    let ip: IpAddr = ip.parse().unwrap();
    assert!(acked(
        conn.connect("client.example", (ip, 40000)).await.unwrap()
    ));
    assert!(acked(conn.helo("mail.pass.example").await.unwrap()));
}

/// MAIL (answered), RCPT/DATA where negotiated, and the headers: a message
/// in progress.
async fn begin(conn: &mut TestConnection) {
    let st = conn.mail(["<alice@pass.example>"]).await.unwrap();
    assert_eq!(st, Status::Continue);
    for st in rcpt_data(conn, "<rcpt@example.net>")
        .await
        .into_iter()
        .flatten()
    {
        assert!(acked(st));
    }
    conn.header("Subject", "reload").await.unwrap();
}

/// The rest of the message: end of headers and body where negotiated, end
/// of message.
async fn finish(conn: &mut TestConnection) -> EomActions {
    let opts = conn.negotiated_opts();
    if !opts.contains(ProtoOpts::NO_EOH) {
        conn.eoh().await.unwrap();
    }
    if !opts.contains(ProtoOpts::NO_BODY) {
        conn.body("Hello.\r\n").await.unwrap();
    }
    let (actions, status) = conn.eom().await.unwrap();
    assert_eq!(status, Status::Accept);
    actions
}

/// The X-Agari stamps inserted.
fn stamps(actions: &EomActions) -> Vec<String> {
    actions
        .actions
        .iter()
        .filter_map(|a| match a {
            EomAction::InsertHeader { name, value, .. } if name.to_bytes() == XA.as_bytes() => {
                Some(value.to_str().unwrap().trim().to_string())
            }
            _ => None,
        })
        .collect()
}

/// One whole message on `conn`; its stamps.
async fn message(conn: &mut TestConnection) -> Vec<String> {
    begin(conn).await;
    stamps(&finish(conn).await)
}

const SPF_STAMP_V6: &str =
    "mx.example.com; spf=pass smtp.mailfrom=alice@pass.example smtp.helo=mail.pass.example";
const SPF_ONLY: &str = "[milter]\nadd_authentication_results = false\nmethods = [\"spf\"]\n";
const TRUSTED: &str = "[milter]\nadd_authentication_results = false\nmethods = [\"spf\"]\n\
                       trusted_networks = [\"192.0.2.0/24\"]\n";
const DKIM_TOO: &str =
    "[milter]\nadd_authentication_results = false\nmethods = [\"spf\", \"dkim\"]\n\
                        trusted_networks = [\"192.0.2.0/24\"]\n";

#[tokio::test]
async fn milter_trusted_networks_and_methods_change_the_next_messages() {
    let dns = FakeDns::start(spf_zone()).await;
    let file = ConfigFile::new("reload-milter", SPF_ONLY);
    let mut m = live_milter(&file, &dns).await;
    let mut conn = open(m.addr).await;
    greet(&mut conn, "192.0.2.10").await;
    // A message in progress across the reload keeps its settings: the
    // client is not yet trusted when it began, so it is stamped.
    begin(&mut conn).await;
    file.write(TRUSTED);
    let report = m.reloader.reload().unwrap();
    assert_eq!(report.changed, ["milter.trusted_networks"]);
    let first = stamps(&finish(&mut conn).await);
    assert_eq!(first.len(), 1, "in progress: stamped with the old settings");
    assert!(
        first[0].starts_with("mx.example.com; spf=pass"),
        "{first:?}"
    );
    // The next message on the same connection: the client is trusted now.
    assert!(
        message(&mut conn).await.is_empty(),
        "trusted relay: untouched"
    );

    // Methods that need the body, which a connection opened before told
    // the MTA not to send: it keeps its settings until it ends; a new
    // connection gets the new ones.
    let mut old = open(m.addr).await;
    greet(&mut old, "2001:db8::10").await;
    assert_eq!(message(&mut old).await, [SPF_STAMP_V6]);
    assert!(old.negotiated_opts().contains(ProtoOpts::NO_BODY));
    file.write(DKIM_TOO);
    let report = m.reloader.reload().unwrap();
    assert_eq!(report.changed, ["milter.methods"]);
    assert_eq!(
        message(&mut old).await,
        [SPF_STAMP_V6],
        "old connection, old settings"
    );
    let mut fresh = open(m.addr).await;
    greet(&mut fresh, "2001:db8::10").await;
    assert_eq!(
        message(&mut fresh).await,
        [format!("{SPF_STAMP_V6}; dkim=none")]
    );
    let mut trusted = open(m.addr).await;
    greet(&mut trusted, "192.0.2.10").await;
    assert!(message(&mut trusted).await.is_empty());
    for c in [conn, old, fresh, trusted] {
        c.close().await.unwrap();
    }
    let _ = m.stop.send(());
}

#[tokio::test]
async fn milter_refuses_an_invalid_file_and_keeps_working() {
    let dns = FakeDns::start(spf_zone()).await;
    let file = ConfigFile::new("reload-milter-bad", TRUSTED);
    let mut m = live_milter(&file, &dns).await;
    for (text, key, line) in [
        (
            "[milter]\nmethods = [\"spf\"]\ntrusted_netwroks = [\"10.0.0.0/8\"]\n",
            "trusted_netwroks",
            "line 3",
        ),
        (
            "[milter]\ntrusted_networks = [\"192.0.2.0/33\"]\n",
            "trusted_networks",
            "line 2",
        ),
        ("[dns]\ntimeout_ms = \"soon\"\n", "timeout_ms", "line 2"),
    ] {
        file.write(text);
        let e = m.reloader.reload().unwrap_err();
        assert!(e.contains(key) && e.contains(line), "{e}");
        assert!(!e.contains('\n'), "one log line: {e}");
        // The old settings stay: 192.0.2.10 is still trusted, others stamped.
        let mut c = open(m.addr).await;
        greet(&mut c, "192.0.2.10").await;
        assert!(message(&mut c).await.is_empty());
        let mut d = open(m.addr).await;
        greet(&mut d, "2001:db8::10").await;
        assert_eq!(message(&mut d).await.len(), 1);
    }
    // A file that parses but cannot be used (a missing ARC key) too.
    file.write(
        "[milter.arc_seal]\ndomain = \"x.test\"\nselector = \"s\"\nkey = \"/nonexistent/k.pem\"\n",
    );
    let e = m.reloader.reload().unwrap_err();
    assert!(e.contains("/nonexistent/k.pem"), "{e}");
    let mut c = open(m.addr).await;
    greet(&mut c, "192.0.2.10").await;
    assert!(message(&mut c).await.is_empty(), "still the old settings");
    // Valid again: in force.
    file.write(SPF_ONLY);
    let report = m.reloader.reload().unwrap();
    assert_eq!(report.changed, ["milter.trusted_networks"]);
    let mut c = open(m.addr).await;
    greet(&mut c, "192.0.2.10").await;
    assert_eq!(message(&mut c).await.len(), 1);
    let _ = m.stop.send(());
}

#[tokio::test]
async fn milter_listen_change_is_named_not_applied() {
    let dns = FakeDns::start(spf_zone()).await;
    let file = ConfigFile::new("reload-milter-listen", SPF_ONLY);
    let mut m = live_milter(&file, &dns).await;
    // The test's flags force the listen address, as --listen would: a file
    // change to it is overridden and not reported.
    file.write(&format!(
        "{SPF_ONLY}listen = \"inet:127.0.0.1:1\"\nmax_connections = 7\n"
    ));
    let report = m.reloader.reload().unwrap();
    assert!(report.changed.is_empty(), "{report:?}");
    assert_eq!(report.restart_needed, ["milter.max_connections"]);
    // Named again at the next reload: still not in force.
    let report = m.reloader.reload().unwrap();
    assert_eq!(report.restart_needed, ["milter.max_connections"]);
    let mut c = open(m.addr).await;
    greet(&mut c, "2001:db8::10").await;
    assert_eq!(message(&mut c).await.len(), 1);
    let _ = m.stop.send(());
}
