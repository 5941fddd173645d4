//! The read pool: a few threads, each owning a read connection (WAL lets them read while the
//! writer writes), fed by one bounded channel. Reads never run on the async reactor.

use crate::error::{DbResult, SqliteError};
use chat_core::{StoreError, StoreResult};
use rusqlite::Connection;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};

type ReadJob = Box<dyn FnOnce(&Connection) + Send>;

/// Handle to the reader threads. Cloning shares them; they stop when the last handle is gone.
#[derive(Clone)]
pub(crate) struct Readers {
    tx: mpsc::Sender<ReadJob>,
}

impl Readers {
    /// Starts one thread per connection.
    pub(crate) fn start(
        connections: Vec<Connection>,
        capacity: usize,
    ) -> Result<Readers, SqliteError> {
        let (tx, rx) = mpsc::channel::<ReadJob>(capacity.max(1));
        let rx = Arc::new(Mutex::new(rx));
        for (i, conn) in connections.into_iter().enumerate() {
            let rx = Arc::clone(&rx);
            std::thread::Builder::new()
                .name(format!("chat-sqlite-reader-{i}"))
                .spawn(move || serve(conn, &rx))
                .map_err(|e| SqliteError::Thread(e.to_string()))?;
        }
        Ok(Readers { tx })
    }

    /// Runs `op` on a read connection and returns its result.
    pub(crate) async fn read<T, F>(&self, op: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> DbResult<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: ReadJob = Box::new(move |conn| {
            let result = match catch_unwind(AssertUnwindSafe(|| op(conn))) {
                Ok(r) => r.map_err(StoreError::from),
                Err(_) => Err(StoreError::backend(SqliteError::Thread(
                    "a read operation panicked".into(),
                ))),
            };
            let _ = reply.send(result);
        });
        self.tx.send(job).await.map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }
}

/// A reader thread: takes the next job (holding the lock only while waiting), runs it.
fn serve(conn: Connection, rx: &Mutex<mpsc::Receiver<ReadJob>>) {
    loop {
        let job = {
            let Ok(mut guard) = rx.lock() else {
                return;
            };
            guard.blocking_recv()
        };
        match job {
            Some(job) => job(&conn),
            None => return,
        }
    }
}
