//! # chat-store-sqlite
//!
//! The embedded default store of the chat library: one SQLite file (for example `./chat.db`),
//! created and migrated on first open, durable, crash-safe, with full-text search.
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
//! - [`SqliteStore`] (this file): the handle, its [`SqliteOptions`], `open` and `close`.
//! - `error`: [`SqliteError`], typed errors of opening and closing.
//! - `open`: refuses files that are not ours *before writing anything* (not SQLite, another
//!   application's, a newer schema), then configures WAL, `synchronous=NORMAL`,
//!   `foreign_keys=ON`, `busy_timeout`, and migrates.
//! - `migrations` and `migrations/*.sql`: versioned schema, embedded; the version is
//!   `PRAGMA user_version` (see [`SCHEMA_VERSION`]).
//! - `writer`: one thread owning the write connection, fed by a bounded channel; group
//!   commit of everything queued, one SAVEPOINT per request (none for posts), answers after
//!   COMMIT; keeps the rooms' seq counters and usernames in memory.
//! - `readers`: a few threads owning read connections, so reads never block the reactor.
//! - `checkpointer`: a thread that checkpoints the WAL beside the writer, so checkpoint
//!   fsyncs never stall commits.
//! - `sql`: the text of every statement (prepared once per connection with
//!   `prepare_cached`); `rows`: rows to domain values.
//! - `users`, `sessions`, `rooms`, `messages`, `search`: the four `chat_core` store traits,
//!   search on an FTS5 index.
//!
//! ## Write path and its costs
//! A post is: the author's name (cached by the writer: usernames never change), the next seq
//! from the writer's in-memory counter of `rooms.last_seq` (written back once per room per
//! group, before COMMIT), the insert, and the full-text index entry. A repeated client id
//! (idempotency) is detected by the insert itself failing on the unique (author, client_id)
//! index, before it wrote anything; only then is the original looked up. Several SQLite
//! behaviours shape the code:
//! - FTS5 flushes its pending index to a new segment at every savepoint *and* at every
//!   statement journal, so index changes are queued and applied at the end of each group,
//!   outside the per-request savepoints, and the hot statements use `OR FAIL` while the foreign
//!   keys of `messages` are `DEFERRABLE INITIALLY DEFERRED` (checked at COMMIT; the writer
//!   checks room and author first anyway), so no statement journal is opened.
//! - Every page first changed under a savepoint is copied to the statement journal; posts,
//!   whose only write is one single-row INSERT, run without a savepoint (see `writer`).
//! - `RETURNING` collects its rows in an ephemeral table (a b-tree opened and a page zeroed
//!   per statement), so the hot path uses `last_insert_rowid` instead.
//! - With a memory map, SQLite searches the WAL index before its page cache on every page
//!   access, so the writer's connection has none (readers keep theirs).
//! - The full-text index keeps no positions (`detail=column`) and scopes words to a room by
//!   a prefix of each indexed word instead of a separate room token (see `search`): smaller
//!   index flushes and merges, and no per-room doclist of every message to intersect.
//! - The client-id lookup (on repeats only) avoids a join that SQLite runs 20 times slower
//!   than the plain index probe.
//!
//! Measured with callgrind on the `post_loop` example (20,000 posts by 64 concurrent posters),
//! the writer's cost per post went from about 128k to about 50k instructions with these (with
//! one poster, whose every post is a group of its own, from about 300k to 200k: the index
//! flush and the WAL write of each commit dominate). The bench's 64 posters went from about
//! 30-70k to about 110-150k posts/s on the shared 2-core reference machine; what is left is
//! about half system time (two `pwrite`s per WAL page). Checkpoints run on a separate thread
//! so their fsyncs never stall commits.
//!
//! ## Why rusqlite 0.43 and sqlx side by side
//! rusqlite and sqlx both link the native SQLite through `libsqlite3-sys`, which declares
//! `links = "sqlite3"`: Cargo allows only one version of it in a lockfile, counting optional
//! dependencies. rusqlite 0.43 needs libsqlite3-sys 0.40, while sqlx 0.9's SQLite driver needs
//! an older one. The workspace therefore uses sqlx with `default-features = false` and only
//! the `runtime-tokio` and `postgres` features (for `chat-store-postgres`; no `sqlite`, no
//! `macros`/`migrate`, which would pull sqlx-sqlite in), and this crate uses the current
//! rusqlite with its bundled SQLite (FTS5 included, no system library needed). We chose that
//! over pinning an older rusqlite because the embedded store is the default one and should get
//! the current SQLite and driver; nothing here needs sqlx.

mod checkpointer;
mod error;
mod messages;
mod migrations;
mod open;
mod readers;
mod rooms;
mod rows;
mod search;
mod sessions;
mod sql;
mod users;
mod writer;

#[cfg(test)]
mod query_plans;

pub use error::SqliteError;
pub use migrations::SCHEMA_VERSION;

use chat_core::StoreResult;
use checkpointer::Checkpointer;
use error::DbResult;
use readers::Readers;
use rusqlite::Connection;
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
    /// How often the WAL is checkpointed into the main file.
    pub checkpoint_interval: Duration,
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
            checkpoint_interval: Duration::from_millis(100),
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
        let writer_conn = open::open_writer(&path, &options)?;
        let readers = (0..options.readers.max(1))
            .map(|_| open::open_reader(&path, &options))
            .collect::<Result<Vec<_>, _>>()?;
        let readers = Readers::start(readers, options.read_queue)?;
        let checkpointer = Checkpointer::start(
            open::open_checkpointer(&path, &options)?,
            options.checkpoint_interval,
        )?;
        let writer = Writer::start(writer_conn, options.write_queue, options.max_batch)?;
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                path,
                writer,
                readers,
                closed: AtomicBool::new(false),
                checkpointer,
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Shuts the store down gracefully: writes queued before this call are committed and
    /// answered, the WAL is checkpointed into the main file, every connection of the store
    /// is closed when this returns (so other processes may then use the file undisturbed),
    /// and every later call on any clone answers
    /// [`StoreError::Closed`](chat_core::StoreError::Closed). Idempotent.
    pub async fn close(&self) -> Result<(), SqliteError> {
        self.inner.closed.store(true, Ordering::SeqCst);
        let closed = self.inner.writer.close().await;
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
