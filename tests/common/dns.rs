//! An in-process authoritative DNS server for tests, on 127.0.0.1 (UDP and
//! TCP on one port). Serves a zone map; names can be made to time out (no
//! answer), to SERVFAIL, or to lose the next N UDP queries. Oversized UDP
//! answers are truncated (TC) so resolvers retry over TCP. A name outside the
//! zone that starts with `error.` times out, as in pyspf's test driver.
#![allow(dead_code)]

use mail_auth::hickory_resolver::proto::{
    op::{Message, MessageType, OpCode, ResponseCode},
    rr::{
        rdata::{A, AAAA, CNAME, MX, PTR, TXT},
        Name, RData, Record, RecordType,
    },
};
use std::{
    collections::{HashMap, HashSet},
    net::{Ipv4Addr, Ipv6Addr, SocketAddr},
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, UdpSocket},
};

/// One record's data.
#[derive(Debug, Clone)]
pub enum Rec {
    /// TXT with its character-strings.
    Txt(Vec<Vec<u8>>),
    /// A.
    A(Ipv4Addr),
    /// AAAA.
    Aaaa(Ipv6Addr),
    /// MX preference, exchange.
    Mx(u16, String),
    /// PTR target.
    Ptr(String),
    /// CNAME target.
    Cname(String),
}

impl Rec {
    /// A single-string TXT record.
    pub fn txt(s: &str) -> Rec {
        Rec::Txt(vec![s.as_bytes().to_vec()])
    }

    /// One TXT RR holding `s` in 255-octet character-strings (RFC 1035
    /// §3.3.14), as a long DKIM key record is published.
    pub fn long_txt(s: &str) -> Rec {
        Rec::Txt(s.as_bytes().chunks(255).map(<[u8]>::to_vec).collect())
    }
}

/// Serves the TXT `records` (name, text) and returns the server with a
/// configuration whose resolver asks only it, with short timeouts and no
/// retries.
pub async fn serve_txt<'a>(
    records: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> (FakeDns, authsense::config::Config) {
    let mut zone = Zone::default();
    for (name, txt) in records {
        zone.add(name, Rec::long_txt(txt));
    }
    let dns = FakeDns::start(zone).await;
    let mut cfg = authsense::config::Config::default();
    cfg.dns.nameservers = vec![dns.addr];
    cfg.dns.timeout_ms = 300;
    cfg.dns.attempts = 0;
    (dns, cfg)
}

/// What the server answers.
#[derive(Debug, Default)]
pub struct Zone {
    /// Records by lowercase name without the trailing dot.
    pub records: HashMap<String, Vec<Rec>>,
    /// Names never answered.
    pub timeout: HashSet<String>,
    /// Names answered with SERVFAIL.
    pub servfail: HashSet<String>,
    /// Names that answer the record types they hold and never answer any
    /// other type (pyspf's `TIMEOUT` listed after some records).
    pub partial_timeout: HashSet<String>,
}

impl Zone {
    /// Adds a record.
    pub fn add(&mut self, name: &str, rec: Rec) -> &mut Self {
        self.records.entry(key(name)).or_default().push(rec);
        self
    }
}

fn key(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// A running server; it stops when the test's runtime ends.
pub struct FakeDns {
    /// UDP and TCP address.
    pub addr: SocketAddr,
    /// The zone, changeable while running.
    pub zone: Arc<Mutex<Zone>>,
    /// UDP queries to drop before answering again (simulated packet loss).
    pub drop_udp: Arc<AtomicUsize>,
    /// Queries received.
    pub queries: Arc<AtomicUsize>,
}

impl FakeDns {
    /// Starts serving `zone`.
    pub async fn start(zone: Zone) -> FakeDns {
        let (udp, tcp) = bind_pair().await;
        let addr = udp.local_addr().unwrap();
        let zone = Arc::new(Mutex::new(zone));
        let drop_udp = Arc::new(AtomicUsize::new(0));
        let queries = Arc::new(AtomicUsize::new(0));
        let udp = Arc::new(udp);
        {
            let (zone, drop_udp, queries) = (zone.clone(), drop_udp.clone(), queries.clone());
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                while let Ok((n, peer)) = udp.recv_from(&mut buf).await {
                    queries.fetch_add(1, Ordering::SeqCst);
                    if drop_udp
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |d| d.checked_sub(1))
                        .is_ok()
                    {
                        continue;
                    }
                    if let Some(out) = answer(&zone, &buf[..n], true) {
                        let _ = udp.send_to(&out, peer).await;
                    }
                }
            });
        }
        {
            let (zone, queries) = (zone.clone(), queries.clone());
            tokio::spawn(async move {
                while let Ok((mut s, _)) = tcp.accept().await {
                    let (zone, queries) = (zone.clone(), queries.clone());
                    tokio::spawn(async move {
                        loop {
                            let Ok(len) = s.read_u16().await else { return };
                            let mut q = vec![0u8; len as usize];
                            if s.read_exact(&mut q).await.is_err() {
                                return;
                            }
                            queries.fetch_add(1, Ordering::SeqCst);
                            let Some(out) = answer(&zone, &q, false) else {
                                continue;
                            };
                            let _ = s.write_u16(out.len() as u16).await;
                            let _ = s.write_all(&out).await;
                        }
                    });
                }
            });
        }
        FakeDns {
            addr,
            zone,
            drop_udp,
            queries,
        }
    }
}

async fn bind_pair() -> (UdpSocket, TcpListener) {
    for _ in 0..50 {
        let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        if let Ok(tcp) = TcpListener::bind(udp.local_addr().unwrap()).await {
            return (udp, tcp);
        }
    }
    panic!("no free port pair for the test DNS server");
}

fn answer(zone: &Mutex<Zone>, query: &[u8], udp: bool) -> Option<Vec<u8>> {
    let req = Message::from_vec(query).ok()?;
    let q = req.queries.first()?.clone();
    let name = raw_key(&q.name);
    let mut resp = Message::new(req.metadata.id, MessageType::Response, OpCode::Query);
    resp.metadata.authoritative = true;
    resp.metadata.recursion_desired = req.metadata.recursion_desired;
    resp.add_query(q.clone());
    {
        let zone = zone.lock().unwrap();
        if zone.timeout.contains(&name)
            || (name.starts_with("error.") && !zone.records.contains_key(&name))
        {
            return None;
        }
        if zone.partial_timeout.contains(&name)
            && !zone
                .records
                .get(&name)
                .into_iter()
                .flatten()
                .any(|r| matches_type(r, q.query_type) || matches!(r, Rec::Cname(_)))
        {
            return None;
        }
        if zone.servfail.contains(&name) {
            resp.metadata.response_code = ResponseCode::ServFail;
        } else if let Some(recs) = zone.records.get(&name) {
            let mut target = None;
            for r in recs {
                if let Rec::Cname(t) = r {
                    if q.query_type != RecordType::CNAME {
                        resp.add_answer(record(&q.name, r));
                        target = Some(key(t));
                        continue;
                    }
                }
                if matches_type(r, q.query_type) {
                    resp.add_answer(record(&q.name, r));
                }
            }
            // One level of CNAME chasing, as the OpenSPF driver expects.
            if let Some(t) = target {
                let tname = fqdn(&t);
                for r in zone.records.get(&t).into_iter().flatten() {
                    if matches_type(r, q.query_type) {
                        resp.add_answer(record(&tname, r));
                    }
                }
            }
        } else {
            resp.metadata.response_code = ResponseCode::NXDomain;
        }
    }
    let bytes = resp.to_vec().ok()?;
    let limit = req.edns.as_ref().map_or(512, |e| e.max_payload().max(512)) as usize;
    if udp && bytes.len() > limit {
        let mut tc = Message::new(req.metadata.id, MessageType::Response, OpCode::Query);
        tc.metadata.truncation = true;
        tc.add_query(q);
        return tc.to_vec().ok();
    }
    Some(bytes)
}

/// The zone key of a queried name: its labels' raw octets (a label may hold
/// any octet, e.g. `foo:bar/baz` or spaces from SPF macros, RFC 7208 §7.1),
/// not hickory's escaped presentation form.
fn raw_key(name: &Name) -> String {
    let labels: Vec<String> = name
        .iter()
        .map(|l| l.iter().map(|&b| b as char).collect())
        .collect();
    key(&labels.join("."))
}

fn matches_type(r: &Rec, t: RecordType) -> bool {
    matches!(
        (r, t),
        (Rec::Txt(_), RecordType::TXT)
            | (Rec::A(_), RecordType::A)
            | (Rec::Aaaa(_), RecordType::AAAA)
            | (Rec::Mx(..), RecordType::MX)
            | (Rec::Ptr(_), RecordType::PTR)
            | (Rec::Cname(_), RecordType::CNAME)
    )
}

/// An absolute name of raw labels (`foo:bar/baz.example.com` stays as is).
fn fqdn(s: &str) -> Name {
    let s = s.trim_end_matches('.');
    Name::from_labels(s.split('.').map(str::as_bytes)).unwrap_or_else(|_| Name::root())
}

fn record(name: &Name, r: &Rec) -> Record {
    let data = match r {
        // A TXT record needs at least one string (RFC 1035 §3.3.14); a record
        // given with none is served as one empty string.
        Rec::Txt(parts) if parts.is_empty() => RData::TXT(TXT::from_bytes(vec![&b""[..]])),
        Rec::Txt(parts) => RData::TXT(TXT::from_bytes(
            parts.iter().map(|p| p.as_slice()).collect(),
        )),
        Rec::A(ip) => RData::A(A(*ip)),
        Rec::Aaaa(ip) => RData::AAAA(AAAA(*ip)),
        Rec::Mx(pref, host) => RData::MX(MX::new(*pref, fqdn(host))),
        Rec::Ptr(host) => RData::PTR(PTR(fqdn(host))),
        Rec::Cname(host) => RData::CNAME(CNAME(fqdn(host))),
    };
    Record::from_rdata(name.clone(), 60, data)
}
