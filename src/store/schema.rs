//! The schema version, the same on both backends: each keeps its
//! migrations in `<backend>/schema.rs`, one for one (migration `i` takes
//! version `i` to `i + 1`; append-only: never edit one that has shipped),
//! and records the version applied in its own way.

use super::error::{ErrorKind, StoreError};
use super::{pg, sqlite};
use std::path::Path;
use std::sync::Arc;

/// The schema version this program writes and reads.
pub const SCHEMA_VERSION: u32 = sqlite::schema::MIGRATIONS.len() as u32;

// Both backends migrate to the same version.
const _: () = assert!(pg::schema::MIGRATIONS.len() == sqlite::schema::MIGRATIONS.len());

/// `Err` when the database's schema version `found` is newer than
/// [`SCHEMA_VERSION`] (written by a later authsense).
pub(crate) fn check_version(found: u32, path: &Arc<Path>) -> Result<(), StoreError> {
    if found > SCHEMA_VERSION {
        return Err(StoreError::new(
            ErrorKind::Schema,
            "open",
            path,
            format!(
                "database schema version {found} is newer than this authsense supports \
                 ({SCHEMA_VERSION}); upgrade authsense or use another database"
            ),
        ));
    }
    Ok(())
}
