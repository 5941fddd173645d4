//! # chat-store-sqlite
//!
//! The embedded default store of the chat library: one SQLite file (for example `./chat.db`),
//! created and migrated on first open, durable, crash-safe, with full-text search (whose index
//! lives in a second file beside it, `./chat.db-search`: derived data, rebuilt when missing).
//!
//! ```no_run
//! # async fn demo() -> Result<(), chat_store_sqlite::SqliteError> {
//! use std::sync::Arc;
//! let store = chat_store_sqlite::SqliteStore::open("chat.db").await?;
//! let shared: Arc<dyn chat_core::Store> = Arc::new(store.clone());
//! // ... hand `shared` to a ChatService ...
//! store.close().await?; // optional: flush and checkpoint before exit
//! # drop(shared); Ok(()) }
//! ```
//!
//! ## Parts
//! - [`SqliteStore`] (this file): the handle, its [`SqliteOptions`], `open` and `close`;
//!   `error`: [`SqliteError`].
//! - `open`: refuses files that are not ours *before writing anything* (not SQLite, another
//!   application's, a newer schema), configures WAL, `synchronous=NORMAL`, foreign keys and
//!   `busy_timeout`, and migrates (`migrations`, `migrations/*.sql`, versioned by
//!   `PRAGMA user_version`, see [`SCHEMA_VERSION`]).
//! - `writer`: one thread owning the write connection, fed by a bounded channel; group commit
//!   of everything queued, answers after COMMIT.
//! - `readers`: threads owning read connections, so reads never block the reactor.
//! - `checkpointer`: a thread that checkpoints the WAL beside the writer, so checkpoint
//!   fsyncs never stall commits.
//! - `search_file` and `indexer`: the full-text index lives in its own file, written by its own
//!   thread off the write path; searches wait for it to hold every post acknowledged before
//!   them (see `search`).
//! - `sql`: the text of every statement (prepared once per connection); `rows`: rows to
//!   domain values; `users`, `sessions`, `rooms`, `messages`, `search`: the `chat_core` store
//!   traits.
//!
//! ## Write path
//! A post reads the author's name, the room's next seq and the membership from the writer's
//! memory (see `writer`), then inserts one row: that writes the (room, seq) index and, with a
//! client id, the partial unique index on (author, client_id), which refuses a repeated post
//! before anything is written (it is then answered with the original). Several SQLite
//! behaviours shape the code:
//! - Every page first changed under a savepoint or a statement journal is copied to that
//!   journal: posts, whose only write is one single-row INSERT, run without a savepoint, and
//!   the hot statements use `OR FAIL` while the foreign keys of `messages` are deferred
//!   (checked at COMMIT; the writer checks room and author first anyway).
//! - `RETURNING` collects its rows in an ephemeral table, so the hot path uses
//!   `last_insert_rowid` instead.
//! - With a memory map, SQLite searches the WAL index before its page cache on every page
//!   access, so the writer's connection has none (readers keep theirs).
//! - SQLite re-prepares a statement at every new binding of its `LIMIT ?`; the statements of
//!   the indexer and of search have no LIMIT and stop stepping instead.
//!
//! Costs and how to measure them are in BENCHMARKS.md.
//!
//! ## Why rusqlite 0.43 beside sqlx
//! Both link SQLite through `libsqlite3-sys` (`links = "sqlite3"`), of which a lockfile may
//! hold one version only, optional dependencies included, and sqlx 0.9's SQLite driver needs
//! an older one than rusqlite 0.43. So the workspace uses sqlx without default features, with
//! `runtime-tokio` and `postgres` only (for `chat-store-postgres`), and this crate the current
//! rusqlite with its bundled SQLite (FTS5 included): the default store gets the current SQLite.

mod checkpointer;
mod error;
mod indexer;
mod messages;
mod migrations;
mod open;
mod readers;
mod rooms;
mod rows;
mod search;
mod search_file;
mod sessions;
mod sql;
mod users;
mod writer;

/// [`SqliteStore::close`], for an `Arc<dyn Store>`.
#[async_trait::async_trait]
impl chat_core::Store for SqliteStore {
    async fn close(&self) -> StoreResult<()> {
        SqliteStore::close(self)
            .await
            .map_err(chat_core::StoreError::backend)
    }
}

#[cfg(test)]
mod query_plans;

pub use error::SqliteError;
pub use migrations::SCHEMA_VERSION;

use chat_core::StoreResult;
use checkpointer::Checkpointer;
use error::DbResult;
use indexer::{Indexer, IndexerOptions, Tracker};
use readers::Readers;
use rusqlite::Connection;
use search_file::{Anchor, Watermarks};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use writer::Writer;

/// Tuning of a [`SqliteStore`]; [`Default`] suits most uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteOptions {
    /// Read connections, each on its own thread.
    pub readers: usize,
    /// Writes that may wait in the writer's queue before callers wait to enqueue.
    pub write_queue: usize,
    /// Most writes committed in one transaction.
    pub max_batch: usize,
    /// Reads that may wait for a reader.
    pub read_queue: usize,
    /// How long a connection waits for a lock held by another process.
    pub busy_timeout: Duration,
    /// Page cache per connection, in KiB.
    pub cache_size_kib: i64,
    /// Bytes of the file mapped into memory per read connection (0 disables). The writer maps
    /// none: with a map, SQLite looks every page up in the WAL index before its page cache.
    pub mmap_size: i64,
    /// Prepared statements cached per connection.
    pub statement_cache: usize,
    /// How often the WAL is checkpointed into the main file (often: small checkpoints stall
    /// the writer least, see the `checkpointer` module).
    pub checkpoint_interval: Duration,
    /// Most messages (and most edits and deletions) the indexer puts in the search index in
    /// one transaction.
    pub index_batch: usize,
    /// While posts keep coming, how long the indexer waits from the start of one batch to the
    /// next, so that batches stay large (an idle indexer indexes at once, and a search that
    /// must wait for it ends the wait).
    pub index_linger: Duration,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            readers: 4,
            write_queue: 16_384,
            max_batch: 8_192,
            read_queue: 1_024,
            busy_timeout: Duration::from_secs(5),
            cache_size_kib: 32 * 1024,
            mmap_size: 256 * 1024 * 1024,
            statement_cache: 64,
            checkpoint_interval: Duration::from_millis(10),
            index_batch: 8_192,
            index_linger: Duration::from_millis(50),
        }
    }
}

/// The SQLite store. Cheap to clone (clones share the file, the writer and the readers);
/// implements every `chat_core` store trait, so `Arc::new(store) as Arc<dyn chat_core::Store>`
/// works. The background threads stop when the last clone is dropped (after finishing queued
/// writes) or at [`close`](SqliteStore::close).
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    writer: Writer,
    readers: Readers,
    indexer: Indexer,
    closed: AtomicBool,
    checkpointer: Checkpointer,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and migrates it to the current
    /// schema, with default [`SqliteOptions`].
    ///
    /// Fails with [`SqliteError::NotSqlite`], [`SqliteError::ForeignDatabase`] or
    /// [`SqliteError::SchemaTooNew`] without modifying the file.
    pub async fn open(path: impl AsRef<Path>) -> Result<SqliteStore, SqliteError> {
        SqliteStore::open_with(path, SqliteOptions::default()).await
    }

    /// [`open`](SqliteStore::open) with explicit options.
    pub async fn open_with(
        path: impl AsRef<Path>,
        options: SqliteOptions,
    ) -> Result<SqliteStore, SqliteError> {
        let path = path.as_ref().to_path_buf();
        tokio::task::spawn_blocking(move || SqliteStore::open_blocking(path, options))
            .await
            .map_err(|e| SqliteError::Thread(e.to_string()))?
    }

    fn open_blocking(path: PathBuf, options: SqliteOptions) -> Result<SqliteStore, SqliteError> {
        // Checks and migrates the database before anything else touches a file.
        let writer_conn = open::open_writer(&path, &options)?;
        let index_conn = open::open_reader(&path, &options, false)?;
        let anchor = Anchor::read(&index_conn)?;
        let (search_conn, indexed) = search_file::open(&path, &anchor, &options)?;
        let readers = (0..options.readers.max(1))
            .map(|_| open::open_reader(&path, &options, true))
            .collect::<Result<Vec<_>, _>>()?;
        let readers = Readers::start(readers, options.read_queue)?;
        let checkpointer = Checkpointer::start(
            open::open_checkpointer(&path, &options)?,
            options.checkpoint_interval,
        )?;
        let committed = Watermarks {
            messages: anchor.messages,
            changes: anchor.changes,
        };
        let tracker = Arc::new(Tracker::new(committed, indexed));
        let writer = Writer::start(
            writer_conn,
            options.write_queue,
            options.max_batch,
            Arc::clone(&tracker),
        )?;
        let indexer = Indexer::start(
            tracker,
            index_conn,
            search_conn,
            indexed,
            IndexerOptions {
                batch: options.index_batch,
                linger: options.index_linger,
            },
        )?;
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                path,
                writer,
                readers,
                indexer,
                closed: AtomicBool::new(false),
                checkpointer,
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The file of the full-text index of the database at `path`: `<path>-search`, beside it.
    /// It is derived data (not needed in backups): when it is missing or unusable, opening
    /// the database creates it anew and fills it in the background.
    pub fn search_index_path(path: impl AsRef<Path>) -> PathBuf {
        search_file::path_of(path.as_ref())
    }

    /// Shuts the store down gracefully: writes queued before this call are committed and
    /// answered, the search index catches up with them, the WALs are checkpointed into the
    /// main files, every connection of the store is closed when this returns (so other
    /// processes may then use the files undisturbed), and every later call on any clone
    /// answers [`StoreError::Closed`](chat_core::StoreError::Closed). Idempotent.
    pub async fn close(&self) -> Result<(), SqliteError> {
        self.inner.closed.store(true, Ordering::SeqCst);
        let closed = self.inner.writer.close().await;
        // The writer thread has ended (or is ending): the indexer catches up and stops.
        let indexer = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || indexer.indexer.join())
            .await
            .map_err(|e| SqliteError::Thread(e.to_string()))?;
        self.inner.readers.stop().await?;
        let checkpointer = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || checkpointer.checkpointer.stop())
            .await
            .map_err(|e| SqliteError::Thread(e.to_string()))?;
        closed
    }

    /// Runs a write in the writer's next group transaction.
    pub(crate) async fn write<T, F>(&self, op: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&writer::WriteTx<'_>) -> DbResult<T> + Send + 'static,
    {
        self.inner.writer.write(op).await
    }

    /// Runs a write whose only write is one single-row statement, without a savepoint (see
    /// `Writer::write_single`).
    pub(crate) async fn write_single<T, F>(&self, op: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&writer::WriteTx<'_>) -> DbResult<T> + Send + 'static,
    {
        self.inner.writer.write_single(op).await
    }

    /// The writer (posts announce through it).
    pub(crate) fn inner_writer(&self) -> &Writer {
        &self.inner.writer
    }

    /// The indexer (searches wait for it); `Closed` once the store is closed.
    pub(crate) fn indexer(&self) -> StoreResult<&Indexer> {
        if self.inner.closed.load(Ordering::Relaxed) {
            return Err(chat_core::StoreError::Closed);
        }
        Ok(&self.inner.indexer)
    }

    /// Runs a read on a read connection.
    pub(crate) async fn read<T, F>(&self, op: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> DbResult<T> + Send + 'static,
    {
        if self.inner.closed.load(Ordering::Relaxed) {
            return Err(chat_core::StoreError::Closed);
        }
        self.inner.readers.read(op).await
    }
}
