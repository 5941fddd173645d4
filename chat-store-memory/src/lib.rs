//! # chat-store-memory
//!
//! An in-memory implementation of every chat-core storage trait: for tests, demos and apps
//! that keep no history across restarts. It passes the same conformance suite as the durable
//! stores.
//!
//! - `state`: the tables and indexes, behind one mutex that is never held across an `.await`.
//! - `room_log`: a room's messages, in chunks that never move.
//! - `users`, `sessions`, `rooms`, `messages`: one storage trait each.

mod messages;
mod room_log;
mod rooms;
mod sessions;
mod state;
mod users;

use chat_core::PostListener;
use state::State;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

/// The in-memory store. Cheap to clone; clones share the data.
///
/// It announces its posts (see [`PostListener`]): each message is handed to the listener
/// under the lock that assigned its seq, so a room's messages reach subscribers in seq order
/// and no subscriber waits for a poster that the scheduler has not run yet.
#[derive(Clone, Default)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
    listener: Arc<OnceLock<Arc<dyn PostListener>>>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("announces_posts", &self.listener.get().is_some())
            .finish_non_exhaustive()
    }
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

/// Nothing to close: the data lives as long as the store.
impl chat_core::Store for MemoryStore {}
