//! Choosing the authentication results to believe, from the
//! `X-Agari-Authentication-Results` and `Authentication-Results` header
//! fields (RFC 8601) of a received copy, by the contract the milter keeps
//! ([`crate::headers::stamp`]).
//!
//! Only headers whose authserv-id is trusted count (RFC 8601 §5: anyone can
//! write an `Authentication-Results` header; a consumer believes only its
//! own ADMD's). The topmost header claiming a trusted id — X-Agari first,
//! then `Authentication-Results`, as the Agari sensor does — is the stamp.
//! It is believed only if it parses by the strict grammar and, for the ids
//! in `sealed`, carries a valid seal of our milter; otherwise the copy is
//! recorded as `tampered` with unknown results, and **no lower header is
//! used instead**. Trusted headers in the stamp's own group (above the
//! perimeter's `Received:`, the first one below the stamp) may add the
//! methods the stamp lacks; any below it are ignored.
//!
//! Results are normalised to the method's registered results (RFC 8601
//! §2.7, RFC 8617 §6 for ARC); anything else, notably a Proofpoint template
//! that was never expanded (`spf=${SPFResult}`), becomes `unknown`, which
//! no consumer may read as pass.

use crate::headers::authres::{self, AuthResults};
use crate::headers::seal::{Keys, Sealed};
use crate::headers::stamp::{self as contract, Kind};

use crate::model::{AuthInfo, AuthSource, MethodInfo};

pub use contract::{AUTH_RESULTS, X_AGARI};
pub use results::{normalise_result, smtp_property};

mod results;
use results::{add_results, disagreements, label};

/// What the sensor trusts.
#[derive(Debug, Clone, Copy)]
pub struct Trust<'a> {
    /// authserv-ids whose headers count (ASCII case-insensitive).
    pub trusted: &'a [String],
    /// Of those, the ids whose stamps need a valid seal.
    pub sealed: &'a [String],
    /// The seal keys and the message's body, when seals are checked.
    pub seal: Option<SealCheck<'a>>,
}

/// What checking a seal needs besides the header.
#[derive(Debug, Clone, Copy)]
pub struct SealCheck<'a> {
    /// Our seal keys.
    pub keys: &'a Keys,
    /// The message body as received (after the header's blank line).
    pub body: &'a [u8],
    /// The raw octets of each top-level header field's value, in the order
    /// of the headers given to [`choose`] (the seal binds octets, not their
    /// decoding).
    pub raw_values: &'a [&'a [u8]],
    /// Now, in Unix seconds.
    pub now: u64,
    /// Oldest seal accepted, seconds.
    pub max_age: u64,
}

/// Picks the authentication results from `top_level_headers` (name, raw
/// value, topmost first; only the message's own header, never a nested
/// message's) using the authserv-ids in `trusted`, without seals. See
/// [`choose`].
pub fn select(top_level_headers: &[(String, String)], trusted: &[String]) -> AuthInfo {
    select_with_index(top_level_headers, trusted).0
}

/// [`select`], also returning the index of the chosen header.
pub fn select_with_index(
    top_level_headers: &[(String, String)],
    trusted: &[String],
) -> (AuthInfo, Option<usize>) {
    let trust = Trust {
        trusted,
        sealed: &[],
        seal: None,
    };
    choose(top_level_headers, &trust)
}

/// One header that names a trusted authserv-id.
struct Candidate {
    index: usize,
    source: AuthSource,
    id: String,
    raw: String,
}

/// Chooses the stamp and reads its results (see the module documentation);
/// also returns the index in `top_level_headers` of the stamp (the
/// perimeter's `Received:` is the first one below it).
///
/// Every other trusted header of the stamp's group that parses is compared
/// with the stamp and each disagreement on spf, dmarc, arc or a dkim
/// signature (matched by `header.d`/`header.i`) adds a note such as
/// `spf: x-agari=pass authentication-results=fail`. The authserv-ids of
/// untrusted headers are listed once each in `untrusted_ids`.
pub fn choose(
    top_level_headers: &[(String, String)],
    trust: &Trust<'_>,
) -> (AuthInfo, Option<usize>) {
    let mut info = AuthInfo::default();
    let candidates = collect(top_level_headers, trust, &mut info);
    let chosen = [AuthSource::XAgari, AuthSource::AuthenticationResults]
        .iter()
        .find_map(|want| candidates.iter().find(|c| c.source == *want));
    let Some(stamp) = chosen else {
        return (info, None);
    };
    let hops: Vec<usize> = top_level_headers
        .iter()
        .enumerate()
        .filter(|(_, (n, _))| n.trim().eq_ignore_ascii_case("Received"))
        .map(|(i, _)| i)
        .collect();
    info.position = u32::try_from(stamp.index).ok();
    info.received_above = u32::try_from(hops.iter().filter(|&&i| i < stamp.index).count()).ok();
    info.authserv_id = Some(stamp.id.clone());
    info.raw = Some(stamp.raw.trim().to_string());
    let seal = seal_verdict(top_level_headers, &candidates, stamp, trust);
    let ar = match (authres::parse_strict(&stamp.raw), &seal) {
        (Err(e), _) => {
            let why = format!("unparsable stamp from {} ({e})", stamp.id);
            return (tampered(info, why), Some(stamp.index));
        }
        (Ok(_), Err(why)) if listed(trust.sealed, &stamp.id) => {
            let why = format!("stamp from {} without a valid seal: {why}", stamp.id);
            return (tampered(info, why), Some(stamp.index));
        }
        (Ok(ar), _) => ar,
    };
    info.source = stamp.source;
    info.sealed = seal.is_ok();
    add_results(&mut info, stamp.source, &ar, |_| true);
    // The stamp's group ends at the perimeter's Received below it.
    let group_end = hops.iter().copied().find(|&i| i > stamp.index);
    let covered = seal.as_ref().ok().copied().flatten();
    let others = group(&candidates, stamp, group_end, covered, trust, &mut info);
    // A method the stamp does not carry comes from the topmost header of
    // the other kind in its group that does.
    let carried: Vec<&str> = ar.results.iter().map(|r| r.method.as_str()).collect();
    if let Some((other_source, other)) = others.iter().find(|(s, _)| *s != stamp.source) {
        add_results(&mut info, *other_source, other, |m| !carried.contains(&m));
    }
    for (other_source, other) in &others {
        for note in disagreements((stamp.source, &ar), (*other_source, other)) {
            if !info.conflicts.contains(&note) {
                info.conflicts.push(note);
            }
        }
    }
    (info, Some(stamp.index))
}

/// The X-Agari and `Authentication-Results` headers that claim a trusted
/// authserv-id, topmost first; the untrusted ids go to `info`.
fn collect(headers: &[(String, String)], trust: &Trust<'_>, info: &mut AuthInfo) -> Vec<Candidate> {
    let mut candidates = Vec::new();
    for (index, (name, value)) in headers.iter().enumerate() {
        let source = match contract::kind(name) {
            Some(Kind::XAgari) => AuthSource::XAgari,
            Some(Kind::AuthResults) => AuthSource::AuthenticationResults,
            _ => continue,
        };
        let Some(id) = contract::claimed_id(value) else {
            continue;
        };
        if listed(trust.trusted, &id) {
            let raw = value.clone();
            candidates.push(Candidate {
                index,
                source,
                id,
                raw,
            });
        } else if !listed(&info.untrusted_ids, &id) {
            info.untrusted_ids.push(id);
        }
    }
    candidates
}

/// The other trusted headers of the stamp's group that parse: above the
/// perimeter's `Received:` (`group_end`), and covered by the seal when their
/// id needs one. The others are noted in `info` and left out.
fn group(
    candidates: &[Candidate],
    stamp: &Candidate,
    group_end: Option<usize>,
    covered: Option<usize>,
    trust: &Trust<'_>,
    info: &mut AuthInfo,
) -> Vec<(AuthSource, AuthResults)> {
    let mut others = Vec::new();
    for c in candidates.iter().filter(|c| c.index != stamp.index) {
        let below = group_end.is_some_and(|end| c.index > end);
        if below || (listed(trust.sealed, &c.id) && covered != Some(c.index)) {
            let (what, id) = (label(c.source), &c.id);
            info.conflicts.push(format!(
                "{what}: ignored header from {id} outside the stamp's group"
            ));
            continue;
        }
        match authres::parse_strict(&c.raw) {
            Ok(other) => others.push((c.source, other)),
            Err(e) => {
                let (what, id) = (label(c.source), &c.id);
                info.conflicts
                    .push(format!("{what}: unparsable header from {id} ({e})"));
            }
        }
    }
    others
}

/// Whether `id` is in `list` (ASCII case-insensitive).
fn listed(list: &[String], id: &str) -> bool {
    list.iter().any(|t| t.eq_ignore_ascii_case(id))
}

/// The record of a stamp that cannot be believed: results unknown.
fn tampered(mut info: AuthInfo, why: String) -> AuthInfo {
    let unknown = || MethodInfo {
        source: AuthSource::Tampered,
        result: "unknown".to_string(),
        reason: None,
        props: Vec::new(),
    };
    info.source = AuthSource::Tampered;
    info.spf = Some(unknown());
    info.dmarc = Some(unknown());
    info.tamper = Some(why);
    info
}

/// Checks the seals in the header against the stamp: `Ok(Some(i))` when a
/// seal verifies and also covers the `Authentication-Results` at index `i`,
/// `Ok(None)` when it covers the stamp alone, `Err` with the reason
/// otherwise. Only an X-Agari stamp can be sealed (our milter always writes
/// one); the sealed `Authentication-Results` is the first trusted one with
/// the stamp's id below it.
fn seal_verdict(
    headers: &[(String, String)],
    candidates: &[Candidate],
    stamp: &Candidate,
    trust: &Trust<'_>,
) -> Result<Option<usize>, String> {
    let check = trust.seal.ok_or("seals are not checked (no key)")?;
    if stamp.source != AuthSource::XAgari {
        return Err("only an X-Agari stamp is sealed".into());
    }
    let seals: Vec<&String> = headers
        .iter()
        .filter(|(n, _)| contract::kind(n) == Some(Kind::Seal))
        .map(|(_, v)| v)
        .collect();
    if seals.is_empty() {
        return Err("no seal".into());
    }
    let ar = candidates.iter().find(|c| {
        c.source == AuthSource::AuthenticationResults
            && c.index > stamp.index
            && c.id.eq_ignore_ascii_case(&stamp.id)
    });
    let mut bound = Sealed::default();
    for (i, (name, value)) in headers.iter().enumerate() {
        let raw = check.raw_values.get(i).copied().unwrap_or(value.as_bytes());
        bound.header(name, raw);
    }
    bound.body(check.body);
    let mut last = String::new();
    for seal in seals {
        let ar_value = ar.map(|c| c.raw.as_str());
        match bound.verify(
            seal,
            check.keys,
            &stamp.raw,
            ar_value,
            check.now,
            check.max_age,
        ) {
            Ok(true) => return Ok(ar.map(|c| c.index)),
            Ok(false) => return Ok(None),
            Err(e) => last = e,
        }
    }
    Err(last)
}

#[cfg(test)]
#[path = "trust_tests.rs"]
mod tests;
