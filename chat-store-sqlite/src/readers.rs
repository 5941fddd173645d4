//! The read pool: a few threads, each owning a read connection (WAL lets them read while the
//! writer writes), fed by one bounded channel. Reads never run on the async reactor.

use crate::error::{DbResult, SqliteError};
use chat_core::{StoreError, StoreResult};
use rusqlite::Connection;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use tokio::sync::{mpsc, oneshot};

type ReadJob = Box<dyn FnOnce(&Connection) + Send>;

/// What a reader thread takes from the queue.
enum Command {
    Read(ReadJob),
    /// Stop this thread (one per thread, see [`Readers::stop`]).
    Stop,
}

/// Handle to the reader threads. Cloning shares them; they stop when the last handle is gone
/// or at [`Readers::stop`].
#[derive(Clone)]
pub(crate) struct Readers {
    tx: mpsc::Sender<Command>,
    threads: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Readers {
    /// Starts one thread per connection.
    pub(crate) fn start(
        connections: Vec<Connection>,
        capacity: usize,
    ) -> Result<Readers, SqliteError> {
        let (tx, rx) = mpsc::channel::<Command>(capacity.max(1));
        let rx = Arc::new(Mutex::new(rx));
        let mut threads = Vec::with_capacity(connections.len());
        for (i, conn) in connections.into_iter().enumerate() {
            let rx = Arc::clone(&rx);
            let thread = std::thread::Builder::new()
                .name(format!("chat-sqlite-reader-{i}"))
                .spawn(move || serve(conn, &rx))
                .map_err(|e| SqliteError::Thread(e.to_string()))?;
            threads.push(thread);
        }
        Ok(Readers {
            tx,
            threads: Arc::new(Mutex::new(threads)),
        })
    }

    /// Stops every reader thread once the reads queued before ran, and waits until their
    /// connections are closed. Reads queued later are answered `Closed` (the queue is dropped
    /// with the last thread). Idempotent.
    pub(crate) async fn stop(&self) -> Result<(), SqliteError> {
        let threads = match self.threads.lock() {
            Ok(mut guard) => std::mem::take(&mut *guard),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        };
        for _ in &threads {
            // Fails only when every thread is gone already.
            let _ = self.tx.send(Command::Stop).await;
        }
        tokio::task::spawn_blocking(move || {
            for thread in threads {
                let _ = thread.join();
            }
        })
        .await
        .map_err(|e| SqliteError::Thread(e.to_string()))
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
        self.tx
            .send(Command::Read(job))
            .await
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }
}

/// A reader thread: takes the next job (holding the lock only while waiting), runs it.
fn serve(conn: Connection, rx: &Mutex<mpsc::Receiver<Command>>) {
    loop {
        let job = {
            let Ok(mut guard) = rx.lock() else {
                return;
            };
            guard.blocking_recv()
        };
        match job {
            Some(Command::Read(job)) => job(&conn),
            Some(Command::Stop) | None => return,
        }
    }
}
