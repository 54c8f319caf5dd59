//! DMARC evaluation as RFC 7489 specifies it: policy discovery at the From
//! domain, else at its organizational domain from the Public Suffix List
//! (§6.6.3, [`super::psl`]), identifier alignment (§3.1) of the SPF and DKIM
//! results the caller already has, and `pct` sampling (§6.6.4).
//!
//! `mail-auth`'s own `verify_dmarc` implements DMARCbis's DNS tree walk and a
//! record model without `pct`, so neither its discovery nor its parser is
//! used here; the record is parsed by [`super::dmarc_record`]. DNS goes
//! through the shared resolver and its cache.

use super::dmarc_record::{DmarcRecord, RecordError};
use super::{Authenticator, SpfResult};
use crate::model::{normalize_domain as normalize, organizational_domain};
use mail_auth::hickory_resolver::proto::rr::{Name, RData};
use std::fmt;

/// What DMARC is evaluated on: the From domain and the SPF and DKIM results
/// of one message.
#[derive(Debug, Clone, Copy)]
pub struct DmarcInput<'a> {
    /// The RFC 5322.From domain (§3.1); empty or invalid gives `none`.
    pub from_domain: &'a str,
    /// The SPF result of the MAIL FROM identity (§3.1.2).
    pub spf_result: SpfResult,
    /// The MAIL FROM domain (the HELO domain for the null reverse-path, as
    /// SPF checked it, RFC 7208 §2.4).
    pub spf_domain: &'a str,
    /// The `d=` of every DKIM signature that verified (`dkim=pass`).
    pub dkim_pass_domains: &'a [&'a str],
}

/// A DMARC result (RFC 7489 §11.2), as written into Authentication-Results
/// (RFC 8601 §2.7.1 registry).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DmarcResult {
    /// A record was found and SPF or DKIM is aligned and passed.
    Pass,
    /// A record was found and neither identifier aligned with a pass.
    Fail,
    /// No (single, valid-version) record at the From or organizational
    /// domain, or no usable From domain.
    None,
    /// A DNS error while looking the record up.
    TempError,
    /// The record has no valid policy (§6.6.3 step 6, no valid `rua`).
    PermError,
}

impl DmarcResult {
    /// The lowercase result keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            DmarcResult::Pass => "pass",
            DmarcResult::Fail => "fail",
            DmarcResult::None => "none",
            DmarcResult::TempError => "temperror",
            DmarcResult::PermError => "permerror",
        }
    }
}

impl fmt::Display for DmarcResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A Domain Owner's requested policy (§6.3 `p`, `sp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DmarcPolicy {
    /// Monitor only.
    None,
    /// Treat failing mail as suspicious.
    Quarantine,
    /// Reject failing mail at SMTP.
    Reject,
}

impl DmarcPolicy {
    /// The keyword as in the record.
    pub fn as_str(self) -> &'static str {
        match self {
            DmarcPolicy::None => "none",
            DmarcPolicy::Quarantine => "quarantine",
            DmarcPolicy::Reject => "reject",
        }
    }

    /// The policy for a message that `pct` sampling left out (§6.6.4):
    /// `reject` becomes `quarantine`, `quarantine` becomes `none`.
    pub fn next_lower(self) -> DmarcPolicy {
        match self {
            DmarcPolicy::Reject => DmarcPolicy::Quarantine,
            DmarcPolicy::Quarantine | DmarcPolicy::None => DmarcPolicy::None,
        }
    }
}

impl fmt::Display for DmarcPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Identifier alignment mode (§3.1.1, §3.1.2; `adkim`, `aspf` in §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlignmentMode {
    /// The organizational domains are equal (the default).
    Relaxed,
    /// The domains are equal.
    Strict,
}

/// The outcome of one DMARC evaluation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DmarcVerdict {
    /// The result.
    pub result: DmarcResult,
    /// The From domain, lowercased without a trailing dot (as given when it
    /// is not a valid domain).
    pub from_domain: String,
    /// The published policy that applies to this From domain: `p`, or `sp`
    /// (default `p`) when the record came from the organizational domain.
    /// Set for pass and fail; `None` when no record applies.
    pub policy: Option<DmarcPolicy>,
    /// For a fail, what a receiver enacting the policy does after `pct`
    /// sampling (§6.6.4): `policy` when the message is sampled in, else the
    /// next lower policy. `None` unless the result is fail.
    pub applied_policy: Option<DmarcPolicy>,
    /// SPF passed and its domain is aligned with the From domain (§3.1.2).
    pub spf_aligned: bool,
    /// Some passing DKIM signature's `d=` is aligned (§3.1.1).
    pub dkim_aligned: bool,
    /// Where the record was found: the From domain or its organizational
    /// domain, without the `_dmarc.` prefix.
    pub record_domain: Option<String>,
}

/// Whether `identifier` (an SPF or DKIM domain) is aligned with the From
/// domain `from` (§3.1): under [`AlignmentMode::Strict`] the names must be
/// equal, under [`AlignmentMode::Relaxed`] equal or with equal
/// organizational domains (§3.2). Case and a trailing dot are ignored; an
/// invalid name (empty label, space, …) never aligns.
pub fn aligned(identifier: &str, from: &str, mode: AlignmentMode) -> bool {
    let (Some(id), Some(from)) = (normalize(identifier), normalize(from)) else {
        return false;
    };
    if id == from {
        return true;
    }
    mode == AlignmentMode::Relaxed
        && matches!(
            (organizational_domain(&id), organizational_domain(&from)),
            (Some(a), Some(b)) if a == b
        )
}

/// Whether a message whose `pct_roll` (0–99) was drawn is subject to a
/// policy with this `pct` (§6.6.4): rolls below `pct` are. Rolls above 99
/// count as 99.
pub fn sampled_in(pct: u8, pct_roll: u8) -> bool {
    pct_roll.min(99) < pct
}

/// One DMARC policy record lookup's outcome.
enum Discovery {
    /// A DNS error (temperror).
    DnsError,
    /// No record applies (none).
    NoRecord,
    /// One DMARC record at this domain.
    Found(String, Result<DmarcRecord, RecordError>),
}

impl Authenticator {
    /// Evaluates DMARC (RFC 7489 §6.6) for one message.
    ///
    /// `pct_roll` is the message's sample in 0–99 for `pct` (§6.6.4): a
    /// failing message is subject to the published policy when
    /// `pct_roll < pct`; callers derive it deterministically from the message
    /// (for example a hash of its queue id), so a retried delivery gets the
    /// same treatment. Alignment is reported for every result, in the
    /// record's modes or, with no record, the relaxed defaults.
    pub async fn check_dmarc(&self, input: &DmarcInput<'_>, pct_roll: u8) -> DmarcVerdict {
        let Some(from) = normalize(input.from_domain) else {
            return DmarcVerdict {
                result: DmarcResult::None,
                from_domain: input.from_domain.to_string(),
                policy: None,
                applied_policy: None,
                spf_aligned: false,
                dkim_aligned: false,
                record_domain: None,
            };
        };
        let discovery = self.discover(&from).await;
        let record = match &discovery {
            Discovery::Found(_, Ok(record)) => Some(*record),
            _ => None,
        };
        let (adkim, aspf) = record.map_or((AlignmentMode::Relaxed, AlignmentMode::Relaxed), |r| {
            (r.adkim, r.aspf)
        });
        let spf_aligned =
            input.spf_result == SpfResult::Pass && aligned(input.spf_domain, &from, aspf);
        let dkim_aligned = input
            .dkim_pass_domains
            .iter()
            .any(|d| aligned(d, &from, adkim));
        let mut verdict = DmarcVerdict {
            result: DmarcResult::None,
            from_domain: from.clone(),
            policy: None,
            applied_policy: None,
            spf_aligned,
            dkim_aligned,
            record_domain: None,
        };
        match discovery {
            Discovery::DnsError => verdict.result = DmarcResult::TempError,
            Discovery::NoRecord => {}
            Discovery::Found(domain, Err(_)) => {
                verdict.result = DmarcResult::PermError;
                verdict.record_domain = Some(domain);
            }
            Discovery::Found(domain, Ok(record)) => {
                let policy = record.policy_for(domain != from);
                verdict.policy = Some(policy);
                verdict.record_domain = Some(domain);
                if spf_aligned || dkim_aligned {
                    verdict.result = DmarcResult::Pass;
                } else {
                    verdict.result = DmarcResult::Fail;
                    verdict.applied_policy = Some(if sampled_in(record.pct, pct_roll) {
                        policy
                    } else {
                        policy.next_lower()
                    });
                }
            }
        }
        verdict
    }

    /// Policy discovery (§6.6.3): `_dmarc.<from>`, and when that holds no
    /// DMARC record, `_dmarc.<organizational domain>`. More than one DMARC
    /// record at the name queried ends discovery with no record (step 5).
    async fn discover(&self, from: &str) -> Discovery {
        let records = match self.dmarc_records(from).await {
            Ok(records) => records,
            Err(()) => return Discovery::DnsError,
        };
        if let Some(found) = single(from, records) {
            return found;
        }
        let org = match organizational_domain(from) {
            Some(org) if org != from => org,
            _ => return Discovery::NoRecord,
        };
        match self.dmarc_records(&org).await {
            Ok(records) => single(&org, records).unwrap_or(Discovery::NoRecord),
            Err(()) => Discovery::DnsError,
        }
    }

    /// The TXT records at `_dmarc.<domain>` that start with `v=DMARC1`
    /// (§6.6.3 step 3), each parsed. No such name or no TXT records is an
    /// empty list; any other DNS failure is `Err`.
    async fn dmarc_records(
        &self,
        domain: &str,
    ) -> Result<Vec<Result<DmarcRecord, RecordError>>, ()> {
        // Absolute, so no search domain is appended; a name DNS cannot hold
        // (too long, unconvertible U-label) has no record.
        let Ok(name) = Name::from_utf8(format!("_dmarc.{domain}.")) else {
            return Ok(Vec::new());
        };
        match self.resolver.resolver().txt_lookup(name).await {
            Ok(lookup) => Ok(lookup
                .answers()
                .iter()
                .filter_map(|rr| match &rr.data {
                    RData::TXT(txt) => Some(DmarcRecord::parse(&String::from_utf8_lossy(
                        &txt.txt_data.concat(),
                    ))),
                    _ => None,
                })
                .filter(|r| *r != Err(RecordError::NotDmarc))
                .collect()),
            Err(e) if e.is_no_records_found() => Ok(Vec::new()),
            Err(e) => {
                tracing::debug!(%domain, error = %e, "DMARC record lookup failed");
                Err(())
            }
        }
    }
}

/// `Some(NoRecord)` for several records (step 5), `Some(Found)` for one,
/// `None` for none (go on to the organizational domain).
fn single(domain: &str, mut records: Vec<Result<DmarcRecord, RecordError>>) -> Option<Discovery> {
    match records.len() {
        0 => None,
        1 => records
            .pop()
            .map(|r| Discovery::Found(domain.to_string(), r)),
        _ => Some(Discovery::NoRecord),
    }
}
