//! The indexer: keeps the full-text index in the search file (see [`crate::search_file`]) up to
//! date with the messages, on a thread of its own, so that the writer never indexes
//! (tokenizing, and an index flush and merges at every group commit, would cost about as much
//! as the post itself, on the thread every write waits for).
//!
//! The thread owns a read connection to the database and the write connection to the search
//! file. Each batch is one transaction of the search file: it applies the rows of
//! `search_changes` after the `changes` watermark (the writer appends one in the transaction
//! of every edit, message deletion and room deletion; posts never touch it), then indexes the
//! messages after the `messages` watermark (ids are AUTOINCREMENT: they only grow), up to
//! [`SqliteOptions::index_batch`](crate::SqliteOptions::index_batch) of each, and records the
//! new watermarks with them. Both are read in one snapshot of the database, copied out (at
//! most [`BATCH_BYTES`] of bodies) and the snapshot ended before the indexing, so that the
//! read does not hold back checkpoints. A change of a message at or below the `messages`
//! watermark redoes its entry; above, nothing is needed. A deleted room's entries are found by
//! the room prefix of their words (see [`crate::search`]). When a batch finds less than its
//! limit, the `messages` watermark moves up to the highest id the writer had reported before
//! the snapshot, even if that message is gone already, so that no search waits for it forever.
//! The writer deletes the changes below the published `changes` watermark.
//!
//! The writer reports, after every COMMIT and before answering, the highest message id and
//! change seq it committed ([`Tracker::committed`]: two atomics and at most an unpark). The
//! indexer then indexes promptly; while posts keep coming it lingers for
//! [`SqliteOptions::index_linger`](crate::SqliteOptions::index_linger) from the start of each
//! round, so that batches stay large under load (one flush and fewer merges per batch).
//! Searches must see every post acknowledged before them: [`Indexer::caught_up`] compares the
//! published watermarks with the committed ones in memory, and only when the index is behind
//! wakes the indexer (ending any linger) and waits for it.
//!
//! Crashes: a batch is atomic with its watermarks, so the indexer resumes where the file says.
//! A search file that does not fit the database (it claims messages or changes the database
//! lacks, or needs changes already deleted) is rebuilt from zero. Not detected: if a power
//! loss takes the last transactions of the database but not those of the search file, a lost
//! edit may stay in its message's entry until the message changes again (search checks bodies,
//! so it never returns the message for words it does not hold).

use crate::error::DbResult;
use crate::search::{room_expression, write_index_text};
use crate::search_file::Watermarks;
use crate::writer::WriteTx;
use crate::{SqliteError, sql};
use chat_core::{RoomId, StoreError, StoreResult};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::{JoinHandle, Thread};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Longest sleep of an idle indexer between looks at its flags (it is woken by unpark; this
/// is only a safety net).
const IDLE_WAIT: Duration = Duration::from_secs(1);

/// Pause after a failed batch before the next attempt (a search asking ends it early).
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// Pages of index one idle merge step writes (a few milliseconds of work): new work waits at
/// most one step.
const MERGE_STEP_PAGES: i64 = 64;

/// Most bytes of message bodies one batch reads (beside its count limit), so that its copy of
/// them stays small whatever the bodies' size.
const BATCH_BYTES: usize = 4 << 20;

/// What the writer, the searches and the indexer thread share.
#[derive(Debug)]
pub(crate) struct Tracker {
    /// The highest message id committed (by this store's writer, or found at open).
    posted: AtomicI64,
    /// The highest `search_changes` seq committed.
    changed: AtomicI64,
    /// The `changes` watermark the indexer last committed: the writer deletes the change rows
    /// below it.
    indexed_changes: AtomicI64,
    /// Something was committed since the indexer last looked.
    pending: AtomicBool,
    /// A search waits for the indexer: index now, without lingering.
    urgent: AtomicBool,
    /// The writer stopped: catch up one last time, then stop.
    writer_done: AtomicBool,
    /// The indexer thread, to unpark.
    thread: OnceLock<Thread>,
}

impl Tracker {
    /// A tracker for a database holding messages and changes up to `committed`, with an index
    /// at `indexed`.
    pub(crate) fn new(committed: Watermarks, indexed: Watermarks) -> Tracker {
        Tracker {
            posted: AtomicI64::new(committed.messages),
            changed: AtomicI64::new(committed.changes),
            indexed_changes: AtomicI64::new(indexed.changes),
            pending: AtomicBool::new(false),
            urgent: AtomicBool::new(false),
            writer_done: AtomicBool::new(false),
            thread: OnceLock::new(),
        }
    }

    /// Called by the writer after a COMMIT, before answering: `committed` holds the highest
    /// message id and change seq of the transaction (0 for none). Never blocks.
    pub(crate) fn committed(&self, committed: Watermarks) {
        if committed == Watermarks::default() {
            return;
        }
        self.posted.fetch_max(committed.messages, Ordering::SeqCst);
        self.changed.fetch_max(committed.changes, Ordering::SeqCst);
        if !self.pending.swap(true, Ordering::SeqCst) {
            self.wake();
        }
    }

    /// Called when the writer thread ends (its last group committed): the indexer catches up
    /// and stops.
    pub(crate) fn writer_stopped(&self) {
        self.writer_done.store(true, Ordering::SeqCst);
        self.wake();
    }

    /// The `changes` watermark of the index (see [`Tracker::indexed_changes`]).
    pub(crate) fn indexed_changes(&self) -> i64 {
        self.indexed_changes.load(Ordering::SeqCst)
    }

    /// Everything committed so far.
    fn targets(&self) -> Watermarks {
        Watermarks {
            messages: self.posted.load(Ordering::SeqCst),
            changes: self.changed.load(Ordering::SeqCst),
        }
    }

    fn wake(&self) {
        if let Some(thread) = self.thread.get() {
            thread.unpark();
        }
    }
}

/// Calls [`Tracker::writer_stopped`] when dropped: the writer thread holds one, so the indexer
/// learns that the writer ended however it ended.
pub(crate) struct WriterStopped(pub(crate) Arc<Tracker>);

impl Drop for WriterStopped {
    fn drop(&mut self) {
        self.0.writer_stopped();
    }
}

/// What the indexer publishes after each batch.
#[derive(Debug, Clone, Default)]
struct Progress {
    /// The watermarks committed to the search file.
    indexed: Watermarks,
    /// How many batches failed so far; a search fails when one fails while it waits.
    failures: u64,
    /// The last failure, while the indexer has not succeeded since.
    error: Option<Arc<str>>,
}

/// Handle to the indexer thread. The thread stops after the writer thread stopped, once it
/// has indexed everything the writer committed.
#[derive(Debug)]
pub(crate) struct Indexer {
    tracker: Arc<Tracker>,
    progress: watch::Receiver<Progress>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// Tuning of the indexer thread.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IndexerOptions {
    /// Most messages (and most changes) per transaction.
    pub(crate) batch: usize,
    /// How long a round waits after the start of the previous one while posts keep coming.
    pub(crate) linger: Duration,
}

impl Indexer {
    /// Starts the indexer thread with its read connection to the database (`main`) and its
    /// write connection to the search file (`search`), whose watermarks are `indexed`.
    pub(crate) fn start(
        tracker: Arc<Tracker>,
        main: Connection,
        search: Connection,
        indexed: Watermarks,
        options: IndexerOptions,
    ) -> Result<Indexer, SqliteError> {
        let (publish, progress) = watch::channel(Progress {
            indexed,
            ..Progress::default()
        });
        let worker = Worker {
            main,
            search,
            tracker: Arc::clone(&tracker),
            progress: publish,
            batch: options.batch.max(1),
            linger: options.linger,
            text: String::new(),
        };
        let thread = std::thread::Builder::new()
            .name("chat-sqlite-indexer".into())
            .spawn(move || worker.run())
            .map_err(|e| SqliteError::Thread(e.to_string()))?;
        Ok(Indexer {
            tracker,
            progress,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Returns once the index holds every message and change committed before this call:
    /// at once when the published watermarks say so (no round trip), otherwise after waking
    /// the indexer and waiting for it. Fails when a batch fails meanwhile, or `Closed` when the
    /// indexer stopped.
    pub(crate) async fn caught_up(&self) -> StoreResult<()> {
        let target = self.tracker.targets();
        let failures = {
            let progress = self.progress.borrow();
            if progress.indexed.reached(target) {
                return Ok(());
            }
            progress.failures
        };
        self.tracker.urgent.store(true, Ordering::SeqCst);
        self.tracker.wake();
        let mut progress = self.progress.clone();
        let reached = progress
            .wait_for(|p| p.indexed.reached(target) || p.failures > failures)
            .await
            .map_err(|_| StoreError::Closed)?;
        if reached.indexed.reached(target) {
            return Ok(());
        }
        let why = reached
            .error
            .as_deref()
            .unwrap_or("unknown error")
            .to_owned();
        Err(StoreError::backend(SqliteError::Index(why)))
    }

    /// Waits (blocking) until the thread stopped and closed its connections; it stops once
    /// the writer stopped and the index caught up. Idempotent.
    pub(crate) fn join(&self) {
        let thread = match self.thread.lock() {
            Ok(mut guard) => guard.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        if let Some(thread) = thread
            && thread.join().is_err()
        {
            tracing::error!("the search indexer thread panicked");
        }
    }
}

/// The outcome of one batch.
struct Step {
    /// The watermarks committed.
    indexed: Watermarks,
    /// Messages indexed and changes applied.
    work: usize,
    /// Whether a limit was reached (there may be more to do now).
    full: bool,
}

/// What a change asks of the index.
enum Redo {
    /// Index the message again: delete its entry, then index its body as read (none: it is
    /// gone, or deleted).
    Message(i64, Option<(i64, String)>),
    /// Delete the entries of the room (deleted with its messages).
    Room(i64),
}

/// The indexer thread's state.
struct Worker {
    main: Connection,
    search: Connection,
    tracker: Arc<Tracker>,
    progress: watch::Sender<Progress>,
    batch: usize,
    linger: Duration,
    /// The index text of the message at hand (one buffer for all).
    text: String,
}

impl Worker {
    /// The thread's loop: wait for work, catch up, repeat; after the writer stopped, catch up
    /// one last time and stop.
    fn run(mut self) {
        let flags = Arc::clone(&self.tracker);
        // From now on commits unpark this thread; whatever was committed before is found by
        // the first round, which runs at once.
        let _ = flags.thread.set(std::thread::current());
        // The start of the last round that indexed something: while posts keep coming, the
        // next round waits until `linger` after it, to make larger batches.
        let mut busy_since: Option<Instant> = None;
        let mut retry = false;
        let mut first = true;
        // Batches leave many small segments, which slow queries of several words down (two
        // words in a 1M-message room: ~400 us, ~60 us once merged). While idle, the indexer
        // merges them, one small step at a time, until nothing is left to merge.
        let mut unmerged = true;
        loop {
            if let Some(since) = busy_since.take() {
                self.pause_until(since + self.linger);
            }
            if retry {
                self.pause_until(Instant::now() + RETRY_AFTER);
            } else if !first {
                while !flags.pending.load(Ordering::SeqCst)
                    && !flags.urgent.load(Ordering::SeqCst)
                    && !flags.writer_done.load(Ordering::SeqCst)
                {
                    if unmerged {
                        unmerged = self.merge_step();
                        continue;
                    }
                    std::thread::park_timeout(IDLE_WAIT);
                }
            }
            first = false;
            let stopping = flags.writer_done.load(Ordering::SeqCst);
            flags.pending.store(false, Ordering::SeqCst);
            flags.urgent.store(false, Ordering::SeqCst);
            let started = Instant::now();
            match self.catch_up() {
                Ok(work) => {
                    retry = false;
                    if work > 0 {
                        unmerged = true;
                        busy_since = Some(started);
                    }
                }
                Err(e) => {
                    retry = true;
                    tracing::warn!(error = %e, "updating the search index failed");
                    let why: Arc<str> = e.to_string().into();
                    self.progress.send_modify(|p| {
                        p.failures += 1;
                        p.error = Some(why);
                    });
                }
            }
            if stopping {
                break;
            }
        }
        if let Err(e) = self
            .search
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        {
            tracing::warn!(error = %e, "checkpointing the search index failed");
        }
    }

    /// One step of merging the index's segments. Returns whether there may be more to merge
    /// (a failure is logged and ends merging until the next batch).
    fn merge_step(&self) -> bool {
        let before = self.search.total_changes();
        match self
            .search
            .prepare_cached(sql::FTS_MERGE_STEP)
            .and_then(|mut s| s.execute([-MERGE_STEP_PAGES]))
        {
            Ok(_) => self.search.total_changes().saturating_sub(before) >= 2,
            Err(e) => {
                tracing::warn!(error = %e, "merging the search index failed");
                false
            }
        }
    }

    /// Sleeps until `deadline`, or until a search asks or the writer stopped.
    fn pause_until(&self, deadline: Instant) {
        let flags = &self.tracker;
        while !flags.urgent.load(Ordering::SeqCst) && !flags.writer_done.load(Ordering::SeqCst) {
            let now = Instant::now();
            if now >= deadline {
                return;
            }
            std::thread::park_timeout(deadline - now);
        }
    }

    /// Runs batches until one finds less than a full batch to do; publishes the watermarks
    /// after each. Returns the work done.
    fn catch_up(&mut self) -> rusqlite::Result<usize> {
        let mut work = 0;
        loop {
            let step = self.batch()?;
            self.tracker
                .indexed_changes
                .store(step.indexed.changes, Ordering::SeqCst);
            self.progress.send_if_modified(|p| {
                let changed = p.indexed != step.indexed || p.error.is_some();
                p.indexed = step.indexed;
                p.error = None;
                changed
            });
            work += step.work;
            if !step.full {
                return Ok(work);
            }
        }
    }

    /// One transaction of the search file: applies changes, indexes new messages, records
    /// the watermarks.
    fn batch(&mut self) -> rusqlite::Result<Step> {
        let Worker {
            main,
            search,
            tracker,
            batch,
            text,
            ..
        } = self;
        let batch = *batch;
        // The search file's own state, under its write lock (another process may index too).
        let search = search.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let from = search
            .prepare_cached(sql::INDEX_STATE)?
            .query_row([], |r| {
                Ok(Watermarks {
                    messages: r.get(0)?,
                    changes: r.get(1)?,
                })
            })?;
        // Loaded before the snapshot of the database starts, so everything up to them is in
        // it (the writer stores them after its COMMIT).
        let targets = tracker.targets();
        let main = main.transaction()?;

        let changes = main
            .prepare_cached(sql::SEARCH_CHANGES_AFTER)?
            .query_map([from.changes], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Option<i64>>(1)?,
                    r.get::<_, Option<i64>>(2)?,
                ))
            })?
            .take(batch)
            .collect::<Result<Vec<_>, _>>()?;
        let changes_full = changes.len() >= batch;
        // What the changes ask of the index, in their order, with the current bodies read
        // now; applied after the snapshot ends.
        let mut redo = Vec::new();
        let mut messages_redone = HashSet::new();
        let mut rooms_dropped = HashSet::new();
        for &(_, message, room) in &changes {
            if let Some(id) = message
                && id <= from.messages
                && messages_redone.insert(id)
            {
                let current = main
                    .prepare_cached(sql::INDEX_MESSAGE)?
                    .query_row([id], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
                    .optional()?;
                redo.push(Redo::Message(id, current));
            }
            if let Some(room) = room
                && rooms_dropped.insert(room)
            {
                redo.push(Redo::Room(room));
            }
        }
        let last_change = changes.last().map_or(from.changes, |c| c.0);
        let changes_upto = if changes_full {
            last_change
        } else {
            // Every change committed before the snapshot was read.
            last_change.max(targets.changes).max(from.changes)
        };

        let mut new = Vec::new();
        let mut bytes = 0;
        {
            let mut statement = main.prepare_cached(sql::INDEX_MESSAGES_AFTER)?;
            let mut rows = statement.query([from.messages])?;
            while new.len() < batch
                && bytes < BATCH_BYTES
                && let Some(row) = rows.next()?
            {
                let body: String = row.get(2)?;
                bytes += body.len();
                new.push((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?, body));
            }
        }
        let messages_full = new.len() >= batch || bytes >= BATCH_BYTES;
        let last_message = new.last().map_or(from.messages, |m| m.0);
        let messages_upto = if messages_full {
            last_message
        } else {
            // Every message committed before the snapshot was read (or is deleted: the
            // highest committed id may belong to a deleted message or room).
            last_message.max(targets.messages).max(from.messages)
        };
        // The snapshot ends before the indexing, the batch's costly part: a read transaction
        // keeps checkpoints from passing it, and the WAL grows meanwhile.
        main.commit()?;

        for action in redo {
            match action {
                Redo::Message(id, current) => {
                    search.prepare_cached(sql::FTS_DELETE)?.execute([id])?;
                    if let Some((room, body)) = current {
                        insert(&search, text, id, RoomId(room), &body)?;
                    }
                }
                Redo::Room(room) => {
                    let rowids = search
                        .prepare_cached(sql::FTS_MATCHING)?
                        .query_map([room_expression(RoomId(room))], |r| r.get::<_, i64>(0))?
                        .collect::<Result<Vec<_>, _>>()?;
                    for rowid in rowids {
                        search.prepare_cached(sql::FTS_DELETE)?.execute([rowid])?;
                    }
                }
            }
        }
        let indexed = new.len();
        for (id, room, body) in new {
            insert(&search, text, id, RoomId(room), &body)?;
        }

        let to = Watermarks {
            messages: messages_upto,
            changes: changes_upto,
        };
        if to != from {
            search
                .prepare_cached(sql::INDEX_STATE_SET)?
                .execute(params![to.messages, to.changes])?;
        }
        search.commit()?;
        Ok(Step {
            indexed: to,
            work: changes.len() + indexed,
            full: changes_full || messages_full,
        })
    }
}

/// Indexes one message body (nothing for a body without words); `text` is a buffer.
fn insert(
    search: &Connection,
    text: &mut String,
    id: i64,
    room: RoomId,
    body: &str,
) -> rusqlite::Result<()> {
    write_index_text(text, room, body);
    if !text.is_empty() {
        search
            .prepare_cached(sql::FTS_INSERT)?
            .execute(params![id, text.as_str()])?;
    }
    Ok(())
}

/// Records, in the writer's transaction, that a message was edited or deleted: the indexer
/// redoes its entry.
pub(crate) fn message_changed(tx: &WriteTx<'_>, message: i64) -> DbResult<()> {
    tx.prepare_cached(sql::SEARCH_CHANGE_MESSAGE)?
        .execute([message])?;
    recorded(tx)
}

/// Records, in the writer's transaction, that a room was deleted with its messages: the
/// indexer removes their entries.
pub(crate) fn room_deleted(tx: &WriteTx<'_>, room: RoomId) -> DbResult<()> {
    tx.prepare_cached(sql::SEARCH_CHANGE_ROOM)?
        .execute([room.0])?;
    recorded(tx)
}

/// Notes the change just inserted for the indexer, and deletes the changes it has applied
/// (below its watermark: the row at the watermark stays, so that a search file can tell that
/// changes it needs were deleted, see [`crate::search_file::Anchor::fits`]).
fn recorded(tx: &WriteTx<'_>) -> DbResult<()> {
    tx.note_change(tx.last_insert_rowid());
    let applied = tx.indexed_changes();
    if applied > 1 {
        tx.prepare_cached(sql::SEARCH_CHANGES_PRUNE)?
            .execute([applied])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{SqliteOptions, open};

    /// A search waiting for an index that cannot be written fails with the reason instead of
    /// waiting forever; the thread retries, and stops once the writer stopped.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_index_fails_the_searches_waiting_for_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.db");
        let options = SqliteOptions::default();
        drop(open::open_writer(&path, &options).unwrap());
        let main = open::open_reader(&path, &options, false).unwrap();
        // No `search_state` table: every batch fails.
        let search = Connection::open_in_memory().unwrap();
        let committed = Watermarks {
            messages: 5,
            changes: 0,
        };
        let tracker = Arc::new(Tracker::new(committed, Watermarks::default()));
        let indexer = Indexer::start(
            Arc::clone(&tracker),
            main,
            search,
            Watermarks::default(),
            IndexerOptions {
                batch: 16,
                linger: Duration::ZERO,
            },
        )
        .unwrap();
        for _ in 0..2 {
            let err = indexer.caught_up().await.unwrap_err();
            assert!(
                err.to_string().contains("no such table: search_state"),
                "{err}"
            );
        }
        tracker.writer_stopped();
        tokio::task::spawn_blocking(move || indexer.join())
            .await
            .unwrap();
    }
}
