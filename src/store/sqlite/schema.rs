//! The SQLite schema as versioned migrations.
//!
//! `PRAGMA user_version` holds the number of migrations applied; migration
//! `i` of [`MIGRATIONS`] takes the database from version `i` to `i + 1`, in
//! one transaction together with the version bump, so a crash mid-migration
//! leaves the old version. Migrations are append-only: never edit one that
//! has shipped; `pg/schema.rs` has the same ones in PostgreSQL's types.

use crate::store::error::{ErrorKind, StoreError};
use crate::store::schema::{check_version, SCHEMA_VERSION};
use rusqlite::{Connection, TransactionBehavior};
use std::path::Path;
use std::sync::Arc;

/// Migrations in order; index `i` upgrades version `i` to `i + 1`.
pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: messages, with filter columns lowercased by the writer and the
    // full record as JSON; recipients for recipient search. `subject` is not
    // indexed: it is only searched by substring, which no B-tree helps.
    // AUTOINCREMENT so a purged id is never reused by a later copy.
    "CREATE TABLE messages (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        ts INTEGER NOT NULL,
        uid TEXT NOT NULL UNIQUE,
        gateway_ip TEXT NOT NULL,
        original_mailfrom TEXT,
        from_address TEXT,
        sender_domain TEXT,
        subject TEXT,
        spf_result TEXT,
        auth_source TEXT NOT NULL,
        msg_id TEXT,
        record TEXT NOT NULL
    );
    CREATE INDEX messages_ts ON messages (ts);
    CREATE INDEX messages_gateway_ip ON messages (gateway_ip, ts);
    CREATE INDEX messages_original_mailfrom ON messages (original_mailfrom);
    CREATE INDEX messages_from_address ON messages (from_address);
    CREATE INDEX messages_sender_domain ON messages (sender_domain, ts);
    CREATE INDEX messages_spf_result ON messages (spf_result, ts);
    CREATE INDEX messages_auth_source ON messages (auth_source, ts);
    CREATE INDEX messages_msg_id ON messages (msg_id);
    CREATE TABLE recipients (
        message_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
        address TEXT NOT NULL,
        PRIMARY KEY (message_id, address)
    ) WITHOUT ROWID;
    CREATE INDEX recipients_address ON recipients (address, message_id);",
    // 2: analysis and the columns the status page and search use; shared
    // state for alerts (deduplication across sensors sharing a store).
    "ALTER TABLE messages ADD COLUMN verdict TEXT;
    ALTER TABLE messages ADD COLUMN score INTEGER;
    ALTER TABLE messages ADD COLUMN dkim_result TEXT;
    ALTER TABLE messages ADD COLUMN dmarc_result TEXT;
    ALTER TABLE messages ADD COLUMN gateway_helo TEXT;
    ALTER TABLE messages ADD COLUMN tls INTEGER;
    CREATE INDEX messages_verdict ON messages (verdict, ts);
    CREATE INDEX messages_score ON messages (score, ts);
    CREATE TABLE alerts (
        dedup_key TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        first_ts INTEGER NOT NULL,
        last_ts INTEGER NOT NULL,
        count INTEGER NOT NULL
    );",
    // 3: content-derived idempotency (a retried copy, possibly to another
    // sensor of a fleet, is stored once); NULL (no Message-ID) never
    // conflicts.
    "ALTER TABLE messages ADD COLUMN content_key TEXT;
    CREATE UNIQUE INDEX messages_content_key ON messages (content_key);",
];

/// Brings the database to [`SCHEMA_VERSION`]; a no-op when it is there, an
/// error when it is newer (written by a later authsense).
///
/// The version is read inside each migration's write transaction, so two
/// processes opening a new database at once cannot both apply a migration.
pub(crate) fn migrate(conn: &mut Connection, path: &Arc<Path>) -> Result<(), StoreError> {
    let fail = |e: rusqlite::Error| {
        StoreError::new(ErrorKind::Schema, "migrate schema", path, e.to_string())
    };
    let version =
        |c: &Connection| c.pragma_query_value(None, "user_version", |r| r.get::<_, u32>(0));
    loop {
        let found = version(conn).map_err(fail)?;
        check_version(found, path)?;
        if found == SCHEMA_VERSION {
            return Ok(());
        }
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(fail)?;
        let found = version(&tx).map_err(fail)?;
        check_version(found, path)?;
        if let Some(sql) = MIGRATIONS.get(found as usize) {
            tx.execute_batch(sql).map_err(fail)?;
            tx.pragma_update(None, "user_version", found + 1)
                .map_err(fail)?;
            tx.commit().map_err(fail)?;
            tracing::info!(path = %path.display(), version = found + 1, "store schema migrated");
        }
    }
}
