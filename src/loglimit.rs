//! One log line per key (a peer address, a `Host:` value) per interval,
//! carrying how many events it stands for, so a flood of refused
//! connections or requests cannot flood the log.
//!
//! The first event of a key is logged at once (count 1); later ones are
//! counted and the first event after the interval is logged with the count
//! of events since the previous line (itself included). Counts still
//! pending when a flood stops are reported with the key's next event.
//!
//! Memory is bounded: at most `cap` keys are tracked. When the table is
//! full, keys whose interval has passed are forgotten (at most once a
//! second; their pending counts move to the shared "other keys" entry),
//! and if it is still full, events of new keys are counted together in
//! that entry, logged at most once per interval as [`Line::key`] `None`.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A line to log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line<K> {
    /// The key, or `None` for keys not tracked separately (table full).
    pub key: Option<K>,
    /// Events since the previous line for this key.
    pub count: u64,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    logged: Option<Instant>,
    pending: u64,
}

impl Entry {
    /// Counts one event at `now`; the count to log if the interval passed.
    fn hit(&mut self, now: Instant, every: Duration) -> Option<u64> {
        self.pending += 1;
        let due = self
            .logged
            .is_none_or(|t| now.saturating_duration_since(t) >= every);
        if !due {
            return None;
        }
        self.logged = Some(now);
        Some(std::mem::take(&mut self.pending))
    }
}

struct State<K> {
    keys: HashMap<K, Entry>,
    others: Entry,
    pruned: Option<Instant>,
}

/// Rate limiter for one kind of log line.
pub struct LogLimiter<K> {
    every: Duration,
    cap: usize,
    state: Mutex<State<K>>,
}

impl<K: Hash + Eq + Clone> LogLimiter<K> {
    /// At most one line per key per `every`, for at most `cap` keys.
    pub fn new(every: Duration, cap: usize) -> Self {
        LogLimiter {
            every,
            cap,
            state: Mutex::new(State {
                keys: HashMap::new(),
                others: Entry {
                    logged: None,
                    pending: 0,
                },
                pruned: None,
            }),
        }
    }

    /// The interval.
    pub fn every(&self) -> Duration {
        self.every
    }

    /// Counts an event of `key` at `now`; the line to log, if one is due.
    pub fn hit(&self, key: K, now: Instant) -> Option<Line<K>> {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let st = &mut *st;
        if let Some(e) = st.keys.get_mut(&key) {
            let count = e.hit(now, self.every)?;
            return Some(Line {
                key: Some(key),
                count,
            });
        }
        if st.keys.len() >= self.cap {
            self.prune(st, now);
        }
        if st.keys.len() < self.cap {
            let mut e = Entry {
                logged: None,
                pending: 0,
            };
            let count = e.hit(now, self.every)?;
            st.keys.insert(key.clone(), e);
            return Some(Line {
                key: Some(key),
                count,
            });
        }
        let count = st.others.hit(now, self.every)?;
        Some(Line { key: None, count })
    }

    /// Forgets the keys whose interval has passed (at most once a second).
    fn prune(&self, st: &mut State<K>, now: Instant) {
        let recent = st
            .pruned
            .is_some_and(|t| now.saturating_duration_since(t) < Duration::from_secs(1));
        if recent {
            return;
        }
        st.pruned = Some(now);
        let every = self.every;
        let mut moved = 0;
        st.keys.retain(|_, e| {
            let quiet = e
                .logged
                .is_none_or(|t| now.saturating_duration_since(t) >= every);
            if quiet {
                moved += e.pending;
            }
            !quiet
        });
        st.others.pending += moved;
    }

    /// Keys tracked separately now.
    pub fn tracked(&self) -> usize {
        let st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.keys.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    fn line(key: &str, count: u64) -> Option<Line<String>> {
        Some(Line {
            key: Some(key.to_string()),
            count,
        })
    }

    #[test]
    fn one_line_per_key_per_interval_with_the_count() {
        let l = LogLimiter::new(MIN, 100);
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        assert_eq!(l.hit("a".to_string(), t0), line("a", 1), "first at once");
        for s in 1..=30 {
            assert_eq!(l.hit("a".to_string(), at(s)), None);
        }
        assert_eq!(l.hit("b".to_string(), at(5)), line("b", 1), "per key");
        assert_eq!(l.hit("a".to_string(), at(59)), None);
        assert_eq!(
            l.hit("a".to_string(), at(60)),
            line("a", 32),
            "the 31 held back and this one"
        );
        assert_eq!(l.hit("a".to_string(), at(61)), None);
        assert_eq!(l.hit("a".to_string(), at(200)), line("a", 2));
    }

    #[test]
    fn a_full_table_counts_new_keys_together() {
        let l = LogLimiter::new(MIN, 3);
        let t0 = Instant::now();
        for k in ["a", "b", "c"] {
            assert_eq!(l.hit(k.to_string(), t0), line(k, 1));
        }
        l.hit("a".to_string(), t0);
        let others = l.hit("d".to_string(), t0);
        assert_eq!(
            others,
            Some(Line {
                key: None,
                count: 1
            })
        );
        for k in ["e", "f", "g"] {
            assert_eq!(l.hit(k.to_string(), t0 + Duration::from_secs(2)), None);
        }
        assert_eq!(l.tracked(), 3, "bounded");
        // A minute on, the quiet keys are forgotten; "a"'s pending count
        // goes to the shared entry, which is due again.
        let t1 = t0 + MIN;
        assert_eq!(l.hit("h".to_string(), t1), line("h", 1));
        assert_eq!(l.tracked(), 1);
        let t2 = t1 + Duration::from_secs(30);
        for k in ["i", "j"] {
            assert_eq!(l.hit(k.to_string(), t2), line(k, 1));
        }
        // Table full again (h, i, j), none of them quiet for a minute.
        assert_eq!(
            l.hit("k".to_string(), t2),
            Some(Line {
                key: None,
                count: 5
            }),
            "e, f, g, a's pending one and k"
        );
    }
}
