//! Errors of the SQLite store: [`SqliteError`] for opening, migrating and closing, and the
//! crate-internal [`Fail`] that store operations use before they answer a
//! [`StoreError`].

use chat_core::StoreError;
use std::path::PathBuf;
use thiserror::Error;

/// Everything that can go wrong when opening, migrating or closing a [`SqliteStore`](crate::SqliteStore).
///
/// Store operations answer [`StoreError`]; a `SqliteError` inside it appears as
/// [`StoreError::Backend`].
#[derive(Debug, Error)]
pub enum SqliteError {
    /// The file exists but is not a SQLite database. The file was not modified.
    #[error("{path} is not a SQLite database")]
    NotSqlite {
        /// The file.
        path: PathBuf,
    },
    /// The file is a SQLite database of another application (its `application_id` is not
    /// ours, or it holds tables but no chat schema version). The file was not modified.
    #[error("{path} is a SQLite database of another application")]
    ForeignDatabase {
        /// The file.
        path: PathBuf,
    },
    /// The database was written by a newer version of this crate. The file was not modified.
    #[error(
        "database schema version {found} is newer than this code supports ({supported}); \
         upgrade the software"
    )]
    SchemaTooNew {
        /// Schema version recorded in the file.
        found: i64,
        /// Newest schema version this code knows.
        supported: i64,
    },
    /// Reading the file or its metadata failed.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// SQLite reported an error.
    #[error("SQLite error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A schema migration failed; it was rolled back.
    #[error("schema migration {version} failed: {source}")]
    Migration {
        /// The migration that failed.
        version: i64,
        /// The cause.
        #[source]
        source: rusqlite::Error,
    },
    /// A group transaction could not commit; every write in it failed.
    #[error("the write transaction failed: {0}")]
    Transaction(String),
    /// The full-text index could not be brought up to date (a search waited for it); the
    /// messages themselves are not affected.
    #[error("the search index could not be updated: {0}")]
    Index(String),
    /// A background thread could not be started, or stopped unexpectedly.
    #[error("background thread failed: {0}")]
    Thread(String),
    /// The store was closed.
    #[error("the store is closed")]
    Closed,
}

impl From<SqliteError> for StoreError {
    fn from(e: SqliteError) -> StoreError {
        match e {
            SqliteError::Closed => StoreError::Closed,
            other => StoreError::backend(other),
        }
    }
}

/// What a store operation fails with inside the crate: a store-level answer (conflict, not
/// found) or a driver error. Lets the operations use `?` on both.
#[derive(Debug)]
pub(crate) enum Fail {
    /// A result the trait defines.
    Store(StoreError),
    /// A SQLite failure.
    Sqlite(rusqlite::Error),
}

impl From<rusqlite::Error> for Fail {
    fn from(e: rusqlite::Error) -> Fail {
        Fail::Sqlite(e)
    }
}

impl From<StoreError> for Fail {
    fn from(e: StoreError) -> Fail {
        Fail::Store(e)
    }
}

impl From<Fail> for StoreError {
    fn from(f: Fail) -> StoreError {
        match f {
            Fail::Store(e) => e,
            Fail::Sqlite(e) => StoreError::backend(SqliteError::Sqlite(e)),
        }
    }
}

/// Result of an operation run on a connection.
pub(crate) type DbResult<T> = Result<T, Fail>;

/// Whether a SQLite error is "the file is not a database".
pub(crate) fn is_not_a_database(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::NotADatabase)
    )
}
