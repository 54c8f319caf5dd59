//! The caches mail-auth is handed during one SPF evaluation: a [`Probe`]
//! records every name fetched (for the audits in [`super::spf`]) and serves
//! [`Preload`]ed corrections on a re-run — PTR names without the trailing dot
//! (RFC 7208 §5.5), `ip6` mechanisms that cannot match an IPv4 client (§5.6),
//! records re-parsed without unknown modifiers (§6).

use super::spf::Audit;
use super::spf_syntax;
use mail_auth::{
    common::parse::TxtRecordParser,
    spf::{Mechanism, Spf},
    RecordSet, ResolverCache, Txt, MX,
};
use std::{
    borrow::Borrow,
    collections::{HashMap, HashSet},
    hash::{DefaultHasher, Hash, Hasher},
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    sync::{Arc, Mutex},
    time::Instant,
};

/// Corrected answers a re-run serves to mail-auth as cache hits.
#[derive(Default)]
pub(super) struct Preload {
    txt: HashMap<Box<str>, Txt>,
    ptr: HashMap<IpAddr, RecordSet<Box<str>>>,
}

impl Preload {
    /// Adds the corrections the first run calls for; true if there are any.
    pub(super) fn correct(&mut self, seen: &Seen, audit: &Audit, ip: IpAddr) -> bool {
        for (addr, set) in &seen.ptr {
            if set.rrset.iter().any(|n| n.ends_with('.')) {
                let rrset = set.rrset.iter().map(|n| n.trim_end_matches('.').into());
                self.ptr.insert(
                    *addr,
                    RecordSet {
                        rrset: rrset.collect(),
                        dnssec_status: set.dnssec_status,
                    },
                );
            }
        }
        for (name, txt) in &seen.txt {
            let spf = match txt {
                Txt::Spf(spf) => Some(Spf::clone(spf)),
                Txt::Error(_) => {
                    audit
                        .valid
                        .iter()
                        .find(|(n, _)| n == name)
                        .and_then(|(_, rec)| {
                            Spf::parse(&spf_syntax::without_unknown_modifiers(rec)).ok()
                        })
                }
                _ => None,
            };
            let Some(mut spf) = spf else { continue };
            let mut changed = matches!(txt, Txt::Error(_));
            if let IpAddr::V4(v4) = ip {
                changed |= drop_ip6_matches(&mut spf, v4);
            }
            if changed {
                self.txt.insert(name.clone(), Txt::Spf(Arc::new(spf)));
            }
        }
        !self.txt.is_empty() || !self.ptr.is_empty()
    }
}

/// mail-auth matches `ip6` mechanisms against an IPv4 client as its mapped
/// address; §5.6 says they never match. Makes each one that would match
/// match only `::`; true if there was one.
fn drop_ip6_matches(spf: &mut Spf, ip: Ipv4Addr) -> bool {
    let client = u128::from(ip.to_ipv6_mapped());
    let mut directives = spf.directives.to_vec();
    let mut changed = false;
    for d in &mut directives {
        if let Mechanism::Ip6 { addr, mask } = &mut d.mechanism {
            if client & *mask == u128::from(*addr) & *mask {
                (*addr, *mask) = (Ipv6Addr::UNSPECIFIED, u128::MAX);
                changed = true;
            }
        }
    }
    spf.directives = directives.into();
    changed
}

/// What one evaluation fetched. Names of A, AAAA and MX queries are kept as
/// hashes: mail-auth's cache lookup hands over a generic borrowed key.
#[derive(Default)]
pub(super) struct Seen {
    pub(super) txt: Vec<(Box<str>, Txt)>,
    ptr: Vec<(IpAddr, RecordSet<Box<str>>)>,
    asked: Vec<u64>,
    answered: HashSet<u64>,
    /// MX exchanges and PTR names: looked up for a term, not named by one.
    indirect: HashSet<u64>,
}

impl Seen {
    /// Distinct names a term asked for that had no records (§4.6.4).
    pub(super) fn void_lookups(&self) -> usize {
        let void = self
            .asked
            .iter()
            .filter(|h| !self.answered.contains(*h) && !self.indirect.contains(*h));
        void.collect::<HashSet<_>>().len()
    }
}

fn hash_of<Q: Hash + ?Sized>(q: &Q) -> u64 {
    let mut h = DefaultHasher::new();
    q.hash(&mut h);
    h.finish()
}

/// mail-auth's five caches for one evaluation (see the module doc).
pub(super) struct Probe<'a> {
    pub(super) pre: &'a Preload,
    pub(super) seen: Mutex<Seen>,
}

impl Probe<'_> {
    fn seen(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl ResolverCache<Box<str>, Txt> for Probe<'_> {
    fn get<Q>(&self, name: &Q) -> Option<Txt>
    where
        Box<str>: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (k, v) = self.pre.txt.get_key_value(name)?;
        self.seen().txt.push((k.clone(), v.clone()));
        Some(v.clone())
    }
    fn remove<Q>(&self, _: &Q) -> Option<Txt>
    where
        Box<str>: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        None
    }
    fn insert(&self, name: Box<str>, value: Txt, _: Instant) {
        self.seen().txt.push((name, value));
    }
}

impl ResolverCache<IpAddr, RecordSet<Box<str>>> for Probe<'_> {
    fn get<Q>(&self, addr: &Q) -> Option<RecordSet<Box<str>>>
    where
        IpAddr: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let set = self.pre.ptr.get(addr)?.clone();
        self.seen()
            .indirect
            .extend(set.rrset.iter().map(|n| hash_of(&**n)));
        Some(set)
    }
    fn remove<Q>(&self, _: &Q) -> Option<RecordSet<Box<str>>>
    where
        IpAddr: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        None
    }
    fn insert(&self, addr: IpAddr, value: RecordSet<Box<str>>, _: Instant) {
        let mut seen = self.seen();
        seen.indirect
            .extend(value.rrset.iter().map(|n| hash_of(&**n)));
        seen.ptr.push((addr, value));
    }
}

/// A, AAAA and MX lookups: record the name asked and whether it had records.
macro_rules! addr_cache {
    ($v:ty, $exchanges:expr) => {
        impl ResolverCache<Box<str>, RecordSet<$v>> for Probe<'_> {
            fn get<Q>(&self, name: &Q) -> Option<RecordSet<$v>>
            where
                Box<str>: Borrow<Q>,
                Q: Hash + Eq + ?Sized,
            {
                self.seen().asked.push(hash_of(name));
                None
            }
            fn remove<Q>(&self, _: &Q) -> Option<RecordSet<$v>>
            where
                Box<str>: Borrow<Q>,
                Q: Hash + Eq + ?Sized,
            {
                None
            }
            fn insert(&self, name: Box<str>, value: RecordSet<$v>, _: Instant) {
                let mut seen = self.seen();
                if !value.rrset.is_empty() {
                    seen.answered.insert(hash_of(&*name));
                }
                let exchanges: fn(&$v) -> Vec<u64> = $exchanges;
                let names = value.rrset.iter().flat_map(exchanges);
                seen.indirect.extend(names.collect::<Vec<_>>());
            }
        }
    };
}
addr_cache!(Ipv4Addr, |_| Vec::new());
addr_cache!(Ipv6Addr, |_| Vec::new());
addr_cache!(MX, |mx| mx
    .exchanges
    .iter()
    .map(|n| hash_of(&**n))
    .collect());
