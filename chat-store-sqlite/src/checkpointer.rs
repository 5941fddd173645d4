//! The checkpointer: a thread with its own connection that copies the WAL back into the main
//! file (`PRAGMA wal_checkpoint(PASSIVE)`) every
//! [`SqliteOptions::checkpoint_interval`](crate::SqliteOptions::checkpoint_interval). A
//! checkpoint ends with fsyncs: done by the writer at commit (SQLite's default) it would stall
//! every write queued behind it; here it runs beside the writer, and checkpointing often keeps
//! each one short.

use crate::error::SqliteError;
use rusqlite::Connection;
use std::sync::Mutex;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

/// Handle to the checkpointer thread; dropping it stops the thread, [`Checkpointer::stop`]
/// also waits until its connection is closed.
pub(crate) struct Checkpointer {
    running: Mutex<Option<(mpsc::Sender<()>, JoinHandle<()>)>>,
}

impl Checkpointer {
    /// Starts checkpointing every `interval`, on a thread of its own.
    pub(crate) fn start(conn: Connection, interval: Duration) -> Result<Checkpointer, SqliteError> {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
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
        Ok(Checkpointer {
            running: Mutex::new(Some((stop, thread))),
        })
    }

    /// Stops the thread and waits until it closed its connection (blocking). Idempotent.
    pub(crate) fn stop(&self) {
        let running = match self.running.lock() {
            Ok(mut guard) => guard.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        if let Some((stop, thread)) = running {
            drop(stop);
            let _ = thread.join();
        }
    }
}
