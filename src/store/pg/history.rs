//! Sender history for the analysis (`first-seen-domain`) on PostgreSQL:
//! whether a sender domain was stored before, by any sensor sharing the
//! database; one search of the `(sender_domain, ts)` index.

use super::PgReadPool;
use crate::store::error::StoreError;
use crate::store::sql;

/// Whether any stored record has this `sender_domain`; `domain` is
/// normalised by the caller (`seen::normalise`).
pub(super) fn seen_sender_domain(pool: &PgReadPool, domain: &str) -> Result<bool, StoreError> {
    let query = sql::for_postgres(sql::SENDER_DOMAIN_SEEN);
    pool.with_client("history", |c| {
        Ok(c.query_one(query.as_str(), &[&domain])?.get::<_, bool>(0))
    })
}
