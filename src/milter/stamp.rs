//! The perimeter's headers: which incoming ones are forgeries to delete
//! (RFC 8601 §5, by the shared rule of [`crate::headers::stamp`]) and the
//! stamp that replaces them, in the exact shape of the vendor guide:
//! `<authserv-id>; spf=<result> smtp.mailfrom=<sender> smtp.helo=<helo>`.
//! Property values longer than [`MAX_PVALUE`] are left out with a comment
//! and long stamps are folded, so no line of ours exceeds 998 octets.

use crate::auth::{DmarcVerdict, MessageChecks, SpfVerdict};
use crate::config::Method;
use crate::headers::authres::{AuthResults, MethodResult, Property};
use crate::headers::stamp::{self as contract, Kind, MAX_PVALUE};
use std::net::IpAddr;

pub use contract::{AUTH_RESULTS, SEAL, X_AGARI};

/// Incoming headers to delete, as 1-based indexes per header name (the milter
/// protocol's `SMFIR_CHGHEADER` addressing).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Forgeries {
    seen: [i32; 3],
    /// Indexes of `X-Agari-Authentication-Results` headers (all of them).
    pub x_agari: Vec<i32>,
    /// Indexes of `Authentication-Results` headers a reader could take as
    /// ours ([`contract::milter_deletes`]).
    pub ar: Vec<i32>,
    /// Indexes of `X-Authsense-Seal` headers (all of them).
    pub seal: Vec<i32>,
}

impl Forgeries {
    /// Looks at one incoming header.
    pub fn observe(&mut self, name: &str, value: &str, our_id: &str) {
        let Some(kind) = contract::kind(name) else {
            return;
        };
        let (slot, list) = match kind {
            Kind::XAgari => (0, &mut self.x_agari),
            Kind::AuthResults => (1, &mut self.ar),
            Kind::Seal => (2, &mut self.seal),
        };
        self.seen[slot] += 1;
        if contract::milter_deletes(name, value, our_id) {
            list.push(self.seen[slot]);
        }
    }

    /// Number of headers to delete.
    pub fn len(&self) -> usize {
        self.x_agari.len() + self.ar.len() + self.seal.len()
    }

    /// Nothing to delete.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `(name, index)` pairs in deletion order: per name from the highest
    /// index down, because Postfix renumbers after each delete (OpenDKIM
    /// bug #185).
    pub fn deletions(&self) -> impl Iterator<Item = (&'static str, i32)> + '_ {
        let xa = self.x_agari.iter().rev().map(|&i| (X_AGARI, i));
        let ar = self.ar.iter().rev().map(|&i| (AUTH_RESULTS, i));
        let seal = self.seal.iter().rev().map(|&i| (SEAL, i));
        xa.chain(ar).chain(seal)
    }
}

fn prop(ptype: &str, property: &str, value: &str) -> Property {
    Property {
        ptype: ptype.into(),
        property: property.into(),
        value: value.into(),
    }
}

/// A result; property values over [`MAX_PVALUE`] octets are left out and
/// named in a comment (an absurd HELO or MAIL FROM must not push the stamp
/// past the line limit, and a truncated value would be a wrong one).
fn result(method: &str, result: &str, reason: Option<&str>, props: Vec<Property>) -> MethodResult {
    let (props, long): (Vec<_>, Vec<_>) =
        props.into_iter().partition(|p| p.value.len() <= MAX_PVALUE);
    let comment = (!long.is_empty()).then(|| {
        let names: Vec<String> = long
            .iter()
            .map(|p| format!("{}.{} of {} octets", p.ptype, p.property, p.value.len()))
            .collect();
        format!("omitted: {}", names.join(", "))
    });
    MethodResult {
        method: method.into(),
        method_version: None,
        result: result.into(),
        reason: reason.map(|r| cap(r, MAX_PVALUE)),
        props,
        comment,
    }
}

/// `s` cut to at most `max` octets at a character boundary.
fn cap(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

/// Everything known about one message, ready to be written as results.
pub struct Results<'a> {
    /// The HELO name.
    pub helo: &'a str,
    /// The SMTP client's address.
    pub ip: IpAddr,
    /// SPF for both identities.
    pub spf: &'a SpfVerdict,
    /// DKIM, ARC and iprev (None when not evaluated).
    pub checks: Option<&'a MessageChecks>,
    /// DMARC (None when not evaluated).
    pub dmarc: Option<&'a DmarcVerdict>,
}

impl Results<'_> {
    /// The guide's compact spf result: the MAIL FROM result with both
    /// `smtp.mailfrom` and `smtp.helo`.
    fn spf_compact(&self) -> MethodResult {
        let mf = &self.spf.mail_from;
        result(
            "spf",
            mf.result.as_str(),
            None,
            vec![
                prop("smtp", "mailfrom", &mf.identity),
                prop("smtp", "helo", self.helo),
            ],
        )
    }

    /// RFC 8601 §2.7.2: one result per identity.
    fn spf_per_identity(&self) -> Vec<MethodResult> {
        let mf = &self.spf.mail_from;
        vec![
            result(
                "spf",
                mf.result.as_str(),
                None,
                vec![prop("smtp", "mailfrom", &mf.identity)],
            ),
            result(
                "spf",
                self.spf.helo.result.as_str(),
                None,
                vec![prop("smtp", "helo", self.helo)],
            ),
        ]
    }

    fn dkim(&self) -> Vec<MethodResult> {
        let Some(c) = self.checks else {
            return Vec::new();
        };
        if c.dkim.is_empty() {
            return vec![result("dkim", "none", None, Vec::new())];
        }
        c.dkim
            .iter()
            .map(|d| {
                let mut props = vec![
                    prop("header", "d", &d.domain),
                    prop("header", "s", &d.selector),
                ];
                if let Some(i) = &d.identity {
                    props.push(prop("header", "i", i));
                }
                if !d.b_prefix.is_empty() {
                    props.push(prop("header", "b", &d.b_prefix));
                }
                result("dkim", d.result.as_str(), d.reason.as_deref(), props)
            })
            .collect()
    }

    /// `dmarc=<result> header.from=<domain> policy.dmarc=<published policy>`,
    /// the decisive author domain's when there are several. `header.from`
    /// is left out when no domain can be named as a bare token (no usable
    /// `From:`), so it never carries CFWS or quotes.
    fn dmarc(&self) -> Vec<MethodResult> {
        let Some(d) = self.dmarc else {
            return match self.checks {
                Some(_) => vec![result("dmarc", "none", None, Vec::new())],
                None => Vec::new(),
            };
        };
        let mut props = Vec::new();
        if crate::headers::authres::is_token(&d.from_domain) {
            props.push(prop("header", "from", &d.from_domain));
        }
        if let Some(p) = d.policy {
            props.push(prop("policy", "dmarc", p.as_str()));
        }
        vec![result("dmarc", d.result.as_str(), None, props)]
    }

    fn arc(&self) -> Vec<MethodResult> {
        let Some(c) = self.checks else {
            return Vec::new();
        };
        let ip = self.ip.to_string();
        vec![result(
            "arc",
            c.arc.result.as_str(),
            None,
            vec![prop("smtp", "remote-ip", &ip)],
        )]
    }

    fn iprev(&self) -> Vec<MethodResult> {
        let Some(c) = self.checks else {
            return Vec::new();
        };
        let ip = self.ip.to_string();
        vec![result(
            "iprev",
            c.iprev.result.as_str(),
            None,
            vec![prop("policy", "iprev", &ip)],
        )]
    }

    fn method(&self, m: Method, compact_spf: bool) -> Vec<MethodResult> {
        match m {
            Method::Spf if compact_spf => vec![self.spf_compact()],
            Method::Spf => self.spf_per_identity(),
            Method::Dkim => self.dkim(),
            Method::Dmarc => self.dmarc(),
            Method::Arc => self.arc(),
            Method::Iprev => self.iprev(),
        }
    }

    /// The `X-Agari-Authentication-Results` value with `methods`; with the
    /// default `["spf"]` byte for byte the guide's
    /// `spf=${SPFResult} smtp.mailfrom=${OriginalSender} smtp.helo=${Helo}`
    /// (folded only if a line would exceed 998 octets).
    pub fn x_agari(&self, authserv_id: &str, methods: &[Method]) -> String {
        let results = methods.iter().flat_map(|m| self.method(*m, true)).collect();
        AuthResults {
            authserv_id: authserv_id.into(),
            version: None,
            results,
        }
        .to_header_value(X_AGARI)
    }

    /// A standard `Authentication-Results` value with every method.
    pub fn authentication_results(&self, authserv_id: &str) -> String {
        let all = [
            Method::Spf,
            Method::Dkim,
            Method::Dmarc,
            Method::Arc,
            Method::Iprev,
        ];
        let results = all.iter().flat_map(|m| self.method(*m, false)).collect();
        AuthResults {
            authserv_id: authserv_id.into(),
            version: None,
            results,
        }
        .to_header_value(AUTH_RESULTS)
    }
}

#[cfg(test)]
#[path = "stamp_tests.rs"]
mod tests;
