//! Shared test fixtures: an in-process DNS server with SPF test zones and a
//! milter spawned on 127.0.0.1:0.
#![allow(dead_code)]

pub mod analysis;
pub mod conformance;
pub mod dns;
pub mod log;
pub mod sensor;
pub mod tempdir;

use authsense::{
    auth::Authenticator,
    config::Config,
    milter::{self, listen::MilterListener, listen::SocketSpec, Shared},
};
use dns::{FakeDns, Rec, Zone};
use indymilter_test::{Actions, ProtoOpts, Status, TestConnection};
use std::{net::SocketAddr, sync::Arc, time::Duration};
use tokio::{sync::oneshot, task::JoinHandle};

/// The client address most tests connect from.
pub const CLIENT4: [u8; 4] = [192, 0, 2, 10];

/// SPF test zone: one sender domain per result, for clients in
/// 192.0.2.0/24 and 2001:db8::/32.
pub fn spf_zone() -> Zone {
    let mut z = Zone::default();
    z.add(
        "pass.example",
        Rec::txt("v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 -all"),
    )
    .add(
        "fail.example",
        Rec::txt("v=spf1 ip4:198.51.100.0/24 -all exp=exp.fail.example"),
    )
    .add(
        "exp.fail.example",
        Rec::txt("%{i} is not one of %{d}'s designated mail servers"),
    )
    .add("softfail.example", Rec::txt("v=spf1 ~all"))
    .add("neutral.example", Rec::txt("v=spf1 ?all"))
    .add("none.example", Rec::txt("google-site-verification=abc"))
    .add("none.example", Rec::A([192, 0, 2, 1].into()))
    .add(
        "permerror.example",
        Rec::txt("v=spf1 ip4:192.0.2.0/24 -all"),
    )
    .add("permerror.example", Rec::txt("v=spf1 -all"))
    .add(
        "syntax.example",
        Rec::txt("v=spf1 ip4:192.0.2.0/24 foo:bar -all"),
    )
    .add(
        "include.example",
        Rec::txt("v=spf1 include:permerror.example -all"),
    )
    .add("mx.example", Rec::txt("v=spf1 mx -all"))
    .add("mx.example", Rec::Mx(10, "mx1.mx.example".into()))
    .add("mx1.mx.example", Rec::A([192, 0, 2, 10].into()))
    .add("mx1.mx.example", Rec::Aaaa("2001:db8::99".parse().unwrap()))
    .add("mail.pass.example", Rec::txt("v=spf1 a -all"))
    .add("mail.pass.example", Rec::A([192, 0, 2, 10].into()))
    .add(
        "mail.pass.example",
        Rec::Aaaa("2001:db8::10".parse().unwrap()),
    )
    .add("mail.fail.example", Rec::txt("v=spf1 -all"));
    z.timeout.insert("temperror.example".into());
    z.servfail.insert("servfail.example".into());
    z
}

/// A config whose resolver asks `dns` only, with short timeouts.
pub fn config_for(dns: &FakeDns) -> Config {
    let mut c = Config::default();
    c.milter.authserv_id = Some("mx.example.com".into());
    c.dns.nameservers = vec![dns.addr];
    c.dns.timeout_ms = 500;
    c.dns.attempts = 0;
    c.milter.auth_timeout_ms = 3000;
    c
}

/// A milter serving on 127.0.0.1:0.
pub struct TestMilter {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestMilter {
    pub async fn spawn(cfg: Config) -> TestMilter {
        let mut mcfg = cfg.milter.clone();
        mcfg.listen = SocketSpec::Inet("127.0.0.1:0".parse().unwrap());
        let listener = MilterListener::bind(&mcfg.listen, 0o600).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let auth = Authenticator::new(&cfg.dns).unwrap();
        let shared = Arc::new(Shared::new(mcfg, auth).unwrap());
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(milter::run(listener, shared, rx));
        TestMilter {
            addr,
            stop: Some(tx),
            task: Some(task),
        }
    }

    /// Opens an MTA-side connection.
    pub async fn open(&self) -> TestConnection {
        TestConnection::configure()
            .read_timeout(Duration::from_secs(30))
            .available_actions(Actions::ADD_HEADER | Actions::CHANGE_HEADER)
            .open_tcp(self.addr)
            .await
            .unwrap()
    }

    /// Opens a connection as an MTA that offers only these protocol options
    /// (e.g. none of the v6 no-reply ones).
    pub async fn open_with_opts(&self, opts: indymilter_test::ProtoOpts) -> TestConnection {
        TestConnection::configure()
            .read_timeout(Duration::from_secs(30))
            .available_actions(Actions::ADD_HEADER | Actions::CHANGE_HEADER)
            .available_opts(opts)
            .open_tcp(self.addr)
            .await
            .unwrap()
    }

    /// Shuts the milter down gracefully and checks it exited cleanly.
    pub async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.take().unwrap().await.unwrap().unwrap();
    }
}

/// RCPT and DATA, each only if the milter did not opt out of it (as Postfix
/// and Sendmail skip them); their statuses, `None` for a skipped step.
pub async fn rcpt_data(conn: &mut TestConnection, rcpt: &str) -> [Option<Status>; 2] {
    let opts = conn.negotiated_opts();
    let mut out = [None, None];
    if !opts.contains(ProtoOpts::NO_RCPT) {
        out[0] = Some(conn.rcpt([rcpt]).await.unwrap());
    }
    if !opts.contains(ProtoOpts::NO_DATA) {
        out[1] = Some(conn.data().await.unwrap());
    }
    out
}
