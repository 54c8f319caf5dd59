//! The digest: alerts held back (a budget was empty, the queue was full, or
//! the relay refused the mail) are not dropped but collected here, and the
//! worker mails one digest per kind to the admins every `digest_interval`:
//! counts per sender domain, then one line per alert (record id and uid,
//! verdict, sender domain, subject, why it was held).
//!
//! Bounded: at most [`MAX_ITEMS`] lines and [`MAX_DOMAINS`] domain counts
//! per kind. Beyond that an alert is still counted in the totals (domains
//! beyond the cap under "other domains") but not listed: that is the one
//! place an alert loses its details, and the caller (`Context::hold`) logs
//! a malicious one at ERROR with its uid and counts it.

use super::budget::{Kind, Limit};
use super::mail::clean;
use super::Summary;
use crate::model::Verdict;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Duration;

/// Alerts listed per kind in one digest.
pub const MAX_ITEMS: usize = 500;

/// Sender domains counted separately per kind in one digest.
pub const MAX_DOMAINS: usize = 200;

/// Why an alert went into the digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// A budget was empty.
    Budget(Limit),
    /// The sensor's queue to the alert worker was full.
    QueueFull,
    /// The relay did not take the mail.
    SendFailed,
}

/// One held-back alert.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// Its kind.
    pub kind: Kind,
    /// Store row id of the record (threat alerts and warnings).
    pub id: Option<i64>,
    /// Record uid (empty for health alerts).
    pub uid: String,
    /// The record's verdict.
    pub verdict: Option<Verdict>,
    /// The record's score.
    pub score: Option<u8>,
    /// Sender domain (organisational domain of From), `""` if none.
    pub domain: String,
    /// The record's subject, or the health alert's.
    pub subject: String,
    /// The warned recipient (warnings).
    pub recipient: Option<String>,
    /// Why it was held.
    pub why: Why,
}

impl Item {
    /// A threat alert (or, with `recipient`, a warning) about `s`.
    pub fn record(s: &Summary, recipient: Option<&str>, why: Why) -> Item {
        Item {
            kind: if recipient.is_some() {
                Kind::Warning
            } else {
                Kind::Threat
            },
            id: Some(s.id),
            uid: s.uid.clone(),
            verdict: s.verdict,
            score: s.score,
            domain: s.sender_domain(),
            subject: s.subject.clone().unwrap_or_default(),
            recipient: recipient.map(str::to_string),
            why,
        }
    }

    /// A health alert with subject `subject`.
    pub fn health(subject: &str, why: Why) -> Item {
        Item {
            kind: Kind::Health,
            id: None,
            uid: String::new(),
            verdict: None,
            score: None,
            domain: String::new(),
            subject: subject.to_string(),
            recipient: None,
            why,
        }
    }
}

/// What is held back of one kind.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Pending {
    /// Alerts held, listed or not.
    pub total: u64,
    /// Alerts held per sender domain (threat alerts and warnings).
    pub by_domain: BTreeMap<String, u64>,
    /// Alerts from domains beyond [`MAX_DOMAINS`].
    pub other_domains: u64,
    /// The listed alerts, oldest first.
    pub items: Vec<Item>,
    /// Alerts counted but not listed.
    pub unlisted: u64,
}

impl Pending {
    /// Adds `item`; false if it could only be counted, not listed.
    pub fn add(&mut self, item: Item) -> bool {
        self.total += 1;
        if item.kind.per_domain() {
            let known = self.by_domain.contains_key(&item.domain);
            if known || self.by_domain.len() < MAX_DOMAINS {
                *self.by_domain.entry(item.domain.clone()).or_default() += 1;
            } else {
                self.other_domains += 1;
            }
        }
        if self.items.len() >= MAX_ITEMS {
            self.unlisted += 1;
            return false;
        }
        self.items.push(item);
        true
    }

    /// Puts `older` (a digest that could not be sent) back in front;
    /// returns the items that no longer fit.
    pub fn restore(&mut self, older: Pending) -> Vec<Item> {
        let newer = std::mem::replace(self, older);
        self.total += newer.total;
        self.unlisted += newer.unlisted;
        self.other_domains += newer.other_domains;
        for (d, n) in newer.by_domain {
            if self.by_domain.contains_key(&d) || self.by_domain.len() < MAX_DOMAINS {
                *self.by_domain.entry(d).or_default() += n;
            } else {
                self.other_domains += n;
            }
        }
        let mut overflow = Vec::new();
        for item in newer.items {
            if self.items.len() < MAX_ITEMS {
                self.items.push(item);
            } else {
                self.unlisted += 1;
                overflow.push(item);
            }
        }
        overflow
    }
}

/// The held-back alerts of every kind.
#[derive(Debug, Default)]
pub struct Digest {
    kinds: [Pending; 3],
}

impl Digest {
    /// Adds `item` to its kind's digest; false if it could not be listed.
    pub fn add(&mut self, item: Item) -> bool {
        let k = item.kind as usize;
        self.kinds[k].add(item)
    }

    /// Takes what is pending of `kind`, if anything.
    pub fn take(&mut self, kind: Kind) -> Option<Pending> {
        let p = std::mem::take(&mut self.kinds[kind as usize]);
        (p.total > 0).then_some(p)
    }

    /// Puts back a digest of `kind` that could not be sent (see
    /// [`Pending::restore`]).
    pub fn restore(&mut self, kind: Kind, older: Pending) -> Vec<Item> {
        self.kinds[kind as usize].restore(older)
    }
}

fn domain_name(d: &str) -> &str {
    if d.is_empty() {
        "(no From domain)"
    } else {
        d
    }
}

fn why(i: &Item) -> String {
    match i.why {
        Why::Budget(l) => format!("{} reached", l.key(i.kind)),
        Why::QueueFull => "alert queue full".into(),
        Why::SendFailed => "relay did not take the alert".into(),
    }
}

/// Subject and body of the digest of `kind` covering `interval`.
pub fn render(kind: Kind, p: &Pending, interval: Duration) -> (String, String) {
    let noun = match kind {
        Kind::Threat => "threat alerts",
        Kind::Warning => "recipient warnings",
        Kind::Health => "health alerts",
    };
    let subject = format!("[authsense] digest: {} {noun} held back", p.total);
    let mut b = String::new();
    let every = humantime::format_duration(interval);
    let _ = writeln!(
        b,
        "authsense held back {} {noun} (digest every {every}): an alert budget\n\
         was reached, the alert queue was full or the relay did not take the\n\
         mail. Nothing was lost: each line is a stored record.\n",
        p.total
    );
    if kind.per_domain() {
        b.push_str("By sender domain:\n");
        for (d, n) in &p.by_domain {
            let _ = writeln!(b, "  {:<40} {n}", clean(domain_name(d)));
        }
        if p.other_domains > 0 {
            let _ = writeln!(b, "  {:<40} {}", "(other domains)", p.other_domains);
        }
        b.push('\n');
    }
    b.push_str("Held back:\n");
    for i in &p.items {
        line(&mut b, i);
    }
    if p.unlisted > 0 {
        let _ = writeln!(b, "  … and {} more not listed", p.unlisted);
    }
    b.push_str("\nThe message body is never included in alerts.\n");
    (subject, b)
}

fn line(b: &mut String, i: &Item) {
    if i.kind == Kind::Health {
        let _ = writeln!(b, "  - {} ({})", clean(&i.subject), why(i));
        return;
    }
    let verdict = i.verdict.map_or("unanalysed", |v| v.as_str());
    let score = i.score.map_or(String::new(), |s| format!(" score {s}/10"));
    let _ = write!(
        b,
        "  - id {} uid {}: {verdict}{score}, from {}, subject \"{}\"",
        i.id.unwrap_or_default(),
        clean(&i.uid),
        clean(domain_name(&i.domain)),
        clean(&i.subject)
    );
    if let Some(r) = &i.recipient {
        let _ = write!(b, ", not warned: {}", clean(r));
    }
    let _ = writeln!(b, " ({}; /messages/{})", why(i), i.id.unwrap_or_default());
}

#[cfg(test)]
#[path = "digest_tests.rs"]
mod tests;
