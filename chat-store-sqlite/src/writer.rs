//! The single writer: one thread owns the write connection and is fed by a bounded channel.
//! It takes every request queued at the moment (up to a batch limit) and runs them in one
//! transaction (group commit), each inside its own SAVEPOINT so a failing request rolls back
//! alone. Every request is answered by its oneshot only after COMMIT returned, so an `Ok` means
//! durable.
//!
//! Requests whose only write is one single-row statement, run last, need no savepoint
//! ([`Writer::write_single`], used by posts): SQLite checks every constraint of a single-row
//! INSERT before writing anything, and an error during the write itself (I/O, disk full) rolls
//! the whole transaction back, which fails the group anyway. A savepoint is not free: every
//! page first changed under it is copied to the statement journal, which cost a post about a
//! quarter of its time. As a guard, a savepoint-less request that fails must leave
//! `total_changes` unchanged, or the whole group is rolled back and fails.
//!
//! The writer does not index messages for search: the indexer thread does, beside it (see
//! [`crate::indexer`]). The writer only notes the highest message id and `search_changes` seq
//! each request wrote (forgotten like the rest when the request rolls back) and, after COMMIT
//! and before answering, reports those of the group to the indexer's [`Tracker`] (two atomics
//! and at most an unpark): so a search started after an answer knows what it must wait for.
//! When the writer thread ends, it tells the tracker, and the indexer catches up and stops.
//!
//! The writer is the only writer of the file, so it keeps each room's `last_seq` in memory
//! ([`WriteTx::next_seq`]): a post takes its seq from there, and `rooms.last_seq` is written
//! once per room per group, just before COMMIT (and before any request that runs in a
//! savepoint, so that its rollback can never lose a counter). Whenever a rollback might have
//! undone writes the counters came from (a request's savepoint rolled back, the group failed),
//! the counters are dropped and reloaded from the file on next use: seqs stay gap-free and
//! are only visible once committed. It also remembers usernames by id for the posts (they
//! never change), dropped at the same moments.
//!
//! When the store announces posts (see [`chat_core::PostListener`]), the writer collects the
//! messages a group posted, dropped like the index changes when their request rolls back, and
//! hands them to the listener in order right after COMMIT, before answering anyone: posts are
//! published in seq order the moment they are durable.

use crate::error::{DbResult, SqliteError};
use crate::indexer::{Tracker, WriterStopped};
use crate::search_file::Watermarks;
use crate::sql;
use chat_core::{Message, PostListener, RoomId, StoreError, StoreResult, UserId};
use rusqlite::{Connection, OptionalExtension};
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::ops::Deref;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, OnceLock};
use tokio::sync::{mpsc, oneshot};

/// A room's seq counter as the writer keeps it.
#[derive(Debug, Clone, Copy)]
struct RoomSeq {
    /// The last seq handed out (in this transaction or committed).
    last: i64,
    /// The value of `rooms.last_seq` in the open transaction.
    stored: i64,
}

/// Entries each map of the [`WriterCache`] may hold; beyond, it is emptied after a commit.
const CACHE_LIMIT: usize = 65_536;

/// What the writer remembers across groups. Only ever holds values read from, or about to be
/// written to, the file inside the writer's own transactions; dropped whenever a rollback may
/// have undone them. Nothing but [`WriteTx::next_seq`] and [`WriteTx::take_seq`] may change a
/// room's `last_seq`.
#[derive(Debug, Default)]
pub(crate) struct WriterCache {
    rooms: HashMap<i64, RoomSeq>,
    /// Usernames by user id (usernames never change and users are never deleted).
    usernames: HashMap<i64, String>,
    /// Memberships (room, user) known to exist: every post checks one. Only the writer
    /// changes memberships; removing one (or its room) drops it here.
    members: HashSet<(i64, i64)>,
}

impl WriterCache {
    /// Forgets everything (after a rollback); the next use reloads from the file.
    fn clear(&mut self) {
        self.rooms.clear();
        self.usernames.clear();
        self.members.clear();
    }

    /// Keeps the memory bounded: once committed, every entry can be reloaded from the file.
    fn trim(&mut self) {
        if self.rooms.len() > CACHE_LIMIT {
            self.rooms = HashMap::new();
        }
        if self.usernames.len() > CACHE_LIMIT {
            self.usernames = HashMap::new();
        }
        if self.members.len() > CACHE_LIMIT {
            self.members = HashSet::new();
        }
    }

    /// Writes every counter that moved to `rooms.last_seq`, in the open transaction.
    fn store_seqs(&mut self, conn: &Connection) -> rusqlite::Result<()> {
        for (room, counter) in &mut self.rooms {
            if counter.last != counter.stored {
                conn.prepare_cached(sql::ROOM_SET_LAST_SEQ)?
                    .execute([*room, counter.last])?;
                counter.stored = counter.last;
            }
        }
        Ok(())
    }
}

/// The connection as a write operation sees it: inside the open group transaction, with the
/// writer's seq counters and what the group wrote that the indexer must know.
pub(crate) struct WriteTx<'c> {
    conn: &'c Connection,
    /// The highest message id posted and `search_changes` seq written in the group so far.
    written: Cell<Watermarks>,
    tracker: &'c Tracker,
    cache: &'c RefCell<WriterCache>,
    /// Messages to announce after COMMIT; `None` when no one listens.
    posted: Option<RefCell<Vec<Message>>>,
}

impl WriteTx<'_> {
    /// Queues a newly posted message for the listener, if there is one.
    pub(crate) fn announce(&self, message: &Message) {
        if let Some(posted) = &self.posted {
            posted.borrow_mut().push(message.clone());
        }
    }

    /// What the group wrote so far (to forget a failed request's own).
    fn queued(&self) -> (Watermarks, usize) {
        (
            self.written.get(),
            self.posted.as_ref().map_or(0, |p| p.borrow().len()),
        )
    }

    /// Forgets what was written after `queued` (a request that failed).
    fn drop_queued(&self, (written, posted): (Watermarks, usize)) {
        self.written.set(written);
        if let Some(p) = &self.posted {
            p.borrow_mut().truncate(posted);
        }
    }

    /// Notes a message inserted in this transaction (for the indexer).
    pub(crate) fn note_message(&self, id: i64) {
        let mut written = self.written.get();
        written.messages = written.messages.max(id);
        self.written.set(written);
    }

    /// Notes a `search_changes` row inserted in this transaction (for the indexer).
    pub(crate) fn note_change(&self, seq: i64) {
        let mut written = self.written.get();
        written.changes = written.changes.max(seq);
        self.written.set(written);
    }

    /// The seq up to which the indexer has applied `search_changes`.
    pub(crate) fn indexed_changes(&self) -> i64 {
        self.tracker.indexed_changes()
    }

    /// The seq the next message of `room` gets, `None` when the room does not exist. Takes
    /// nothing: call [`WriteTx::take_seq`] once the message is written.
    pub(crate) fn next_seq(&self, room: RoomId) -> DbResult<Option<i64>> {
        if let Some(counter) = self.cache.borrow().rooms.get(&room.0) {
            return Ok(Some(counter.last + 1));
        }
        let stored: Option<i64> = self
            .conn
            .prepare_cached(sql::ROOM_LAST_SEQ)?
            .query_row([room.0], |r| r.get(0))
            .optional()?;
        Ok(stored.map(|stored| {
            self.cache.borrow_mut().rooms.insert(
                room.0,
                RoomSeq {
                    last: stored,
                    stored,
                },
            );
            stored + 1
        }))
    }

    /// Records that `seq` (from [`WriteTx::next_seq`]) was used by a message written in this
    /// transaction.
    pub(crate) fn take_seq(&self, room: RoomId, seq: i64) {
        if let Some(counter) = self.cache.borrow_mut().rooms.get_mut(&room.0) {
            counter.last = seq;
        }
    }

    /// A user's name, `None` when the user does not exist.
    pub(crate) fn username(&self, user: UserId) -> DbResult<Option<String>> {
        if let Some(name) = self.cache.borrow().usernames.get(&user.0) {
            return Ok(Some(name.clone()));
        }
        let name: Option<String> = self
            .conn
            .prepare_cached(sql::USERNAME_BY_ID)?
            .query_row([user.0], |r| r.get(0))
            .optional()?;
        if let Some(name) = &name {
            self.cache
                .borrow_mut()
                .usernames
                .insert(user.0, name.clone());
        }
        Ok(name)
    }

    /// Whether `user` is a member of `room`.
    pub(crate) fn is_member(&self, room: RoomId, user: UserId) -> DbResult<bool> {
        let key = (room.0, user.0);
        if self.cache.borrow().members.contains(&key) {
            return Ok(true);
        }
        let member: bool = self
            .conn
            .prepare_cached(sql::MEMBER_EXISTS)?
            .query_row([room.0, user.0], |r| r.get(0))?;
        if member {
            self.cache.borrow_mut().members.insert(key);
        }
        Ok(member)
    }

    /// Forgets a membership (it is being removed).
    pub(crate) fn forget_member(&self, room: RoomId, user: UserId) {
        self.cache.borrow_mut().members.remove(&(room.0, user.0));
    }

    /// Forgets a room's counter and memberships (the room is being deleted).
    pub(crate) fn forget_room(&self, room: RoomId) {
        self.cache
            .borrow_mut()
            .members
            .retain(|(r, _)| *r != room.0);
        self.cache.borrow_mut().rooms.remove(&room.0);
    }
}

impl Deref for WriteTx<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        self.conn
    }
}

/// A write operation queued for the writer thread, type-erased.
trait WriteJob: Send {
    /// Whether the request runs inside its own savepoint (see [`Writer::write_single`]).
    fn savepoint(&self) -> bool;
    /// Runs the operation inside the request's savepoint; keeps its result. Returns whether
    /// it succeeded (and its savepoint is to be released).
    fn run(&mut self, tx: &WriteTx<'_>) -> bool;
    /// Answers the caller once the group transaction ended; `failure` is set when the
    /// transaction did not commit.
    fn answer(self: Box<Self>, failure: Option<&str>);
}

struct Job<T, F> {
    savepoint: bool,
    op: Option<F>,
    result: Option<StoreResult<T>>,
    reply: oneshot::Sender<StoreResult<T>>,
}

impl<T, F> WriteJob for Job<T, F>
where
    T: Send + 'static,
    F: FnOnce(&WriteTx<'_>) -> DbResult<T> + Send + 'static,
{
    fn savepoint(&self) -> bool {
        self.savepoint
    }

    fn run(&mut self, tx: &WriteTx<'_>) -> bool {
        let Some(op) = self.op.take() else {
            return false;
        };
        let result = match catch_unwind(AssertUnwindSafe(|| op(tx))) {
            Ok(r) => r.map_err(StoreError::from),
            Err(_) => Err(StoreError::backend(SqliteError::Thread(
                "a write operation panicked".into(),
            ))),
        };
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn answer(self: Box<Self>, failure: Option<&str>) {
        let result = match (self.result, failure) {
            // Its own error is the most precise answer, whatever happened to the group.
            (Some(Err(e)), _) => Err(e),
            (Some(Ok(_)) | None, Some(why)) => Err(StoreError::backend(SqliteError::Transaction(
                why.to_owned(),
            ))),
            (Some(Ok(v)), None) => Ok(v),
            (None, None) => Err(StoreError::backend(SqliteError::Transaction(
                "the write was not run".into(),
            ))),
        };
        // The caller may have gone away; nothing to do then.
        let _ = self.reply.send(result);
    }
}

enum Command {
    Write(Box<dyn WriteJob>),
    Close(oneshot::Sender<Result<(), SqliteError>>),
}

/// Where the writer announces posts, once someone asked (see [`Writer::announce_posts`]).
type Listener = Arc<OnceLock<Arc<dyn PostListener>>>;

/// Handle to the writer thread. Cloning shares the thread.
#[derive(Clone)]
pub(crate) struct Writer {
    tx: mpsc::Sender<Command>,
    listener: Listener,
}

impl Writer {
    /// Starts the writer thread with its connection; it reports what it commits to `tracker`.
    pub(crate) fn start(
        conn: Connection,
        capacity: usize,
        max_batch: usize,
        tracker: Arc<Tracker>,
    ) -> Result<Writer, SqliteError> {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let listener = Listener::default();
        let announce = Arc::clone(&listener);
        std::thread::Builder::new()
            .name("chat-sqlite-writer".into())
            .spawn(move || {
                // Tells the indexer when this thread ends, however it ends.
                let stopped = WriterStopped(tracker);
                run(conn, rx, max_batch.max(1), &announce, &stopped.0);
            })
            .map_err(|e| SqliteError::Thread(e.to_string()))?;
        Ok(Writer { tx, listener })
    }

    /// Hands every message posted from now on to `listener` after its commit. Returns
    /// `false` when a listener was set before (it stays).
    pub(crate) fn announce_posts(&self, listener: Arc<dyn PostListener>) -> bool {
        self.listener.set(listener).is_ok()
    }

    /// Runs `op` in the next group transaction, inside its own savepoint; answers once it
    /// committed.
    pub(crate) async fn write<T, F>(&self, op: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&WriteTx<'_>) -> DbResult<T> + Send + 'static,
    {
        self.enqueue(true, op).await
    }

    /// Like [`Writer::write`] but without a savepoint, for an `op` whose only write is a
    /// single-row INSERT or UPDATE as its last fallible step (before it, only reads): when it
    /// fails, it has written nothing. `op` must not change the writer's counters before its
    /// write succeeded. An `op` that never fails may also run several such steps, each
    /// keeping its own outcome (`post_messages`): a failed step has written nothing either.
    pub(crate) async fn write_single<T, F>(&self, op: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&WriteTx<'_>) -> DbResult<T> + Send + 'static,
    {
        self.enqueue(false, op).await
    }

    async fn enqueue<T, F>(&self, savepoint: bool, op: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&WriteTx<'_>) -> DbResult<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            savepoint,
            op: Some(op),
            result: None,
            reply,
        };
        self.tx
            .send(Command::Write(Box::new(job)))
            .await
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Lets the writer finish everything queued before, checkpoint the WAL and stop.
    pub(crate) async fn close(&self) -> Result<(), SqliteError> {
        let (reply, answer) = oneshot::channel();
        if self.tx.send(Command::Close(reply)).await.is_err() {
            return Ok(()); // already closed
        }
        answer.await.unwrap_or(Ok(()))
    }
}

/// The writer thread's loop.
fn run(
    conn: Connection,
    mut rx: mpsc::Receiver<Command>,
    max_batch: usize,
    listener: &Listener,
    tracker: &Tracker,
) {
    let cache = RefCell::new(WriterCache::default());
    let mut batch: Vec<Box<dyn WriteJob>> = Vec::with_capacity(max_batch);
    while let Some(first) = rx.blocking_recv() {
        let mut close = None;
        match first {
            Command::Write(job) => batch.push(job),
            Command::Close(reply) => close = Some(reply),
        }
        while close.is_none() && batch.len() < max_batch {
            match rx.try_recv() {
                Ok(Command::Write(job)) => batch.push(job),
                Ok(Command::Close(reply)) => close = Some(reply),
                Err(_) => break,
            }
        }
        if let Some(reply) = close {
            // Refuse new work, but finish what was queued before the close.
            rx.close();
            while let Ok(command) = rx.try_recv() {
                match command {
                    Command::Write(job) => batch.push(job),
                    Command::Close(other) => {
                        let _ = other.send(Ok(()));
                    }
                }
            }
            commit_group(&conn, &cache, &mut batch, listener.get(), tracker);
            let result = shutdown(&conn);
            // Closed before answering: once `close` returned, the file is left alone.
            drop(conn);
            let _ = reply.send(result);
            return;
        }
        commit_group(&conn, &cache, &mut batch, listener.get(), tracker);
    }
    // Every handle is gone: the queue is drained, so just tidy up.
    if let Err(e) = shutdown(&conn) {
        tracing::warn!(error = %e, "closing the chat database failed");
    }
}

/// Final checkpoint so the main file holds everything and the WAL is truncated.
fn shutdown(conn: &Connection) -> Result<(), SqliteError> {
    conn.execute_batch("PRAGMA optimize; PRAGMA wal_checkpoint(TRUNCATE);")?;
    Ok(())
}

fn exec(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([])?;
    Ok(())
}

/// Runs a batch in one transaction, reports it to the indexer, announces its posts, then
/// answers every request.
fn commit_group(
    conn: &Connection,
    cache: &RefCell<WriterCache>,
    batch: &mut Vec<Box<dyn WriteJob>>,
    listener: Option<&Arc<dyn PostListener>>,
    tracker: &Tracker,
) {
    if batch.is_empty() {
        return;
    }
    let failure = match run_group(conn, cache, tracker, batch, listener.is_some()) {
        Ok((posted, written)) => {
            tracker.committed(written);
            if let Some(listener) = listener {
                let announced = catch_unwind(AssertUnwindSafe(|| {
                    if !posted.is_empty() {
                        listener.posted(posted);
                    }
                }));
                if announced.is_err() {
                    // Committed all the same; subscribers recover the rest from the store.
                    tracing::error!("a post listener panicked");
                }
            }
            None
        }
        Err(why) => Some(why),
    };
    if failure.is_some() {
        // The counters may hold values of the lost transaction.
        cache.borrow_mut().clear();
    } else {
        cache.borrow_mut().trim();
    }
    if failure.is_some() && !conn.is_autocommit() {
        // Whatever state the transaction is in, nothing of it may survive.
        if let Err(e) = conn.execute_batch("ROLLBACK") {
            tracing::error!(error = %e, "rolling back a failed group transaction failed");
        }
    }
    if let Some(why) = &failure {
        tracing::error!(error = %why, requests = batch.len(), "group transaction failed");
    }
    for job in batch.drain(..) {
        job.answer(failure.as_deref());
    }
}

/// Runs a batch in one transaction; returns the messages it posted (when `announce`) and the
/// highest message id and change seq it wrote.
fn run_group(
    conn: &Connection,
    cache: &RefCell<WriterCache>,
    tracker: &Tracker,
    batch: &mut [Box<dyn WriteJob>],
    announce: bool,
) -> Result<(Vec<Message>, Watermarks), String> {
    let store_seqs = || {
        cache
            .borrow_mut()
            .store_seqs(conn)
            .map_err(|e| format!("storing the rooms' last seqs failed: {e}"))
    };
    exec(conn, "BEGIN IMMEDIATE").map_err(|e| format!("BEGIN failed: {e}"))?;
    let tx = WriteTx {
        conn,
        written: Cell::new(Watermarks::default()),
        tracker,
        cache,
        posted: announce.then(|| RefCell::new(Vec::new())),
    };
    for job in batch.iter_mut() {
        let queued = tx.queued();
        if !job.savepoint() {
            let changes = conn.total_changes();
            let ok = job.run(&tx);
            if conn.is_autocommit() {
                return Err("SQLite rolled the transaction back".into());
            }
            if !ok {
                tx.drop_queued(queued);
                if conn.total_changes() != changes {
                    return Err("a failed request without a savepoint left changes".into());
                }
            }
            continue;
        }
        // A rollback to the savepoint drops the counters: write them first, so that it
        // cannot lose those of the requests before.
        store_seqs()?;
        exec(conn, "SAVEPOINT request").map_err(|e| format!("SAVEPOINT failed: {e}"))?;
        let ok = job.run(&tx);
        if conn.is_autocommit() {
            // SQLite rolled the whole transaction back (e.g. disk full): the group is lost.
            return Err("SQLite rolled the transaction back".into());
        }
        if !ok {
            tx.drop_queued(queued);
            exec(conn, "ROLLBACK TO request").map_err(|e| format!("ROLLBACK TO failed: {e}"))?;
            cache.borrow_mut().clear();
        }
        exec(conn, "RELEASE request").map_err(|e| format!("RELEASE failed: {e}"))?;
    }
    store_seqs()?;
    exec(conn, "COMMIT").map_err(|e| format!("COMMIT failed: {e}"))?;
    let written = tx.written.get();
    Ok((
        tx.posted.map(RefCell::into_inner).unwrap_or_default(),
        written,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Fail;
    use std::future::Future;

    fn tracker() -> Arc<Tracker> {
        Arc::new(Tracker::new(Watermarks::default(), Watermarks::default()))
    }

    /// Holds the writer thread in a request until released, so that the requests queued
    /// meanwhile are taken together as one group. Returns the held request's task once the
    /// writer runs it, and the release.
    async fn hold_writer(
        writer: &Writer,
    ) -> (
        tokio::task::JoinHandle<StoreResult<()>>,
        std::sync::mpsc::Sender<()>,
    ) {
        let (entered_tx, entered) = tokio::sync::oneshot::channel();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let w = writer.clone();
        let held = tokio::spawn(async move {
            w.write(move |_| {
                let _ = entered_tx.send(());
                let _ = released.recv();
                Ok(())
            })
            .await
        });
        entered.await.unwrap();
        (held, release)
    }

    /// Sends each request to the writer (the first poll of `write` queues it), releases the
    /// held writer, then awaits the answers: the requests form one group, in this order.
    async fn in_one_group<F: Future + Unpin>(
        mut requests: Vec<F>,
        release: std::sync::mpsc::Sender<()>,
    ) -> Vec<F::Output> {
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        for r in &mut requests {
            let polled = std::pin::Pin::new(r).poll(&mut cx);
            assert!(polled.is_pending(), "answered while the writer is held");
        }
        release.send(()).unwrap();
        let mut out = Vec::new();
        for r in requests {
            out.push(r.await);
        }
        out
    }

    /// A writer over a fresh database in `dir` holding `t (x INTEGER NOT NULL UNIQUE)`.
    fn writer_of_table_t(dir: &std::path::Path) -> Writer {
        let conn = Connection::open(dir.join("w.db")).unwrap();
        conn.execute_batch("CREATE TABLE t (x INTEGER NOT NULL UNIQUE)")
            .unwrap();
        Writer::start(conn, 64, 64, tracker()).unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_request_rolls_back_alone_in_its_group() {
        let dir = tempfile::tempdir().unwrap();
        let writer = writer_of_table_t(dir.path());
        // Hold the writer so the next three requests queue up and share one group.
        let (busy, release) = hold_writer(&writer).await;
        let insert = |values: Vec<i64>| {
            let w = writer.clone();
            Box::pin(async move {
                w.write(move |c| {
                    for v in values {
                        c.execute("INSERT INTO t (x) VALUES (?1)", [v])?;
                    }
                    Ok::<_, Fail>(())
                })
                .await
            })
        };
        let requests = vec![insert(vec![1]), insert(vec![2, 1]), insert(vec![3])];
        let [a, b, c]: [_; 3] = in_one_group(requests, release).await.try_into().unwrap();
        busy.await.unwrap().unwrap();
        assert!(a.is_ok() && c.is_ok());
        assert!(matches!(b, Err(StoreError::Backend(_))), "{b:?}");
        let rows: Vec<i64> = writer
            .write(|c| {
                let mut s = c.prepare("SELECT x FROM t ORDER BY x")?;
                let v = s.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
                Ok::<_, Fail>(v)
            })
            .await
            .unwrap();
        assert_eq!(
            rows,
            [1, 3],
            "the failed request's first insert was rolled back"
        );
        writer.close().await.unwrap();
        assert!(matches!(
            writer.write(|_| Ok(())).await,
            Err(StoreError::Closed)
        ));
    }

    /// A request without a savepoint that fails having written nothing fails alone; one that
    /// fails after writing takes its whole group down (nothing of it survives).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_request_without_savepoint_never_leaves_changes() {
        let dir = tempfile::tempdir().unwrap();
        let writer = writer_of_table_t(dir.path());
        let single = |v: i64, fail_after: bool| {
            let w = writer.clone();
            Box::pin(async move {
                w.write_single(move |c| {
                    if !fail_after {
                        // Fails on the UNIQUE constraint before writing.
                        c.execute("INSERT INTO t (x) VALUES (?1)", [v])?;
                        return Ok(());
                    }
                    c.execute("INSERT INTO t (x) VALUES (?1)", [v])?;
                    Err(Fail::from(StoreError::NotFound(chat_core::Entity::Room)))
                })
                .await
            })
        };
        let rows = || {
            let w = writer.clone();
            async move {
                w.write(|c| {
                    let mut s = c.prepare("SELECT x FROM t ORDER BY x")?;
                    let v: Vec<i64> = s.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
                    Ok::<_, Fail>(v)
                })
                .await
                .unwrap()
            }
        };

        let (busy, release) = hold_writer(&writer).await;
        let requests = vec![single(1, false), single(1, false), single(2, false)];
        let [a, dup, b]: [_; 3] = in_one_group(requests, release).await.try_into().unwrap();
        busy.await.unwrap().unwrap();
        assert!(a.is_ok() && b.is_ok(), "{a:?} {b:?}");
        assert!(matches!(dup, Err(StoreError::Backend(_))), "{dup:?}");
        assert_eq!(rows().await, [1, 2]);

        let (busy, release) = hold_writer(&writer).await;
        let requests = vec![single(3, false), single(4, true), single(5, false)];
        let [c, bad, d]: [_; 3] = in_one_group(requests, release).await.try_into().unwrap();
        busy.await.unwrap().unwrap();
        assert!(matches!(bad, Err(StoreError::NotFound(_))), "{bad:?}");
        assert!(c.is_err() && d.is_err(), "the group failed: {c:?} {d:?}");
        assert_eq!(rows().await, [1, 2]);
        writer.close().await.unwrap();
    }
}
