//! Checks on the whole message at end of data: DKIM (RFC 6376, ed25519 per
//! RFC 8463), ARC chain validation (RFC 8617) and iprev (RFC 8601 §3), run
//! concurrently under the message's remaining time budget. DMARC builds on
//! the DKIM results ([`super::dmarc`]). Every signature and seal is first
//! read strictly ([`super::dkim_tags`] via [`super::strict`]): rsa-sha1 and
//! malformed tag-lists never pass, whatever mail-auth says.

use super::{dkim_tags, strict, Authenticator, Authors};
use mail_auth::{dkim::Signature, AuthenticatedMessage, DkimResult, IprevResult, Parameters};
use std::{fmt, net::IpAddr, time::Duration};

/// A result keyword for dkim, arc or iprev (RFC 8601 §2.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing to check (no signature, no ARC set, no PTR).
    None,
    /// Verified.
    Pass,
    /// Verification failed.
    Fail,
    /// Not verified, e.g. over the size cap (dkim only).
    Neutral,
    /// Signature valid but refused by local policy (dkim only).
    Policy,
    /// Transient (DNS) failure.
    TempError,
    /// Unrecoverable error (bad record or signature syntax).
    PermError,
}

impl Outcome {
    /// The lowercase keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::None => "none",
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::Neutral => "neutral",
            Outcome::Policy => "policy",
            Outcome::TempError => "temperror",
            Outcome::PermError => "permerror",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One DKIM signature's verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DkimCheck {
    /// Result.
    pub result: Outcome,
    /// Why, for anything but pass.
    pub reason: Option<String>,
    /// Signing domain (`d=`).
    pub domain: String,
    /// Selector (`s=`).
    pub selector: String,
    /// Agent or user identifier (`i=`), if given.
    pub identity: Option<String>,
    /// First 8 characters of the signature (`b=`), to tell signatures apart
    /// (RFC 6008).
    pub b_prefix: String,
}

/// The ARC chain's validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArcCheck {
    /// none, pass or fail (RFC 8617 §4.4: cv).
    pub result: Outcome,
    /// Why, for a fail.
    pub reason: Option<String>,
}

/// Forward-confirmed reverse DNS of the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IprevCheck {
    /// Result.
    pub result: Outcome,
    /// The confirmed (or first) PTR name.
    pub ptr: Option<String>,
}

/// DKIM, ARC and iprev for one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageChecks {
    /// One entry per DKIM-Signature header, in header order.
    pub dkim: Vec<DkimCheck>,
    /// ARC.
    pub arc: ArcCheck,
    /// iprev.
    pub iprev: IprevCheck,
    /// The authors DMARC evaluates: every `From:` field read with the
    /// shared RFC 5322 parser, not mail-auth's (which keeps CFWS in the
    /// domain).
    pub authors: Authors,
}

impl Authenticator {
    /// Verifies DKIM signatures and the ARC chain of `raw` (a CRLF message)
    /// and iprev of `ip`, within `budget`. With `body_verified = false` (the
    /// body was over the size cap) every signature is reported `neutral`
    /// without verification (RFC 8601 §2.7.1) rather than stalling the MTA.
    pub async fn check_message(
        &self,
        raw: &[u8],
        ip: IpAddr,
        body_verified: bool,
        budget: Duration,
    ) -> MessageChecks {
        let ip = ip.to_canonical();
        let Some(msg) = AuthenticatedMessage::parse(raw) else {
            return MessageChecks {
                dkim: Vec::new(),
                arc: ArcCheck {
                    result: Outcome::None,
                    reason: None,
                },
                iprev: self.iprev(ip, budget).await,
                authors: Authors::from_fields(Vec::<String>::new()),
            };
        };
        // obs-optional (RFC 5322 §4.5.3) allows white space before the colon.
        let authors = Authors::from_fields(
            msg.headers
                .iter()
                .filter(|(name, _)| name.trim_ascii().eq_ignore_ascii_case(b"from"))
                .map(|(_, value)| String::from_utf8_lossy(value)),
        );
        let dkim = self.dkim(&msg, body_verified);
        // A seal or results header without its message signature is a broken
        // chain (RFC 8617 §5.2), not "no chain" as mail-auth counts it.
        let arc_present = !(msg.ams_headers.is_empty()
            && msg.as_headers.is_empty()
            && msg.aar_headers.is_empty());
        let arc = self.arc(&msg, arc_present);
        let iprev = self.iprev(ip, budget);
        let all = async { tokio::join!(dkim, arc, iprev) };
        match tokio::time::timeout(budget, all).await {
            Ok((dkim, arc, iprev)) => MessageChecks {
                dkim,
                arc,
                iprev,
                authors,
            },
            Err(_) => MessageChecks {
                dkim: timed_out(&msg),
                arc: ArcCheck {
                    result: if arc_present {
                        Outcome::Fail
                    } else {
                        Outcome::None
                    },
                    reason: Some("time budget exhausted".into()),
                },
                iprev: IprevCheck {
                    result: Outcome::TempError,
                    ptr: None,
                },
                authors,
            },
        }
    }

    /// Every DKIM signature of `msg` (only read, not verified, when the
    /// body is over the size cap).
    async fn dkim(&self, msg: &AuthenticatedMessage<'_>, body_verified: bool) -> Vec<DkimCheck> {
        if !body_verified {
            return unverified(msg);
        }
        let out = self.resolver.verify_dkim(Parameters::new(msg)).await;
        dkim_checks(msg, |sig| {
            out.iter()
                .find(|o| o.signature().is_some_and(|s| std::ptr::eq(s, sig)))
                .map_or((Outcome::PermError, Some("not verified".into())), |o| {
                    dkim_outcome(o.result())
                })
        })
    }

    /// The ARC chain of `msg`: pass, fail or none (RFC 8617 §4.4).
    async fn arc(&self, msg: &AuthenticatedMessage<'_>, arc_present: bool) -> ArcCheck {
        // Weak or invalid headers fail the chain whatever mail-auth says
        // (RFC 8301 §3.1, RFC 6376 §3.2, RFC 8617 §4.1.2).
        if let Some(why) = strict::arc_refusal(msg) {
            return ArcCheck {
                result: Outcome::Fail,
                reason: Some(why),
            };
        }
        if arc_present && msg.ams_headers.is_empty() {
            return ArcCheck {
                result: Outcome::Fail,
                reason: Some("ARC set without ARC-Message-Signature".into()),
            };
        }
        let out = self.resolver.verify_arc(Parameters::new(msg)).await;
        let (result, reason) = match dkim_outcome(out.result()) {
            (Outcome::Pass, r) => (Outcome::Pass, r),
            (Outcome::None, r) => (Outcome::None, r),
            (_, r) => (Outcome::Fail, r),
        };
        ArcCheck { result, reason }
    }

    async fn iprev(&self, ip: IpAddr, budget: Duration) -> IprevCheck {
        let check = self.resolver.verify_iprev(Parameters::new(ip));
        let Ok(out) = tokio::time::timeout(budget, check).await else {
            return IprevCheck {
                result: Outcome::TempError,
                ptr: None,
            };
        };
        let ptr = out
            .ptr
            .as_ref()
            .and_then(|p| p.first())
            .map(|n| n.trim_end_matches('.').to_ascii_lowercase());
        let result = match out.result {
            IprevResult::Pass => Outcome::Pass,
            IprevResult::Fail(_) => Outcome::Fail,
            IprevResult::TempError(_) => Outcome::TempError,
            IprevResult::PermError(_) => Outcome::PermError,
            IprevResult::None => Outcome::None,
        };
        IprevCheck { result, ptr }
    }
}

fn dkim_outcome(r: &DkimResult) -> (Outcome, Option<String>) {
    match r {
        DkimResult::Pass => (Outcome::Pass, None),
        // A body that does not match its signed hash failed verification
        // (RFC 6376 §6.1.3; RFC 8601 §2.7.1 "fail"); mail-auth says neutral.
        DkimResult::Neutral(
            e @ mail_auth::Error::Dkim(mail_auth::dkim::DkimError::FailedBodyHashMatch),
        ) => (Outcome::Fail, Some(e.to_string())),
        DkimResult::Neutral(e) => (Outcome::Neutral, Some(e.to_string())),
        DkimResult::Fail(e) => (Outcome::Fail, Some(e.to_string())),
        DkimResult::PermError(e) => (Outcome::PermError, Some(e.to_string())),
        DkimResult::TempError(e) => (Outcome::TempError, Some(e.to_string())),
        DkimResult::None => (Outcome::None, None),
    }
}

/// Every signature as `neutral`: the body was not verified.
fn unverified(msg: &AuthenticatedMessage<'_>) -> Vec<DkimCheck> {
    dkim_checks(msg, |_| {
        (
            Outcome::Neutral,
            Some("message over the size cap, not verified".into()),
        )
    })
}

fn timed_out(msg: &AuthenticatedMessage<'_>) -> Vec<DkimCheck> {
    dkim_checks(msg, |_| {
        (Outcome::TempError, Some("time budget exhausted".into()))
    })
}

/// One check per DKIM-Signature header, in header order: the strict
/// reading's refusal ([`strict`]), else `verified` for a signature mail-auth
/// parsed, else mail-auth's parse error.
fn dkim_checks(
    msg: &AuthenticatedMessage<'_>,
    verified: impl Fn(&Signature) -> (Outcome, Option<String>),
) -> Vec<DkimCheck> {
    strict::dkim_headers(msg)
        .into_iter()
        .map(|(value, refusal)| {
            if let Some(r) = refusal {
                return as_written(value, strict::refused_outcome(&r), r.to_string());
            }
            let Some(h) = msg
                .dkim_headers
                .iter()
                .find(|h| std::ptr::eq(h.value, value))
            else {
                let (result, reason) = strict::parse_error(msg, value);
                return as_written(value, result, reason);
            };
            let (result, reason) = verified(&h.header);
            let sig = &h.header;
            DkimCheck {
                result,
                reason,
                domain: sig.d.to_ascii_lowercase(),
                selector: sig.s.clone(),
                identity: Some(sig.i.clone()).filter(|i| !i.is_empty()),
                b_prefix: b_prefix(&sig.b),
            }
        })
        .collect()
}

/// A check for a signature mail-auth did not parse (or we refused), its
/// tags read loosely from the header as written.
fn as_written(value: &[u8], result: Outcome, reason: String) -> DkimCheck {
    let tag = |t| dkim_tags::loose(value, t).unwrap_or_default();
    DkimCheck {
        result,
        reason: Some(reason),
        domain: tag("d").to_ascii_lowercase(),
        selector: tag("s"),
        identity: Some(tag("i")).filter(|i| !i.is_empty()),
        b_prefix: tag("b").chars().take(8).collect(),
    }
}

/// RFC 6008: the first 8 base64 characters of the signature.
fn b_prefix(b: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(8);
    for chunk in b.chunks(3).take(2) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &c)| n | u32::from(c) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::b_prefix;

    #[test]
    fn signature_prefix_is_base64_of_six_bytes() {
        assert_eq!(b_prefix(b"123456789"), "MTIzNDU2");
        assert_eq!(b_prefix(b"abcdef"), "YWJjZGVm");
        assert_eq!(b_prefix(b"ab"), "YWI");
        assert_eq!(b_prefix(b""), "");
    }
}
