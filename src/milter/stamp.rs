//! The perimeter's headers: which incoming ones are forgeries to delete
//! (RFC 8601 §5) and the stamp that replaces them, in the exact shape of the
//! vendor guide: `<authserv-id>; spf=<result> smtp.mailfrom=<sender> smtp.helo=<helo>`.

use crate::auth::{DmarcVerdict, MessageChecks, SpfVerdict};
use crate::authres::{self, AuthResults, MethodResult, Property};
use crate::config::Method;
use std::net::IpAddr;

/// The header the sensor reads first.
pub const X_AGARI: &str = "X-Agari-Authentication-Results";
/// The standard header (RFC 8601).
pub const AUTH_RESULTS: &str = "Authentication-Results";

/// Incoming headers to delete, as 1-based indexes per header name (the milter
/// protocol's `SMFIR_CHGHEADER` addressing).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Forgeries {
    x_agari_seen: i32,
    ar_seen: i32,
    /// Indexes of `X-Agari-Authentication-Results` headers (all of them).
    pub x_agari: Vec<i32>,
    /// Indexes of `Authentication-Results` headers that claim our authserv-id
    /// or whose authserv-id cannot be parsed.
    pub ar: Vec<i32>,
}

impl Forgeries {
    /// Looks at one incoming header.
    pub fn observe(&mut self, name: &str, value: &str, our_id: &str) {
        if name.eq_ignore_ascii_case(X_AGARI) {
            self.x_agari_seen += 1;
            self.x_agari.push(self.x_agari_seen);
        } else if name.eq_ignore_ascii_case(AUTH_RESULTS) {
            self.ar_seen += 1;
            let ours = authres::authserv_id(value)
                .map(|id| id.eq_ignore_ascii_case(our_id))
                .unwrap_or(true);
            if ours {
                self.ar.push(self.ar_seen);
            }
        }
    }

    /// Number of headers to delete.
    pub fn len(&self) -> usize {
        self.x_agari.len() + self.ar.len()
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
        xa.chain(ar)
    }
}

fn prop(ptype: &str, property: &str, value: &str) -> Property {
    Property {
        ptype: ptype.into(),
        property: property.into(),
        value: value.into(),
    }
}

fn result(method: &str, result: &str, reason: Option<&str>, props: Vec<Property>) -> MethodResult {
    MethodResult {
        method: method.into(),
        method_version: None,
        result: result.into(),
        reason: reason.map(str::to_string),
        props,
    }
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
        if authres::is_token(&d.from_domain) {
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
    /// `spf=${SPFResult} smtp.mailfrom=${OriginalSender} smtp.helo=${Helo}`.
    pub fn x_agari(&self, authserv_id: &str, methods: &[Method]) -> String {
        let results = methods.iter().flat_map(|m| self.method(*m, true)).collect();
        AuthResults {
            authserv_id: authserv_id.into(),
            version: None,
            results,
        }
        .to_string()
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
        .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{SpfCheck, SpfResult};

    fn verdict(mf: SpfResult, identity: &str) -> SpfVerdict {
        SpfVerdict {
            helo: SpfCheck {
                result: SpfResult::None,
                identity: "postmaster@h".into(),
                explanation: None,
            },
            mail_from: SpfCheck {
                result: mf,
                identity: identity.into(),
                explanation: None,
            },
            timed_out: false,
        }
    }

    #[test]
    fn stamp_is_the_guides_shape() {
        let v = verdict(SpfResult::Pass, "user@example.org");
        let r = |helo, v| Results {
            helo,
            ip: [192, 0, 2, 1].into(),
            spf: v,
            checks: None,
            dmarc: None,
        };
        assert_eq!(
            r("mail.example.org", &v).x_agari("mx.example.com", &[Method::Spf]),
            "mx.example.com; spf=pass smtp.mailfrom=user@example.org smtp.helo=mail.example.org"
        );
        let v = verdict(SpfResult::None, "postmaster@[192.0.2.1]");
        assert_eq!(
            r("[192.0.2.1]", &v).x_agari("mx.example.com", &[Method::Spf]),
            "mx.example.com; spf=none smtp.mailfrom=\"postmaster@[192.0.2.1]\" smtp.helo=\"[192.0.2.1]\""
        );
    }

    #[test]
    fn forged_headers_by_name_and_id() {
        let mut f = Forgeries::default();
        f.observe(
            "x-agari-authentication-results",
            "other.example; spf=pass",
            "mx.example.com",
        );
        f.observe(
            "Authentication-Results",
            "other.example; spf=pass",
            "mx.example.com",
        );
        f.observe(
            "Authentication-Results",
            "(c) \"MX.Example.COM\" ; spf=pass",
            "mx.example.com",
        );
        f.observe(
            "Authentication-Results",
            "mx.example.com/1; spf=pass",
            "mx.example.com",
        );
        f.observe(
            "X-Agari-Authentication-Results",
            "mx.example.com; spf=pass",
            "mx.example.com",
        );
        f.observe("Received", "from x", "mx.example.com");
        let got: Vec<_> = f.deletions().collect();
        assert_eq!(
            got,
            [
                (X_AGARI, 2),
                (X_AGARI, 1),
                (AUTH_RESULTS, 3),
                (AUTH_RESULTS, 2)
            ]
        );
    }
}
