//! The search file: the full-text index of the messages lives in its own SQLite file beside the
//! database, `<database path>-search` (WAL, `synchronous=NORMAL`), so that the indexer thread
//! (see [`crate::indexer`]) can write it beside the writer: SQLite has one writer per file, and
//! in the database file the index would be written on the write path, where tokenizing, index
//! flushes and merges cost about half of every post.
//!
//! The file holds `messages_fts` and `search_state`: one row with two watermarks (see
//! [`Watermarks`]) and the token of the database it belongs to (a random value the database
//! keeps in `search_link`, so that an index file left beside another database is never taken
//! for its own). It is derived data: everything in it is recomputed from `messages`. So when
//! it is missing, unreadable, not ours, of another layout version, of another database, or
//! does not fit the database (see [`Anchor::fits`]), it is deleted and created empty, and the
//! indexer fills it from zero in the background. Readers attach it as `search` ([`attach`]).

use crate::SqliteOptions;
use crate::sql;
use crate::{SqliteError, error::is_not_a_database};
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension};
use std::path::{Path, PathBuf};

/// Marks a file as a chat search index (`PRAGMA application_id`): ASCII "CHTS".
const APPLICATION_ID: i32 = 0x4348_5453;

/// The layout of the search file (`PRAGMA user_version`); a file of any other version is
/// rebuilt rather than migrated.
const VERSION: i64 = 1;

/// The schema name under which read connections attach the search file.
const ATTACHED: &str = "search";

/// The schema of a new search file.
///
/// `messages_fts` is the full-text index of the bodies of messages that are not deleted, keyed
/// by `messages.id`. Contentless (the text lives in the database), rows deletable by rowid.
/// `words` holds the body's words as `chat_core::search::words` produces them (lower-cased
/// alphanumeric runs), each prefixed with its room as `r<room id>_` (joined by spaces): the
/// ASCII tokenizer, with `_` as a token character, yields exactly those tokens, so a prefix
/// query `"r7_quick" *` matches exactly as the shared rules say, inside room 7 only (words never
/// contain `_`): no separate room token whose doclist would hold every message of the room. No
/// positions are kept (`detail = column`): queries need none, and they make every index flush
/// and merge dearer. (`detail = none` writes a little less but makes prefix queries of common
/// words about four times slower.)
///
/// `search_state` holds the watermarks (see [`Watermarks`]) and the token of the database
/// (`search_link.token` there); its one row is written by [`sql::INDEX_STATE_INIT`].
const SCHEMA: &str = "
CREATE VIRTUAL TABLE messages_fts USING fts5 (
    words,
    content = '', contentless_delete = 1, tokenize = \"ascii tokenchars '_'\", detail = column
);
CREATE TABLE search_state (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    messages_upto  INTEGER NOT NULL,
    changes_upto   INTEGER NOT NULL,
    database_token BLOB    NOT NULL
) STRICT;
";

/// How far the index is, as the search file records it (in the transaction that wrote the
/// index rows, so the two always agree).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Watermarks {
    /// Every message with an id up to this one is indexed in its form of the moment it was
    /// read, or was deleted.
    pub(crate) messages: i64,
    /// Every row of `search_changes` up to this seq is applied.
    pub(crate) changes: i64,
}

impl Watermarks {
    /// Whether `self` is at least as far as `target` on both counts.
    pub(crate) fn reached(self, target: Watermarks) -> bool {
        self.messages >= target.messages && self.changes >= target.changes
    }
}

/// The search file of the database at `db`: `<db>-search`.
pub(crate) fn path_of(db: &Path) -> PathBuf {
    let mut path = db.as_os_str().to_owned();
    path.push("-search");
    PathBuf::from(path)
}

/// What the database says of its search file: the token it must carry and the high-water
/// marks it must not exceed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Anchor {
    /// The database's random token (`search_link`).
    pub(crate) token: Vec<u8>,
    /// The highest message id ever handed out (ids are AUTOINCREMENT: never reused, and this
    /// stays when the messages are gone).
    pub(crate) messages: i64,
    /// The highest `search_changes` seq ever handed out.
    pub(crate) changes: i64,
    /// The lowest seq still in `search_changes` (the writer deletes applied ones).
    pub(crate) first_change: Option<i64>,
}

impl Anchor {
    /// Reads the token and the high-water marks of the database, in one snapshot.
    pub(crate) fn read(main: &Connection) -> rusqlite::Result<Anchor> {
        let tx = main.unchecked_transaction()?;
        let token = tx
            .prepare_cached(sql::SEARCH_LINK)?
            .query_row([], |r| r.get(0))?;
        let sequence = |table: &str| -> rusqlite::Result<i64> {
            Ok(tx
                .prepare_cached(sql::HIGH_WATER)?
                .query_row([table], |r| r.get::<_, i64>(0))
                .optional()?
                .unwrap_or(0))
        };
        let messages = sequence("messages")?;
        let changes = sequence("search_changes")?;
        let first_change = tx
            .prepare_cached(sql::SEARCH_CHANGES_FIRST)?
            .query_row([], |r| r.get::<_, Option<i64>>(0))?;
        tx.commit()?;
        Ok(Anchor {
            token,
            messages,
            changes,
            first_change,
        })
    }

    /// Whether an index at `marks` can be brought up to date from the database. It cannot
    /// when it claims messages or changes the database never had (the database lost its last
    /// transactions in a power failure, or one of the files was restored from a backup), or
    /// when it needs changes the writer has already deleted (the search file lost its last
    /// transactions, or is an old copy). (The token is checked apart.)
    pub(crate) fn fits(&self, marks: Watermarks) -> bool {
        let needed_change_deleted = match self.first_change {
            Some(first) => marks.changes < first - 1,
            None => marks.changes < self.changes,
        };
        marks.messages <= self.messages && marks.changes <= self.changes && !needed_change_deleted
    }
}

/// Opens the search file of the database at `db` for the indexer, after checking it against
/// the database; creates it (empty, watermarks zero) when it is missing or not usable. Returns
/// the connection and the watermarks it records.
pub(crate) fn open(
    db: &Path,
    anchor: &Anchor,
    options: &SqliteOptions,
) -> Result<(Connection, Watermarks), SqliteError> {
    let path = path_of(db);
    match open_existing(&path, options)? {
        Some((conn, marks, token)) if token != anchor.token => {
            tracing::warn!(
                path = %path.display(),
                "the search index belongs to another database; rebuilding it"
            );
            drop((conn, marks));
        }
        Some((conn, marks, _)) if anchor.fits(marks) => return Ok((conn, marks)),
        Some((conn, marks, _)) => {
            tracing::warn!(
                path = %path.display(),
                ?marks,
                ?anchor,
                "the search index does not fit the database; rebuilding it"
            );
            drop(conn);
        }
        None => {}
    }
    remove(&path)?;
    create(&path, anchor, options)
}

/// A search file opened for checking: its connection, watermarks and database token.
type Existing = (Connection, Watermarks, Vec<u8>);

/// Opens and checks an existing search file; `None` when it does not exist or is to be rebuilt
/// (the reason is logged). Fails only on errors that rebuilding would not cure (permissions, a
/// lock held too long, I/O).
fn open_existing(path: &Path, options: &SqliteOptions) -> Result<Option<Existing>, SqliteError> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => {}
        Ok(_) => {
            return Err(SqliteError::Io {
                path: path.to_path_buf(),
                source: std::io::Error::other("the search index path is not a regular file"),
            });
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(SqliteError::Io {
                path: path.to_path_buf(),
                source,
            });
        }
    }
    let inspect = || -> rusqlite::Result<Option<Existing>> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(options.busy_timeout)?;
        let application_id: i32 = conn.query_row("PRAGMA application_id", [], |r| r.get(0))?;
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if application_id != APPLICATION_ID || version != VERSION {
            tracing::warn!(
                path = %path.display(),
                application_id,
                version,
                "the search index is not ours or of another version; rebuilding it"
            );
            return Ok(None);
        }
        configure(&conn, options)?;
        let (marks, token) = conn
            .prepare_cached(sql::INDEX_IDENTITY)?
            .query_row([], |r| {
                let marks = Watermarks {
                    messages: r.get(0)?,
                    changes: r.get(1)?,
                };
                Ok((marks, r.get(2)?))
            })?;
        Ok(Some((conn, marks, token)))
    };
    match inspect() {
        Ok(found) => Ok(found),
        Err(e) if rebuilding_cures(&e) => {
            tracing::warn!(path = %path.display(), error = %e, "the search index is unreadable; rebuilding it");
            Ok(None)
        }
        Err(e) => Err(SqliteError::Sqlite(e)),
    }
}

/// Whether an error met while checking an existing search file means that the file itself is
/// bad (so a new one cures it), rather than the environment (permissions, locks, I/O, memory).
fn rebuilding_cures(e: &rusqlite::Error) -> bool {
    if is_not_a_database(e) {
        return true;
    }
    !matches!(
        e.sqlite_error_code(),
        Some(
            ErrorCode::DatabaseBusy
                | ErrorCode::DatabaseLocked
                | ErrorCode::SystemIoFailure
                | ErrorCode::CannotOpen
                | ErrorCode::PermissionDenied
                | ErrorCode::ReadOnly
                | ErrorCode::DiskFull
                | ErrorCode::OutOfMemory
        )
    )
}

/// Deletes the search file with its WAL, shared-memory and rollback journal files (a stale WAL
/// left beside a new file would be replayed into it).
fn remove(path: &Path) -> Result<(), SqliteError> {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut file = path.as_os_str().to_owned();
        file.push(suffix);
        let file = PathBuf::from(file);
        match std::fs::remove_file(&file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(SqliteError::Io { path: file, source }),
        }
    }
    Ok(())
}

/// Creates an empty search file (watermarks zero) for the database of `anchor`, in one
/// transaction: a crash leaves either no usable file (rebuilt at next open) or a complete one.
fn create(
    path: &Path,
    anchor: &Anchor,
    options: &SqliteOptions,
) -> Result<(Connection, Watermarks), SqliteError> {
    let mut conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(options.busy_timeout)?;
    configure(&conn, options)?;
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    tx.execute_batch(SCHEMA)?;
    tx.execute(sql::INDEX_STATE_INIT, [&anchor.token])?;
    tx.pragma_update(None, "application_id", APPLICATION_ID)?;
    tx.pragma_update(None, "user_version", VERSION)?;
    tx.commit()?;
    tracing::info!(path = %path.display(), "created the search index; it is filled in the background");
    Ok((conn, Watermarks::default()))
}

/// Settings of the indexer's connection to the search file. No memory map, as for the writer:
/// with one, SQLite looks every page up in the WAL index before its page cache. It checkpoints
/// its own WAL (SQLite's automatic checkpoints, on the indexer's thread).
fn configure(conn: &Connection, options: &SqliteOptions) -> rusqlite::Result<()> {
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(%mode, "SQLite did not switch the search index to WAL mode");
    }
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "cache_size", -options.cache_size_kib)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.pragma_update(None, "mmap_size", 0)?;
    conn.set_prepared_statement_cache_capacity(options.statement_cache);
    Ok(())
}

/// Attaches the search file of the database at `db` to a read connection as `search` (it
/// must exist: [`open`] ran before), with the connection's cache and memory-map sizes.
pub(crate) fn attach(
    conn: &Connection,
    db: &Path,
    options: &SqliteOptions,
) -> Result<(), SqliteError> {
    let path = path_of(db);
    let Some(name) = path.to_str() else {
        return Err(SqliteError::Io {
            path,
            source: std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "the search index path is not valid UTF-8",
            ),
        });
    };
    conn.execute(&format!("ATTACH DATABASE ?1 AS {ATTACHED}"), [name])?;
    let schema = Some(ATTACHED);
    conn.pragma_update(schema, "cache_size", -options.cache_size_kib)?;
    conn.pragma_update(schema, "mmap_size", options.mmap_size)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_watermarks_must_fit_the_database() {
        let marks = |messages, changes| Watermarks { messages, changes };
        let high = Anchor {
            token: vec![1],
            messages: 100,
            changes: 10,
            first_change: Some(6),
        };
        assert!(high.fits(marks(100, 10)));
        assert!(high.fits(marks(0, 5)), "changes 6.. are all there");
        assert!(!high.fits(marks(0, 4)), "change 5 was deleted");
        assert!(!high.fits(marks(101, 10)), "the database lost messages");
        assert!(!high.fits(marks(100, 11)), "the database lost changes");
        let pruned = Anchor {
            first_change: None,
            ..high.clone()
        };
        assert!(pruned.fits(marks(3, 10)));
        assert!(!pruned.fits(marks(3, 9)));
        assert!(Anchor::default().fits(Watermarks::default()));
        assert_eq!(
            path_of(Path::new("/x/chat.db")),
            Path::new("/x/chat.db-search")
        );
    }
}
