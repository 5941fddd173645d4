//! # chat-store-memory
//!
//! An in-memory implementation of every chat-core storage trait: for tests, demos and apps
//! that keep no history across restarts. It passes the same conformance suite as the durable
//! stores.
//!
//! - `state`: the tables and indexes, behind one mutex that is never held across an `.await`.
//! - `users`, `sessions`, `rooms`, `messages`: one storage trait each.

mod messages;
mod rooms;
mod sessions;
mod state;
mod users;

use state::State;
use std::sync::{Arc, Mutex, MutexGuard};

/// The in-memory store. Cheap to clone; clones share the data.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every mutation completes before the lock is released, so a poisoned lock still guards
        // consistent data.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}
