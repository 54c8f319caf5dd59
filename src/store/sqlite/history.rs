//! Sender history for the analysis (`first-seen-domain`): whether a sender
//! domain was stored before. One indexed lookup on
//! `messages (sender_domain, ts)`, read from the last committed snapshot, so
//! every sensor writing to this database shares the answer.

use super::ReadPool;
use crate::store::error::StoreError;
use crate::store::sql;

/// Whether any stored record has this `sender_domain`; `domain` is
/// normalised by the caller (`seen::normalise`: lowercased, as the writer
/// stores it).
pub(super) fn seen_sender_domain(pool: &ReadPool, domain: &str) -> Result<bool, StoreError> {
    pool.with_conn("history", |c| {
        c.prepare_cached(sql::SENDER_DOMAIN_SEEN)?
            .query_row([domain], |r| r.get::<_, bool>(0))
    })
}

#[cfg(test)]
mod tests {
    use crate::store::{sql, Store, StoreOptions};

    /// The lookup is a search of the sender_domain index, not a table scan.
    #[test]
    fn uses_the_index() {
        let dir = std::env::temp_dir().join(format!("authsense-history-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let store = Store::open(&dir.join("h.db"), StoreOptions::default()).unwrap();
        let conn = rusqlite::Connection::open(dir.join("h.db")).unwrap();
        let plan: Vec<String> = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {}", sql::SENDER_DOMAIN_SEEN))
            .unwrap()
            .query_map(["example.com"], |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(
            plan.iter()
                .any(|p| p.contains("USING COVERING INDEX messages_sender_domain")),
            "{plan:?}"
        );
        assert!(!store.seen_sender_domain("example.com").unwrap());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
