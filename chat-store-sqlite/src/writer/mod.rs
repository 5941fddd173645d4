//! The single writer: one thread owns the write connection and is fed by a bounded channel.
//! It takes every request queued at the moment (up to a batch limit) and commits them as one
//! group transaction (see `group`): SQLite has one writer at a time anyway, and a group pays
//! for one COMMIT whatever its size, so under load the cost per write falls as groups grow.
//!
//! - `job`: a queued request and its reply.
//! - `group`: the group transaction, with a savepoint per request where needed.
//! - `tx`: [`WriteTx`], the connection as a request sees it.
//! - `cache`: what the writer remembers across groups (seq counters, usernames, memberships).
//!
//! The writer does not index messages for search: the indexer thread does, beside it (see
//! [`crate::indexer`]). When the writer thread ends, it tells the indexer's tracker, and the
//! indexer catches up and stops.

mod cache;
mod group;
mod job;
#[cfg(test)]
pub(crate) mod tests;
mod tx;

pub(crate) use tx::WriteTx;

use crate::error::{DbResult, SqliteError};
use crate::indexer::{Tracker, WriterStopped};
use cache::WriterCache;
use chat_core::{PostListener, StoreError, StoreResult};
use group::commit_group;
use job::{Job, WriteJob};
use rusqlite::Connection;
use std::cell::RefCell;
use std::sync::{Arc, OnceLock};
use tokio::sync::{mpsc, oneshot};

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
