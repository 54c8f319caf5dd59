//! Rules on who the mail comes from: `reply-to-mismatch` (answers would go
//! to another organisational domain than `From:`) and `first-seen-domain`
//! (the sender domain was never stored before, asked through
//! [`History`]).
//!
//! "Before" means a record already committed when this copy is analysed:
//! two copies of one new domain arriving at the same moment may both be
//! flagged, and with two sensors each copy of one message is analysed on
//! its own (the second may find the first).

use super::{domain_of, from_domain, org_of, reason, sender_domain, History};
use crate::model::{Reason, Record};

pub(super) fn check(rec: &Record, history: &dyn History, out: &mut Vec<Reason>) {
    reply_to(rec, out);
    first_seen(rec, history, out);
}

fn reply_to(rec: &Record, out: &mut Vec<Reason>) {
    let Some(from) = from_domain(rec) else {
        return;
    };
    let org = org_of(&from);
    let mut others: Vec<String> = rec
        .reply_to
        .iter()
        .filter_map(|m| m.address.as_deref().and_then(domain_of))
        .filter(|d| org_of(d) != org)
        .collect();
    others.dedup();
    if !others.is_empty() {
        out.push(reason(
            "reply-to-mismatch",
            2,
            format!("Reply-To goes to {} but From is {from}", others.join(", ")),
        ));
    }
}

fn first_seen(rec: &Record, history: &dyn History, out: &mut Vec<Reason>) {
    let Some(domain) = sender_domain(rec) else {
        return;
    };
    match history.seen_sender_domain(&domain) {
        Ok(true) => {}
        Ok(false) => out.push(reason(
            "first-seen-domain",
            1,
            format!("first message from sender domain {domain}"),
        )),
        Err(e) => {
            tracing::warn!(uid = %rec.uid, %domain, error = %e, "sender history unavailable, first-seen-domain skipped");
        }
    }
}
