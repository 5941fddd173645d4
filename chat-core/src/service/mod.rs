//! `ChatService`: the one place that combines a store and a broker. Apps and protocol adapters
//! call it; it validates input, checks authorization, persists, then publishes.
//!
//! Every method that acts for someone takes the authenticated `&User` (from
//! [`ChatService::authenticate`]) and checks what that user may do.

mod accounts;
mod admin;
mod builder;
mod external;
mod housekeeping;
mod live;
mod messages;
mod publish_posts;
mod rooms;
mod sessions;

pub use builder::ChatServiceBuilder;
pub use external::EXTERNAL_ID_MAX;
pub use live::PresenceGuard;
pub use messages::{HistorySlice, PostRequest};
pub use publish_posts::MAX_RUN;

use publish_posts::PublishPosts;

use crate::broker::Broker;
use crate::live_sessions::LiveSessions;
use crate::{Clock, Config, HashPool, PresenceTracker, Store, SystemClock};
use std::fmt;
use std::sync::Arc;
use tokio::sync::OnceCell;

/// The chat service. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct ChatService {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    broker: Arc<dyn Broker>,
    config: Config,
    clock: Arc<dyn Clock>,
    presence: PresenceTracker,
    /// Sockets to close when their session ends.
    live_sessions: Arc<LiveSessions>,
    /// Whether this node listens to account events from other nodes yet.
    accounts_listening: std::sync::Once,
    /// Whether the housekeeping task has been started.
    housekeeping: std::sync::Once,
    /// Every password hash and verification runs here, bounded by `config.hashing`.
    hashing: HashPool,
    /// A hash verified when a login names an unknown user, so both paths cost the same.
    dummy_hash: OnceCell<String>,
    /// The store publishes posts itself, in commit order (see [`PostListener`]).
    store_publishes_posts: bool,
}

impl fmt::Debug for ChatService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChatService")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl ChatService {
    /// A service over `store` and `broker` with the system clock.
    pub fn new(store: Arc<dyn Store>, broker: Arc<dyn Broker>, config: Config) -> ChatService {
        ChatService::with_clock(store, broker, config, Arc::new(SystemClock))
    }

    /// A service with an explicit clock (tests use [`ManualClock`](crate::ManualClock)).
    pub fn with_clock(
        store: Arc<dyn Store>,
        broker: Arc<dyn Broker>,
        config: Config,
        clock: Arc<dyn Clock>,
    ) -> ChatService {
        // With an in-process broker, a store that can announce its commits publishes posts
        // in commit order: subscribers then never wait for a poster to be scheduled.
        let store_publishes_posts = broker
            .in_process()
            .is_some_and(|local| store.announce_posts(Arc::new(PublishPosts(local))));
        let hashing = HashPool::new(config.hashing, config.hash_cost);
        ChatService {
            inner: Arc::new(Inner {
                store,
                broker,
                hashing,
                config,
                clock,
                presence: PresenceTracker::default(),
                live_sessions: Arc::default(),
                accounts_listening: std::sync::Once::new(),
                housekeeping: std::sync::Once::new(),
                dummy_hash: OnceCell::new(),
                store_publishes_posts,
            }),
        }
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// The broker.
    pub fn broker(&self) -> &Arc<dyn Broker> {
        &self.inner.broker
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The password hashing pool (for its load: [`HashPool::in_flight`]).
    pub fn hash_pool(&self) -> &HashPool {
        &self.inner.hashing
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    /// Whether the store publishes posts itself, in commit order.
    pub(crate) fn store_publishes_posts(&self) -> bool {
        self.inner.store_publishes_posts
    }

    fn clamp(&self, limit: usize) -> usize {
        limit.min(self.inner.config.limits.page_max)
    }
}
