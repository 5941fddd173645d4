//! The checkpointer: a thread with its own connection that copies the WAL back into the main
//! file (`PRAGMA wal_checkpoint(PASSIVE)`) every few milliseconds. A checkpoint ends with
//! fsyncs; done by the writer at commit (SQLite's default) it would stall every write queued
//! behind it, done here it runs beside the writer on another core and keeps the WAL short.

use crate::error::SqliteError;
use rusqlite::Connection;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

/// Handle to the checkpointer thread; dropping it stops the thread.
pub(crate) struct Checkpointer {
    _stop: mpsc::Sender<()>,
}

impl Checkpointer {
    /// Starts checkpointing every `interval`.
    pub(crate) fn start(conn: Connection, interval: Duration) -> Result<Checkpointer, SqliteError> {
        let (stop, stopped) = mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("chat-sqlite-checkpoint".into())
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(interval) {
                    let done = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                        Ok((
                            r.get::<_, i64>(0)?,
                            r.get::<_, i64>(1)?,
                            r.get::<_, i64>(2)?,
                        ))
                    });
                    if let Err(e) = done {
                        tracing::warn!(error = %e, "WAL checkpoint failed");
                    }
                }
            })
            .map_err(|e| SqliteError::Thread(e.to_string()))?;
        Ok(Checkpointer { _stop: stop })
    }
}
