//! Versioned schema migrations, embedded in the binary. The schema version lives in
//! `PRAGMA user_version`; each migration runs in its own transaction together with the bump of
//! that version, so a crash leaves the file at a whole version.

use crate::error::SqliteError;
use rusqlite::{Connection, TransactionBehavior};

/// Marks a file as a chat database (`PRAGMA application_id`): ASCII "CHAT".
pub(crate) const APPLICATION_ID: i32 = 0x4348_4154;

/// The migrations, in order: migration `i` (1-based) brings the schema to version `i`.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_initial.sql"),
    include_str!("../migrations/0002_search_file.sql"),
    include_str!("../migrations/0003_client_ids.sql"),
    include_str!("../migrations/0004_client_id_index.sql"),
    include_str!("../migrations/0005_external_users.sql"),
];

/// The newest schema version this code knows.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// What a file holds before migration, read without writing anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Found {
    /// `PRAGMA user_version`.
    pub version: i64,
    /// `PRAGMA application_id`.
    pub application_id: i32,
    /// Whether the schema holds any table.
    pub has_tables: bool,
}

/// Reads the version, application id and whether there are tables. Read-only.
pub(crate) fn inspect(conn: &Connection) -> rusqlite::Result<Found> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let application_id: i32 = conn.query_row("PRAGMA application_id", [], |r| r.get(0))?;
    let has_tables: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table')",
        [],
        |r| r.get(0),
    )?;
    Ok(Found {
        version,
        application_id,
        has_tables,
    })
}

/// Refuses files this code must not touch: newer schema, or another application's database.
pub(crate) fn check(found: Found, path: &std::path::Path) -> Result<(), SqliteError> {
    if found.version > SCHEMA_VERSION {
        return Err(SqliteError::SchemaTooNew {
            found: found.version,
            supported: SCHEMA_VERSION,
        });
    }
    let foreign_id = found.application_id != 0 && found.application_id != APPLICATION_ID;
    let foreign_tables = found.version == 0 && found.has_tables;
    if foreign_id || foreign_tables {
        return Err(SqliteError::ForeignDatabase {
            path: path.to_path_buf(),
        });
    }
    Ok(())
}

/// Applies every migration the file lacks. Each runs in an immediate transaction that re-reads
/// the version first, so two processes migrating the same file at once do not collide.
pub(crate) fn migrate(conn: &mut Connection, path: &std::path::Path) -> Result<(), SqliteError> {
    for (index, sql) in MIGRATIONS.iter().enumerate() {
        let version = index as i64 + 1;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|source| SqliteError::Migration { version, source })?;
        let found = inspect(&tx).map_err(|source| SqliteError::Migration { version, source })?;
        check(found, path)?;
        if found.version >= version {
            continue;
        }
        let run = || -> rusqlite::Result<()> {
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", version)?;
            tx.pragma_update(None, "application_id", APPLICATION_ID)?;
            Ok(())
        };
        run().map_err(|source| SqliteError::Migration { version, source })?;
        tx.commit()
            .map_err(|source| SqliteError::Migration { version, source })?;
        tracing::info!(version, path = %path.display(), "migrated the chat database");
    }
    Ok(())
}
