//! Alert budgets: token buckets per alert kind, per kind and sender domain
//! (threat alerts and recipient warnings), and one overall cap, so an
//! outsider who sends junk from a few domains spends only those domains'
//! share and cannot silence the alert another domain's message deserves.
//!
//! Every bucket holds its hour's budget, starts full and refills evenly. An
//! alert takes one token from each bucket that applies, or none when any of
//! them is empty (it then goes into the digest, `digest.rs`). The table of
//! sender domains is capped at [`MAX_DOMAINS`]: when it is full, buckets
//! that have refilled completely (the same as a new one) are forgotten; if
//! none has, an alert from a domain not yet in the table is held back as if
//! its domain were over budget (it goes into the digest, not lost).

use crate::config::Budgets;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// Sender domains tracked at once.
pub const MAX_DOMAINS: usize = 10_000;

/// The kinds of alert mail, each with its own budget and digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// Threat alert to the admins.
    Threat,
    /// Warning to an original recipient.
    Warning,
    /// Health alert to the admins.
    Health,
}

impl Kind {
    /// Every kind, in digest order.
    pub const ALL: [Kind; 3] = [Kind::Threat, Kind::Warning, Kind::Health];

    /// The metrics label: `threat`, `warning`, `health`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Threat => "threat",
            Kind::Warning => "warning",
            Kind::Health => "health",
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    /// Whether this kind also has a budget per sender domain.
    pub fn per_domain(self) -> bool {
        matches!(self, Kind::Threat | Kind::Warning)
    }
}

/// The budget that was empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// The sender domain's (`per_domain_per_hour`).
    Domain,
    /// The kind's (`threat_per_hour`, …).
    Kind,
    /// The overall cap (`max_per_hour`).
    Overall,
}

impl Limit {
    /// The configuration key that set it, for logs and digests.
    pub fn key(self, kind: Kind) -> &'static str {
        match (self, kind) {
            (Limit::Domain, _) => "per_domain_per_hour",
            (Limit::Kind, Kind::Threat) => "threat_per_hour",
            (Limit::Kind, Kind::Warning) => "warning_per_hour",
            (Limit::Kind, Kind::Health) => "health_per_hour",
            (Limit::Overall, _) => "max_per_hour",
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn full(per_hour: u32, now: Instant) -> Bucket {
        Bucket {
            tokens: f64::from(per_hour),
            at: now,
        }
    }

    /// Refills up to `now`; true if a token is there.
    fn ready(&mut self, per_hour: u32, now: Instant) -> bool {
        let rate = f64::from(per_hour);
        let hours = now.saturating_duration_since(self.at).as_secs_f64() / 3600.0;
        self.tokens = (self.tokens + hours * rate).min(rate);
        self.at = now.max(self.at);
        self.tokens >= 1.0
    }
}

struct State {
    overall: Bucket,
    kinds: [Bucket; 3],
    domains: HashMap<(Kind, String), Bucket>,
}

/// The budgets of one alerter (per process, as `max_per_hour` always was).
pub struct Meter {
    budgets: Budgets,
    state: Mutex<State>,
}

impl Meter {
    /// Every bucket full as of `now`.
    pub fn new(budgets: Budgets, now: Instant) -> Meter {
        let kinds = Kind::ALL.map(|k| Bucket::full(Self::rate(&budgets, k), now));
        Meter {
            state: Mutex::new(State {
                overall: Bucket::full(budgets.overall, now),
                kinds,
                domains: HashMap::new(),
            }),
            budgets,
        }
    }

    fn rate(b: &Budgets, kind: Kind) -> u32 {
        match kind {
            Kind::Threat => b.threat,
            Kind::Warning => b.warning,
            Kind::Health => b.health,
        }
    }

    /// The budgets this meter enforces.
    pub fn budgets(&self) -> Budgets {
        self.budgets
    }

    /// Takes one token from each budget that applies to an alert of `kind`
    /// about a message from `domain` (ignored for health alerts; `""` for
    /// a message without a From domain), or none and says which was empty.
    ///
    /// # Errors
    /// The budget that stopped the alert (checked domain, kind, overall).
    pub fn take(&self, kind: Kind, domain: &str, now: Instant) -> Result<(), Limit> {
        let b = self.budgets;
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let st = &mut *st;
        let key = (kind, domain.to_string());
        if kind.per_domain() {
            if !st.domains.contains_key(&key) && !make_room(&mut st.domains, b.per_domain, now) {
                return Err(Limit::Domain);
            }
            let bucket = st
                .domains
                .entry(key.clone())
                .or_insert_with(|| Bucket::full(b.per_domain, now));
            if !bucket.ready(b.per_domain, now) {
                return Err(Limit::Domain);
            }
        }
        if !st.kinds[kind.index()].ready(Self::rate(&b, kind), now) {
            return Err(Limit::Kind);
        }
        if !st.overall.ready(b.overall, now) {
            return Err(Limit::Overall);
        }
        if let Some(d) = kind
            .per_domain()
            .then(|| st.domains.get_mut(&key))
            .flatten()
        {
            d.tokens -= 1.0;
        }
        st.kinds[kind.index()].tokens -= 1.0;
        st.overall.tokens -= 1.0;
        Ok(())
    }
}

/// True if the domain table has room for one more, after forgetting the
/// buckets that are full again.
fn make_room(domains: &mut HashMap<(Kind, String), Bucket>, per_hour: u32, now: Instant) -> bool {
    if domains.len() < MAX_DOMAINS {
        return true;
    }
    let full = f64::from(per_hour);
    domains.retain(|_, b| {
        b.ready(per_hour, now);
        b.tokens < full
    });
    domains.len() < MAX_DOMAINS
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn budgets(overall: u32, threat: u32, warning: u32, health: u32, per_domain: u32) -> Budgets {
        Budgets {
            overall,
            threat,
            warning,
            health,
            per_domain,
        }
    }

    #[test]
    fn one_domain_cannot_spend_another_domains_budget() {
        let t0 = Instant::now();
        let m = Meter::new(budgets(100, 10, 10, 10, 2), t0);
        assert_eq!(m.take(Kind::Threat, "junk.test", t0), Ok(()));
        assert_eq!(m.take(Kind::Threat, "junk.test", t0), Ok(()));
        for _ in 0..50 {
            assert_eq!(m.take(Kind::Threat, "junk.test", t0), Err(Limit::Domain));
        }
        // The junk spent nothing of the kind's budget beyond its own two.
        assert_eq!(m.take(Kind::Threat, "real.test", t0), Ok(()));
        // Warnings have their own bucket for the same domain.
        assert_eq!(m.take(Kind::Warning, "junk.test", t0), Ok(()));
    }

    #[test]
    fn kinds_and_the_overall_cap_are_separate_budgets() {
        let t0 = Instant::now();
        let m = Meter::new(budgets(4, 2, 5, 1, 10), t0);
        assert_eq!(m.take(Kind::Threat, "a.test", t0), Ok(()));
        assert_eq!(m.take(Kind::Threat, "b.test", t0), Ok(()));
        assert_eq!(m.take(Kind::Threat, "c.test", t0), Err(Limit::Kind));
        // Threats spent, health still has its own budget …
        assert_eq!(m.take(Kind::Health, "", t0), Ok(()));
        assert_eq!(m.take(Kind::Health, "", t0), Err(Limit::Kind));
        // … and the overall cap (4) stops warnings after one more.
        assert_eq!(m.take(Kind::Warning, "a.test", t0), Ok(()));
        assert_eq!(m.take(Kind::Warning, "b.test", t0), Err(Limit::Overall));
        assert_eq!(Limit::Overall.key(Kind::Warning), "max_per_hour");
        assert_eq!(Limit::Kind.key(Kind::Health), "health_per_hour");
    }

    #[test]
    fn a_refused_alert_takes_no_token() {
        let t0 = Instant::now();
        let m = Meter::new(budgets(10, 1, 1, 1, 5), t0);
        assert_eq!(m.take(Kind::Threat, "a.test", t0), Ok(()));
        // The kind is empty: a.test's domain bucket must not be charged.
        assert_eq!(m.take(Kind::Threat, "a.test", t0), Err(Limit::Kind));
        let st = m.state.lock().unwrap();
        let a = st.domains[&(Kind::Threat, "a.test".to_string())];
        assert!((a.tokens - 4.0).abs() < 1e-6, "{}", a.tokens);
        assert!((st.overall.tokens - 9.0).abs() < 1e-6);
    }

    #[test]
    fn buckets_refill_evenly_over_the_hour() {
        let t0 = Instant::now();
        let m = Meter::new(budgets(60, 60, 60, 60, 60), t0);
        for _ in 0..60 {
            assert_eq!(m.take(Kind::Health, "", t0), Ok(()));
        }
        assert_eq!(m.take(Kind::Health, "", t0), Err(Limit::Kind));
        let t1 = t0 + Duration::from_secs(30);
        assert_eq!(
            m.take(Kind::Health, "", t1),
            Err(Limit::Kind),
            "half a token"
        );
        let t2 = t0 + Duration::from_secs(61);
        assert_eq!(
            m.take(Kind::Health, "", t2),
            Ok(()),
            "one minute, one token"
        );
        assert_eq!(m.take(Kind::Health, "", t2), Err(Limit::Kind));
    }

    #[test]
    fn a_zero_budget_never_sends() {
        let t0 = Instant::now();
        let m = Meter::new(budgets(30, 0, 10, 10, 5), t0);
        let later = t0 + Duration::from_secs(7200);
        assert_eq!(m.take(Kind::Threat, "a.test", later), Err(Limit::Kind));
    }

    #[test]
    fn a_full_domain_table_holds_new_domains_back_until_buckets_refill() {
        let t0 = Instant::now();
        let m = Meter::new(budgets(u32::MAX, u32::MAX, u32::MAX, 1, 3), t0);
        for i in 0..MAX_DOMAINS {
            assert_eq!(m.take(Kind::Threat, &format!("d{i}.test"), t0), Ok(()));
        }
        assert_eq!(m.take(Kind::Threat, "new.test", t0), Err(Limit::Domain));
        // Known domains keep their own budget meanwhile.
        assert_eq!(m.take(Kind::Threat, "d7.test", t0), Ok(()));
        // Twenty minutes later one token is back everywhere: every bucket
        // but d7's is full again and forgotten.
        let t1 = t0 + Duration::from_secs(1200);
        assert_eq!(m.take(Kind::Threat, "new.test", t1), Ok(()));
        assert_eq!(m.state.lock().unwrap().domains.len(), 2);
    }
}
