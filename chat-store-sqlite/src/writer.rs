//! The single writer: one thread owns the write connection and is fed by a bounded channel.
//! It takes every request queued at the moment (up to a batch limit) and runs them in one
//! transaction (group commit), each inside its own SAVEPOINT so a failing request rolls back
//! alone. Every request is answered by its oneshot only after COMMIT returned, so an `Ok` means
//! durable.
//!
//! Changes to the full-text index are collected during the group and applied after the last
//! request, outside the savepoints, in request order: FTS5 flushes its pending index at every
//! savepoint, so writing it inside them would create a new index segment per message. A
//! request whose savepoint rolls back drops the index changes it had queued.

use crate::error::{DbResult, SqliteError};
use crate::search::{self, FtsOp};
use chat_core::{StoreError, StoreResult};
use rusqlite::Connection;
use std::cell::RefCell;
use std::ops::Deref;
use std::panic::{AssertUnwindSafe, catch_unwind};
use tokio::sync::{mpsc, oneshot};

/// The connection as a write operation sees it: inside the open group transaction, with the
/// full-text index changes to apply once every request of the group ran.
pub(crate) struct WriteTx<'c> {
    conn: &'c Connection,
    fts: RefCell<Vec<FtsOp>>,
}

impl WriteTx<'_> {
    /// Queues a change of the full-text index for the end of the group.
    pub(crate) fn defer_fts(&self, op: FtsOp) {
        self.fts.borrow_mut().push(op);
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
    /// Runs the operation inside the request's savepoint; keeps its result. Returns whether
    /// it succeeded (and its savepoint is to be released).
    fn run(&mut self, tx: &WriteTx<'_>) -> bool;
    /// Answers the caller once the group transaction ended; `failure` is set when the
    /// transaction did not commit.
    fn answer(self: Box<Self>, failure: Option<&str>);
}

struct Job<T, F> {
    op: Option<F>,
    result: Option<StoreResult<T>>,
    reply: oneshot::Sender<StoreResult<T>>,
}

impl<T, F> WriteJob for Job<T, F>
where
    T: Send + 'static,
    F: FnOnce(&WriteTx<'_>) -> DbResult<T> + Send + 'static,
{
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

/// Handle to the writer thread. Cloning shares the thread.
#[derive(Clone)]
pub(crate) struct Writer {
    tx: mpsc::Sender<Command>,
}

impl Writer {
    /// Starts the writer thread with its connection.
    pub(crate) fn start(
        conn: Connection,
        capacity: usize,
        max_batch: usize,
    ) -> Result<Writer, SqliteError> {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        std::thread::Builder::new()
            .name("chat-sqlite-writer".into())
            .spawn(move || run(conn, rx, max_batch.max(1)))
            .map_err(|e| SqliteError::Thread(e.to_string()))?;
        Ok(Writer { tx })
    }

    /// Runs `op` in the next group transaction; answers once it committed.
    pub(crate) async fn write<T, F>(&self, op: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&WriteTx<'_>) -> DbResult<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = Job {
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
fn run(conn: Connection, mut rx: mpsc::Receiver<Command>, max_batch: usize) {
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
            commit_group(&conn, &mut batch);
            let _ = reply.send(shutdown(&conn));
            return;
        }
        commit_group(&conn, &mut batch);
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

/// Runs a batch in one transaction and answers every request after it ended.
fn commit_group(conn: &Connection, batch: &mut Vec<Box<dyn WriteJob>>) {
    if batch.is_empty() {
        return;
    }
    let failure = run_group(conn, batch).err();
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

fn run_group(conn: &Connection, batch: &mut [Box<dyn WriteJob>]) -> Result<(), String> {
    exec(conn, "BEGIN IMMEDIATE").map_err(|e| format!("BEGIN failed: {e}"))?;
    let tx = WriteTx {
        conn,
        fts: RefCell::new(Vec::new()),
    };
    for job in batch.iter_mut() {
        exec(conn, "SAVEPOINT request").map_err(|e| format!("SAVEPOINT failed: {e}"))?;
        let queued = tx.fts.borrow().len();
        let ok = job.run(&tx);
        if conn.is_autocommit() {
            // SQLite rolled the whole transaction back (e.g. disk full): the group is lost.
            return Err("SQLite rolled the transaction back".into());
        }
        if !ok {
            tx.fts.borrow_mut().truncate(queued);
            exec(conn, "ROLLBACK TO request").map_err(|e| format!("ROLLBACK TO failed: {e}"))?;
        }
        exec(conn, "RELEASE request").map_err(|e| format!("RELEASE failed: {e}"))?;
    }
    search::apply(conn, &tx.fts.into_inner())
        .map_err(|e| format!("updating the search index failed: {e}"))?;
    exec(conn, "COMMIT").map_err(|e| format!("COMMIT failed: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Fail;
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_request_rolls_back_alone_in_its_group() {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(dir.path().join("w.db")).unwrap();
        conn.execute_batch("CREATE TABLE t (x INTEGER NOT NULL UNIQUE)")
            .unwrap();
        let writer = Writer::start(conn, 64, 64).unwrap();
        // Hold the writer busy so the next three requests queue up and share one group.
        let busy = {
            let w = writer.clone();
            tokio::spawn(async move {
                w.write(|_| {
                    std::thread::sleep(Duration::from_millis(100));
                    Ok(())
                })
                .await
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        let insert = |values: Vec<i64>| {
            let w = writer.clone();
            async move {
                w.write(move |c| {
                    for v in values {
                        c.execute("INSERT INTO t (x) VALUES (?1)", [v])?;
                    }
                    Ok::<_, Fail>(())
                })
                .await
            }
        };
        let (a, b, c) = tokio::join!(insert(vec![1]), insert(vec![2, 1]), insert(vec![3]));
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
}
