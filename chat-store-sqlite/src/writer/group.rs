//! Group commit: a batch of requests runs in one transaction, each inside its own SAVEPOINT
//! so that a failing request rolls back alone, and every request is answered only after
//! COMMIT returned, so an `Ok` means durable.
//!
//! Requests whose only write is one single-row statement, run last, need no savepoint
//! ([`Writer::write_single`], used by posts): SQLite checks every constraint of a single-row
//! INSERT before writing anything, and an error during the write itself (I/O, disk full) rolls
//! the whole transaction back, which fails the group anyway. A savepoint is not free: every
//! page first changed under it is copied to the statement journal. As a guard, a
//! savepoint-less request that fails must leave `total_changes` unchanged, or the whole group
//! is rolled back and fails.
//!
//! After COMMIT and before answering, the group's highest message id and `search_changes` seq
//! go to the indexer's [`Tracker`] (so a search started after an answer knows what it must
//! wait for), and the messages it posted go to the post listener, in order: posts are
//! published in seq order the moment they are durable. What a failed request wrote is
//! forgotten for both.
//!
//! [`Writer::write_single`]: super::Writer::write_single

use super::WriteTx;
use super::cache::WriterCache;
use super::job::WriteJob;
use crate::indexer::Tracker;
use crate::search_file::Watermarks;
use chat_core::{Message, PostListener};
use rusqlite::Connection;
use std::cell::{Cell, RefCell};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

/// Runs a statement of the group's own (BEGIN, SAVEPOINT, ...); the error says which failed.
fn exec(conn: &Connection, sql: &str) -> Result<(), String> {
    let run = || conn.prepare_cached(sql)?.execute([]);
    run().map(drop).map_err(|e| format!("{sql} failed: {e}"))
}

/// Runs a batch in one transaction, reports it to the indexer, announces its posts, then
/// answers every request.
pub(super) fn commit_group(
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
    exec(conn, "BEGIN IMMEDIATE")?;
    let tx = WriteTx {
        conn,
        written: Cell::new(Watermarks::default()),
        tracker,
        cache,
        posted: announce.then(|| RefCell::new(Vec::new())),
    };
    for job in batch.iter_mut() {
        let queued = tx.queued();
        let savepoint = job.savepoint();
        if savepoint {
            // A rollback to the savepoint drops the counters: write them first, so that it
            // cannot lose those of the requests before.
            store_seqs()?;
            exec(conn, "SAVEPOINT request")?;
        }
        let changes = conn.total_changes();
        let ok = job.run(&tx);
        if conn.is_autocommit() {
            // SQLite rolled the whole transaction back (e.g. disk full): the group is lost.
            return Err("SQLite rolled the transaction back".into());
        }
        if !ok {
            tx.drop_queued(queued);
            if savepoint {
                exec(conn, "ROLLBACK TO request")?;
                cache.borrow_mut().clear();
            } else if conn.total_changes() != changes {
                return Err("a failed request without a savepoint left changes".into());
            }
        }
        if savepoint {
            exec(conn, "RELEASE request")?;
        }
    }
    store_seqs()?;
    exec(conn, "COMMIT")?;
    let written = tx.written.get();
    Ok((
        tx.posted.map(RefCell::into_inner).unwrap_or_default(),
        written,
    ))
}
