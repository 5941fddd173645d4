//! Opening a database file safely: the header is checked and the schema version read before
//! anything is written, so a file that is not ours (not SQLite, another application's, or a
//! newer schema) is refused with a typed error and left untouched. Then the connections are
//! configured (WAL, `synchronous=NORMAL`, foreign keys, busy timeout) and the schema migrated.
//! Only the checkpointer thread checkpoints (the writer merely as a backstop), so the fsyncs of
//! checkpoints never stall the writer.

use crate::SqliteOptions;
use crate::error::{SqliteError, is_not_a_database};
use crate::migrations;
use crate::search_file;
use rusqlite::{Connection, OpenFlags};
use std::io::Read;
use std::path::Path;

/// The first 16 bytes of every SQLite 3 database file.
const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// Size of the database header; a shorter non-empty file cannot be a database.
const HEADER_LEN: u64 = 100;

fn flags() -> OpenFlags {
    OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SqliteError + '_ {
    move |source| SqliteError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Refuses an existing, non-empty file that does not start with the SQLite header. Reads only.
fn check_header(path: &Path) -> Result<(), SqliteError> {
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io(path)(e)),
    };
    if meta.len() == 0 {
        // SQLite treats an empty file as an empty database.
        return Ok(());
    }
    let not_sqlite = || SqliteError::NotSqlite {
        path: path.to_path_buf(),
    };
    if !meta.is_file() || meta.len() < HEADER_LEN {
        return Err(not_sqlite());
    }
    let mut header = [0u8; 16];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut header))
        .map_err(io(path))?;
    if &header != SQLITE_HEADER {
        return Err(not_sqlite());
    }
    Ok(())
}

/// WAL size (pages) at which the writer checkpoints by itself, should the checkpointer fall
/// behind: about 200 MiB.
const BACKSTOP_CHECKPOINT_PAGES: i64 = 50_000;

/// Settings every connection gets.
fn configure_common(conn: &Connection, options: &SqliteOptions) -> rusqlite::Result<()> {
    conn.busy_timeout(options.busy_timeout)?;
    conn.pragma_update(None, "cache_size", -options.cache_size_kib)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.pragma_update(None, "mmap_size", options.mmap_size)?;
    conn.set_prepared_statement_cache_capacity(options.statement_cache);
    Ok(())
}

/// Opens, checks, configures and migrates the write connection.
pub(crate) fn open_writer(path: &Path, options: &SqliteOptions) -> Result<Connection, SqliteError> {
    check_header(path)?;
    let not_sqlite = |e: rusqlite::Error| {
        if is_not_a_database(&e) {
            SqliteError::NotSqlite {
                path: path.to_path_buf(),
            }
        } else {
            SqliteError::Sqlite(e)
        }
    };
    let mut conn = Connection::open_with_flags(path, flags()).map_err(not_sqlite)?;
    conn.busy_timeout(options.busy_timeout)?;
    // Nothing has been written yet: refuse what is not ours before the first write.
    let found = migrations::inspect(&conn).map_err(not_sqlite)?;
    migrations::check(found, path)?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(%mode, "SQLite did not switch to WAL mode");
    }
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", true)?;
    // Checkpoints run on their own thread (see `checkpointer`); this is only a backstop.
    conn.pragma_update(None, "wal_autocheckpoint", BACKSTOP_CHECKPOINT_PAGES)?;
    configure_common(&conn, options)?;
    // No memory map for the writer: with one, SQLite searches the WAL index on every page
    // access before its page cache (`getPageMMap`); without, cached pages are found first.
    conn.pragma_update(None, "mmap_size", 0)?;
    migrations::migrate(&mut conn, path)?;
    Ok(conn)
}

/// Opens the checkpointer's connection to an already migrated file.
pub(crate) fn open_checkpointer(
    path: &Path,
    options: &SqliteOptions,
) -> Result<Connection, SqliteError> {
    let conn = Connection::open_with_flags(path, flags())?;
    conn.busy_timeout(options.busy_timeout)?;
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    Ok(conn)
}

/// Opens a read connection to an already migrated file; with `search`, the search file
/// (which must exist) is attached as `search` (see `search_file`).
pub(crate) fn open_reader(
    path: &Path,
    options: &SqliteOptions,
    search: bool,
) -> Result<Connection, SqliteError> {
    let conn = Connection::open_with_flags(path, flags())?;
    configure_common(&conn, options)?;
    if search {
        search_file::attach(&conn, path, options)?;
    }
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    conn.pragma_update(None, "query_only", true)?;
    Ok(conn)
}
