//! The perimeter's headers: which incoming ones are forgeries to delete
//! (RFC 8601 §5) and the stamp that replaces them, in the exact shape of the
//! vendor guide: `<authserv-id>; spf=<result> smtp.mailfrom=<sender> smtp.helo=<helo>`.

use crate::auth::SpfVerdict;
use crate::authres::{self, AuthResults, MethodResult, Property};

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

fn spf_result(result: &str, props: Vec<Property>) -> MethodResult {
    MethodResult {
        method: "spf".into(),
        method_version: None,
        result: result.into(),
        reason: None,
        props,
    }
}

/// The `X-Agari-Authentication-Results` value: one `spf` result for the MAIL
/// FROM identity with both `smtp.mailfrom` and `smtp.helo`, byte for byte the
/// guide's `spf=${SPFResult} smtp.mailfrom=${OriginalSender} smtp.helo=${Helo}`.
pub fn x_agari_value(authserv_id: &str, helo: &str, verdict: &SpfVerdict) -> String {
    AuthResults {
        authserv_id: authserv_id.into(),
        version: None,
        results: vec![spf_result(
            verdict.mail_from.result.as_str(),
            vec![
                prop("smtp", "mailfrom", &verdict.mail_from.identity),
                prop("smtp", "helo", helo),
            ],
        )],
    }
    .to_string()
}

/// A standard `Authentication-Results` value with one result per identity
/// (RFC 8601 §2.7.2).
pub fn auth_results_value(authserv_id: &str, helo: &str, verdict: &SpfVerdict) -> String {
    AuthResults {
        authserv_id: authserv_id.into(),
        version: None,
        results: vec![
            spf_result(
                verdict.mail_from.result.as_str(),
                vec![prop("smtp", "mailfrom", &verdict.mail_from.identity)],
            ),
            spf_result(
                verdict.helo.result.as_str(),
                vec![prop("smtp", "helo", helo)],
            ),
        ],
    }
    .to_string()
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
        assert_eq!(
            x_agari_value("mx.example.com", "mail.example.org", &v),
            "mx.example.com; spf=pass smtp.mailfrom=user@example.org smtp.helo=mail.example.org"
        );
        let v = verdict(SpfResult::None, "postmaster@[192.0.2.1]");
        assert_eq!(
            x_agari_value("mx.example.com", "[192.0.2.1]", &v),
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
