//! A write request as the writer thread holds it: the operation, type-erased behind
//! [`WriteJob`] so that requests of every result type share one queue, its result, and the
//! oneshot that answers the caller once the group transaction has ended. An operation that
//! panics fails alone, like one that returns an error.

use super::WriteTx;
use crate::error::{DbResult, SqliteError};
use chat_core::{StoreError, StoreResult};
use std::panic::{AssertUnwindSafe, catch_unwind};
use tokio::sync::oneshot;

/// A write operation queued for the writer thread, type-erased.
pub(super) trait WriteJob: Send {
    /// Whether the request runs inside its own savepoint (see [`super::Writer::write_single`]).
    fn savepoint(&self) -> bool;
    /// Runs the operation inside the request's savepoint; keeps its result. Returns whether
    /// it succeeded (and its savepoint is to be released).
    fn run(&mut self, tx: &WriteTx<'_>) -> bool;
    /// Answers the caller once the group transaction ended; `failure` is set when the
    /// transaction did not commit.
    fn answer(self: Box<Self>, failure: Option<&str>);
}

pub(super) struct Job<T, F> {
    pub(super) savepoint: bool,
    pub(super) op: Option<F>,
    pub(super) result: Option<StoreResult<T>>,
    pub(super) reply: oneshot::Sender<StoreResult<T>>,
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
