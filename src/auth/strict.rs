//! Where the strict tag-list reading ([`super::dkim_tags`]) overrides
//! mail-auth: which headers of a parsed message are signatures and seals,
//! the DKIM outcome of a refused signature, the ARC chain's refusal, and the
//! same corrections applied to mail-auth's own outputs before our ARC sealer
//! writes them into an ARC-Authentication-Results and chooses `cv=`.
//!
//! A header counts as a DKIM-Signature, ARC-Message-Signature or ARC-Seal if
//! its name says so (case-insensitively, trailing whitespace before the
//! colon ignored) or if mail-auth filed it as one, so nothing mail-auth
//! verifies escapes the strict reading.

use super::dkim_tags::{self, Kind, Refusal};
use super::message::Outcome;
use mail_auth::{
    arc::ArcError, dkim::DkimError, ArcOutput, AuthenticatedMessage, DkimOutput, DkimResult, Error,
};

/// The same header value (by identity: mail-auth keeps slices of the raw
/// message).
fn same(a: &[u8], b: &[u8]) -> bool {
    std::ptr::eq(a, b)
}

fn named(name: &[u8], want: &str) -> bool {
    name.trim_ascii_end().eq_ignore_ascii_case(want.as_bytes())
}

/// The kind of header `(name, value)` of `msg` is, if it is a signature or
/// seal.
fn kind_of(msg: &AuthenticatedMessage<'_>, name: &[u8], value: &[u8]) -> Option<Kind> {
    if named(name, "DKIM-Signature") || msg.dkim_headers.iter().any(|h| same(h.value, value)) {
        Some(Kind::Dkim)
    } else if named(name, "ARC-Message-Signature")
        || msg.ams_headers.iter().any(|h| same(h.value, value))
    {
        Some(Kind::Ams)
    } else if named(name, "ARC-Seal") || msg.as_headers.iter().any(|h| same(h.value, value)) {
        Some(Kind::Seal)
    } else {
        None
    }
}

/// Every DKIM-Signature value of `msg`, in header order, with the strict
/// reading's refusal if any.
pub(super) fn dkim_headers<'x>(msg: &AuthenticatedMessage<'x>) -> Vec<(&'x [u8], Option<Refusal>)> {
    msg.headers
        .iter()
        .filter(|(n, v)| kind_of(msg, n, v) == Some(Kind::Dkim))
        .map(|(_, v)| (*v, dkim_tags::check(Kind::Dkim, v).err()))
        .collect()
}

/// The DKIM outcome of a refused signature: `fail` for rsa-sha1 (RFC 8301
/// §3.1: the signature is well-formed but must not verify), `permerror` for
/// an invalid header (RFC 6376 §6.1.1 PERMFAIL, RFC 8601 §2.7.1: a later
/// attempt will not do better).
pub(super) fn refused_outcome(r: &Refusal) -> Outcome {
    if r.is_weak() {
        Outcome::Fail
    } else {
        Outcome::PermError
    }
}

/// The outcome of a DKIM-Signature the strict reading accepts but
/// mail-auth's parser rejected: `neutral` for an `l=` tag (mail-auth's
/// policy, as before), `permerror` otherwise; with mail-auth's reason.
pub(super) fn parse_error(msg: &AuthenticatedMessage<'_>, value: &[u8]) -> (Outcome, String) {
    match msg.errors.iter().find(|e| same(e.value, value)) {
        Some(e) if e.header == Error::Dkim(DkimError::SignatureLength) => {
            (Outcome::Neutral, e.header.to_string())
        }
        Some(e) => (Outcome::PermError, e.header.to_string()),
        None => (Outcome::PermError, "signature not parsed".into()),
    }
}

/// Why the ARC chain of `msg` fails before any signature is checked: the
/// first ARC-Seal or ARC-Message-Signature the strict reading refuses.
pub(super) fn arc_refusal(msg: &AuthenticatedMessage<'_>) -> Option<String> {
    msg.headers.iter().find_map(|(n, v)| {
        let kind = kind_of(msg, n, v).filter(|k| *k != Kind::Dkim)?;
        let r = dkim_tags::check(kind, v).err()?;
        Some(format!("{}: {r}", kind.header()))
    })
}

/// mail-auth's DKIM outputs with every signature the strict reading refuses
/// turned into a `fail` (rsa-sha1) or `permerror`, for our ARC set's
/// ARC-Authentication-Results.
pub(super) fn enforce_dkim<'x>(
    msg: &'x AuthenticatedMessage<'x>,
    outputs: Vec<DkimOutput<'x>>,
) -> Vec<DkimOutput<'x>> {
    outputs
        .into_iter()
        .map(|o| {
            let header = o.signature().and_then(|sig| {
                msg.dkim_headers
                    .iter()
                    .find(|h| std::ptr::eq(&h.header, sig))
            });
            let Some(h) = header else {
                return o;
            };
            let refused = match dkim_tags::check(Kind::Dkim, h.value) {
                Ok(_) => return o,
                Err(Refusal::WeakAlgorithm) => {
                    DkimOutput::fail(Error::Dkim(DkimError::UnsupportedAlgorithm))
                }
                Err(Refusal::UnknownAlgorithm) => {
                    DkimOutput::perm_err(Error::Dkim(DkimError::UnsupportedAlgorithm))
                }
                Err(Refusal::MissingTag(_)) => DkimOutput::perm_err(Error::MissingParameters),
                Err(Refusal::Syntax(_)) => DkimOutput::perm_err(Error::ParseError),
            };
            refused.with_signature(&h.header)
        })
        .collect()
}

/// mail-auth's ARC output, failed when the strict reading refuses one of
/// the chain's headers, so our seal says `cv=fail` (RFC 8617 §5.1.2) and
/// our ARC-Authentication-Results `arc=fail`.
pub(super) fn enforce_arc<'x>(msg: &AuthenticatedMessage<'_>, arc: ArcOutput<'x>) -> ArcOutput<'x> {
    if arc_refusal(msg).is_some() {
        arc.with_result(DkimResult::Fail(Error::Arc(ArcError::BrokenChain)))
    } else {
        arc
    }
}
