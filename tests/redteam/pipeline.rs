//! The trust chain in one process: an outside client's message through the
//! real milter (sealing, over fake DNS), written out as Postfix writes the
//! delivered copy (the milter's headers on top, then Postfix's own
//! `Received:`), carried by a transport that breaks every line over 998
//! octets as Postfix's SMTP client does (`smtp_line_length_limit`: CRLF +
//! space at exactly octet 998, observed with postfix-test/redteam-probe),
//! and read back by the real sensor extraction and analysis.

use crate::common::dns::{FakeDns, Rec, Zone};
use crate::common::{config_for, rcpt_data};
use authsense::auth::Authenticator;
use authsense::config::{AnalysisConfig, Method};
use authsense::headers::seal::Keys;
use authsense::ingest::analysis::{analyse, Analysis, SeenAll};
use authsense::ingest::extract::{extract, Envelope, ExtractOptions};
use authsense::milter::{self, listen::MilterListener, listen::SocketSpec, Shared};
use authsense::model::{Gateway, Record};
use indymilter_test::{Actions, EomAction, MacroStage, ProtoOpts, TestConnection};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::oneshot;

/// The perimeter's authserv-id.
pub const ID: &str = "mx.example.com";
/// Postfix's `smtp_line_length_limit`.
pub const LIMIT: usize = 998;

/// The attacker's own domain (SPF passes from 192.0.2.10, `p=none`) and
/// the domain it spoofs (SPF fails, `p=reject`).
fn zone() -> Zone {
    let mut z = Zone::default();
    z.add("attacker.example", Rec::txt("v=spf1 ip4:192.0.2.0/24 -all"))
        .add("_dmarc.attacker.example", Rec::txt("v=DMARC1; p=none"))
        .add(
            "mail.attacker.example",
            Rec::txt("v=spf1 ip4:192.0.2.0/24 -all"),
        )
        .add("victim.example", Rec::txt("v=spf1 -all"))
        .add("_dmarc.victim.example", Rec::txt("v=DMARC1; p=reject"));
    z
}

/// A running perimeter: fake DNS and the milter with all methods, the
/// standard `Authentication-Results` and a seal key.
pub struct Perimeter {
    _dns: FakeDns,
    milter: SealingMilter,
    /// The seal key milter and sensor share.
    pub keys: Keys,
}

impl Perimeter {
    pub async fn start() -> Perimeter {
        let dns = FakeDns::start(zone()).await;
        let mut cfg = config_for(&dns);
        cfg.milter.authserv_id = Some(ID.into());
        cfg.milter.methods = vec![
            Method::Spf,
            Method::Dkim,
            Method::Dmarc,
            Method::Arc,
            Method::Iprev,
        ];
        cfg.milter.add_authentication_results = true;
        let keys = Keys::new(vec![vec![0x5a; 32]]).unwrap();
        let milter = spawn_sealing(cfg, keys.clone()).await;
        Perimeter {
            _dns: dns,
            milter,
            keys,
        }
    }

    /// The copy Postfix delivers for a message with these header lines
    /// (`Name: value`, without line ends; a value may hold CRLF folds) and
    /// body, before any transport.
    pub async fn deliver(&self, lines: &[&str], body: &str) -> String {
        let mut conn = self.milter.open().await;
        conn.connect("client.example", ([192, 0, 2, 10], 4000))
            .await
            .unwrap();
        conn.helo("mail.attacker.example").await.unwrap();
        conn.macros(MacroStage::Mail, [("i", "Q1")]).await.unwrap();
        conn.mail(["<a@attacker.example>"]).await.unwrap();
        rcpt_data(&mut conn, "<u@inbox.example>").await;
        let leadspc = conn.negotiated_opts().contains(ProtoOpts::LEADING_SPACE);
        for line in lines {
            let (name, value) = line.split_once(':').unwrap();
            // Postfix strips white space before the colon and, without
            // SMFIP_HDR_LEADSPC, one space after it; folds become LF.
            let value = value.replace("\r\n", "\n");
            let value = if leadspc {
                value.as_str()
            } else {
                value.strip_prefix(' ').unwrap_or(&value)
            };
            conn.header(name.trim_end(), value).await.unwrap();
        }
        if !conn.negotiated_opts().contains(ProtoOpts::NO_EOH) {
            conn.eoh().await.unwrap();
        }
        conn.body(body.as_bytes().to_vec()).await.unwrap();
        let (actions, _) = conn.eom().await.unwrap();
        let mut top = Vec::new();
        for a in &actions.actions {
            if let EomAction::InsertHeader { index, name, value } = a {
                assert_eq!(*index, 0, "the milter inserts at the top");
                let (name, value) = (name.to_str().unwrap(), value.to_str().unwrap());
                let sep = if leadspc { "" } else { " " };
                top.insert(0, format!("{name}:{sep}{value}").replace('\n', "\r\n"));
            }
        }
        assert!(!top.is_empty(), "the milter stamped nothing: {actions:?}");
        let mut out = top.join("\r\n");
        out.push_str(
            "\r\nReceived: from mail.attacker.example (unknown [192.0.2.10])\r\n\tby mx.example.com \
             (Postfix) with ESMTP id Q1\r\n\tfor <u@inbox.example>; Thu, 1 Jan 2026 00:00:00 +0000\r\n",
        );
        for line in lines {
            out.push_str(line);
            out.push_str("\r\n");
        }
        out.push_str("\r\n");
        out.push_str(body);
        out
    }
}

/// The milter of `common::TestMilter`, sealing with `keys`; it stops when
/// dropped.
struct SealingMilter {
    addr: SocketAddr,
    _stop: oneshot::Sender<()>,
}

impl SealingMilter {
    async fn open(&self) -> TestConnection {
        TestConnection::configure()
            .read_timeout(Duration::from_secs(30))
            .available_actions(Actions::ADD_HEADER | Actions::CHANGE_HEADER)
            // Header values are sent exactly as Postfix passes them.
            .exact_leading_space(true)
            .open_tcp(self.addr)
            .await
            .unwrap()
    }
}

async fn spawn_sealing(cfg: authsense::config::Config, keys: Keys) -> SealingMilter {
    let mut mcfg = cfg.milter.clone();
    mcfg.listen = SocketSpec::Inet("127.0.0.1:0".parse().unwrap());
    let listener = MilterListener::bind(&mcfg.listen, 0o600).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let auth = Authenticator::new(&cfg.dns).unwrap();
    let shared = Shared::new(mcfg, auth).unwrap().with_seal_keys(Some(keys));
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(milter::run(listener, Arc::new(shared), rx));
    SealingMilter { addr, _stop: tx }
}

/// Breaks every line longer than [`LIMIT`] octets with CRLF + space at
/// exactly octet [`LIMIT`] (continuation lines count the space), as
/// Postfix's SMTP client does, whatever character is there.
pub fn transport(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 64);
    let mut col = 0usize;
    for &b in message {
        if b == b'\n' {
            col = 0;
            out.push(b);
            continue;
        }
        if col == LIMIT && b != b'\r' {
            out.extend_from_slice(b"\r\n ");
            col = 1;
        }
        out.push(b);
        col += 1;
    }
    out
}

/// The sensor's record and analysis of `raw`: the perimeter's id trusted,
/// its seal required.
pub fn sensor(raw: &[u8], keys: &Keys) -> (Record, Analysis) {
    let opts = ExtractOptions {
        trusted_authserv_ids: vec![ID.into()],
        sealed_authserv_ids: vec![ID.into()],
        seal_keys: Some(keys.clone()),
        ..ExtractOptions::default()
    };
    let env = Envelope {
        uid: "redteam".into(),
        received_at: SystemTime::now(),
        gateway: Gateway {
            ip: "127.0.0.1".into(),
            ..Gateway::default()
        },
        mailfrom: "blackhole@discard.invalid".into(),
        rcptto: vec!["u@inbox.example".into()],
    };
    let rec = extract(raw, env, &opts);
    let analysis = analyse(&rec, &AnalysisConfig::default(), &SeenAll);
    (rec, analysis)
}

/// The domains of the record's authors, lowercased (`""` for an author
/// without a readable address).
pub fn author_domains(rec: &Record) -> Vec<String> {
    rec.authors
        .iter()
        .map(|m| {
            m.address
                .as_deref()
                .and_then(|a| a.rsplit_once('@'))
                .map(|(_, d)| d.to_lowercase())
                .unwrap_or_default()
        })
        .collect()
}
