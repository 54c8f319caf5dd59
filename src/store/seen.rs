//! A bounded memory of the sender domains the store is known to hold, in
//! front of the analysis's history lookup (`first-seen-domain`): once a
//! domain has been found stored, later copies from it need no query (an
//! index lookup on SQLite, a network round trip on PostgreSQL, for every
//! copy otherwise).
//!
//! Only "stored" answers are remembered, and they stay true until records
//! are deleted. So the memory is forgotten whole when this store's purge
//! deletes any record, when it is full, and once an hour (for purges run by
//! another sensor sharing a PostgreSQL store). A domain not found is asked
//! again every time: its first record may be committed at any moment.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Most domains remembered before the memory starts over.
const CAPACITY: usize = 65_536;
/// Longest a domain is remembered.
const MAX_AGE: Duration = Duration::from_secs(3600);

/// Sender domains known to be stored.
pub(crate) struct SeenDomains {
    inner: Mutex<Memory>,
}

struct Memory {
    domains: HashSet<String>,
    /// The writer's count of purged records when this memory began.
    purged: u64,
    since: Instant,
}

impl SeenDomains {
    pub fn new() -> SeenDomains {
        SeenDomains {
            inner: Mutex::new(Memory {
                domains: HashSet::new(),
                purged: 0,
                since: Instant::now(),
            }),
        }
    }

    /// Whether `domain` (normalised) is remembered as stored. `purged`: the
    /// writer's current count of purged records.
    pub fn contains(&self, domain: &str, purged: u64) -> bool {
        let mut m = self.lock();
        if m.purged != purged || m.since.elapsed() >= MAX_AGE {
            m.domains.clear();
            m.purged = purged;
            m.since = Instant::now();
            return false;
        }
        m.domains.contains(domain)
    }

    /// Remembers that `domain` (normalised) is stored, as read while the
    /// writer's count of purged records was `purged`.
    pub fn remember(&self, domain: String, purged: u64) {
        let mut m = self.lock();
        if m.purged != purged {
            return;
        }
        if m.domains.len() >= CAPACITY {
            m.domains.clear();
            m.since = Instant::now();
        }
        m.domains.insert(domain);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Memory> {
        // A panic while holding this lock cannot leave the set half-updated
        // in a way that matters: it only ever holds true answers.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The form the store compares sender domains in.
pub(crate) fn normalise(domain: &str) -> String {
    domain.trim().trim_end_matches('.').to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_only_until_a_purge() {
        let seen = SeenDomains::new();
        assert!(!seen.contains("example.com", 0));
        seen.remember("example.com".into(), 0);
        assert!(seen.contains("example.com", 0));
        assert!(!seen.contains("example.org", 0));
        // A purge deleted records: everything is forgotten.
        assert!(!seen.contains("example.com", 3));
        // An answer read before that purge is not taken.
        seen.remember("example.com".into(), 0);
        assert!(!seen.contains("example.com", 3));
        seen.remember("example.com".into(), 3);
        assert!(seen.contains("example.com", 3));
    }

    #[test]
    fn starts_over_when_full() {
        let seen = SeenDomains::new();
        for i in 0..CAPACITY {
            seen.remember(format!("d{i}.example"), 0);
        }
        assert!(seen.contains("d0.example", 0));
        seen.remember("one-more.example".into(), 0);
        assert!(!seen.contains("d0.example", 0));
        assert!(seen.contains("one-more.example", 0));
    }

    #[test]
    fn normalises_like_the_store() {
        assert_eq!(normalise(" Example.COM. "), "example.com");
    }
}
