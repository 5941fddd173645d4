//! `PgError`, the typed error of connecting, migrating and running the broker, and the mapping
//! of driver errors to the `StoreError`s the chat-core traits promise.

use chat_core::{BrokerError, Conflict, Entity, StoreError};
use thiserror::Error;

/// What connecting, migrating or running the broker can fail with.
#[derive(Debug, Error)]
pub enum PgError {
    /// The schema name is not a plain lower-case identifier.
    #[error(
        "invalid schema name {0:?}: use 1 to 63 characters among a-z, 0-9 and '_', not starting with a digit"
    )]
    InvalidSchema(String),
    /// The database holds a schema written by a newer version of this crate.
    #[error(
        "database schema version {found} is newer than the {supported} this build knows: upgrade the application"
    )]
    SchemaTooNew {
        /// Version found in the database.
        found: i64,
        /// Newest version this build can migrate to.
        supported: i64,
    },
    /// A migration recorded as applied differs from the one embedded in this build.
    #[error("migration {version} applied to the database differs from the one in this build")]
    MigrationChanged {
        /// The version whose checksum differs.
        version: i64,
    },
    /// An event does not fit in one NOTIFY payload.
    #[error("event payload of {len} bytes exceeds the NOTIFY limit of {max} bytes")]
    PayloadTooLarge {
        /// Encoded size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// An event could not be encoded.
    #[error("encoding an event failed: {0}")]
    Encode(#[from] serde_json::Error),
    /// An operation kept meeting conflicting concurrent transactions and gave up.
    #[error("{0}: gave up after repeated conflicting concurrent transactions")]
    Contended(&'static str),
    /// The driver or the server failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The broker was shut down.
    #[error("the broker is shut down")]
    Closed,
}

impl From<PgError> for BrokerError {
    fn from(e: PgError) -> Self {
        match e {
            PgError::Closed => BrokerError::Closed,
            other => BrokerError::Backend(Box::new(other)),
        }
    }
}

/// Whether a driver error is a unique violation (SQLSTATE 23505).
pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .is_some_and(|d| d.code().is_some_and(|c| c == "23505"))
}

/// The foreign-key constraint a driver error violated (SQLSTATE 23503), if it is one.
pub(crate) fn foreign_key_violation(e: &sqlx::Error) -> Option<String> {
    let d = e.as_database_error()?;
    if d.code().is_some_and(|c| c == "23503") {
        Some(d.constraint().unwrap_or_default().to_owned())
    } else {
        None
    }
}

/// Wraps any other driver error.
pub(crate) fn backend(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::PoolClosed => StoreError::Closed,
        other => StoreError::backend(PgError::Database(other)),
    }
}

/// Maps a unique violation to `Conflict(conflict)` and anything else to a backend error.
pub(crate) fn conflict_or_backend(e: sqlx::Error, conflict: Conflict) -> StoreError {
    if is_unique_violation(&e) {
        StoreError::Conflict(conflict)
    } else {
        missing_or_backend(e)
    }
}

/// Maps a foreign-key violation to `NotFound` of the entity the constraint points at (the
/// constraint names of the migrations are `<table>_<column>_fkey`), anything else to a backend
/// error.
pub(crate) fn missing_or_backend(e: sqlx::Error) -> StoreError {
    match foreign_key_violation(&e) {
        Some(constraint) if constraint.ends_with("room_id_fkey") => {
            StoreError::NotFound(Entity::Room)
        }
        Some(_) => StoreError::NotFound(Entity::User),
        None => backend(e),
    }
}
