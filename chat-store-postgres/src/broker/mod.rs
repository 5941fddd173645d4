//! `PostgresBroker`: a cross-node [`Broker`] over PostgreSQL `LISTEN`/`NOTIFY`.
//!
//! Each node runs one broker over its [`PostgresStore`]. Publishing an event
//!
//! 1. hands it to this node's [`LocalBroker`] at once (local subscribers do not wait for the
//!    database), then
//! 2. sends one `NOTIFY` on the schema's channel with a small JSON notice (module `notice`):
//!    room, kind, seq or ids, never a message body.
//!
//! Every node's listener task (module `listener`) receives the notices of the other nodes,
//! reads the announced messages from the store by `(room, seq)` and delivers the events to its
//! own `LocalBroker`, so every broker yields the same [`Subscription`] type and a
//! [`RoomFeed`](chat_core::RoomFeed) works unchanged on top.
//!
//! Correctness rests on the store, not on the notifications: a notification is a wake-up.
//! `RoomFeed` re-reads the store by seq when it sees a gap, so notices arriving out of commit
//! order (two nodes posting to one room) cost one extra read, not a lost message. Notices lost
//! while the listener connection was down are made up for by a resync (module `resync`) of
//! every locally subscribed room once it is back.
//!
//! Limits of NOTIFY (see the crate docs): one queue for the whole database cluster, payloads
//! under 8000 bytes, delivery at commit, every node receives every notice of the channel.

mod listener;
mod notice;
mod resync;
mod stats;

pub use notice::MAX_PAYLOAD;
pub use stats::BrokerStats;

use crate::{PgError, PostgresStore};
use async_trait::async_trait;
use chat_core::broker::FanOutStats;
use chat_core::{Broker, BrokerError, Envelope, LocalBroker, RoomEvent, RoomId, Subscription};
use listener::ListenerContext;
use notice::Notice;
use stats::Counters;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How long [`PostgresBroker::shutdown`] waits for the listener task before aborting it.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The PostgreSQL `LISTEN`/`NOTIFY` broker of one node. Cheap to clone; clones share the
/// listener and the local subscribers. Dropping the last clone stops the listener task;
/// [`shutdown`](PostgresBroker::shutdown) stops it and waits for it.
#[derive(Clone)]
pub struct PostgresBroker {
    inner: Arc<Inner>,
}

struct Inner {
    store: PostgresStore,
    local: LocalBroker,
    channel: String,
    node: u64,
    counters: Arc<Counters>,
    closed: AtomicBool,
    shutdown: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl fmt::Debug for PostgresBroker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresBroker")
            .field("channel", &self.inner.channel)
            .field("node", &format_args!("{:016x}", self.inner.node))
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// A random id for this broker instance, so it can recognize its own notices. It only needs to
/// differ between the nodes of a deployment, not to be secret.
fn node_id() -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    if let Ok(elapsed) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        hasher.write_u128(elapsed.as_nanos());
    }
    hasher.finish()
}

impl PostgresBroker {
    /// Starts the broker of this node: opens the listener connection, `LISTEN`s on the channel
    /// of `store`'s schema, and spawns the listener task (on the current Tokio runtime).
    /// `capacity` is how many events each local subscriber may fall behind before it is told
    /// it lagged (and re-reads the store): the length of each room's ring (see
    /// [`LocalBroker::new`]).
    ///
    /// Returns once the listener is listening, so events published after a
    /// [`subscribe`](Broker::subscribe) made after this returns are delivered.
    pub async fn start(store: &PostgresStore, capacity: usize) -> Result<PostgresBroker, PgError> {
        let ctx = ListenerContext {
            store: store.clone(),
            local: LocalBroker::new(capacity),
            options: store.shared.options.clone(),
            channel: notice::channel_for(store.schema()),
            node: node_id(),
            counters: Arc::new(Counters::default()),
        };
        let listener = listener::connect(&ctx).await?;
        let (shutdown, shutdown_rx) = watch::channel(false);
        let inner = Inner {
            store: store.clone(),
            local: ctx.local.clone(),
            channel: ctx.channel.clone(),
            node: ctx.node,
            counters: Arc::clone(&ctx.counters),
            closed: AtomicBool::new(false),
            shutdown,
            task: Mutex::new(None),
        };
        let task = tokio::spawn(listener::run(ctx, listener, shutdown_rx));
        *inner.task.lock().unwrap_or_else(|e| e.into_inner()) = Some(task);
        tracing::info!(channel = %inner.channel, "postgres broker started");
        Ok(PostgresBroker {
            inner: Arc::new(inner),
        })
    }

    /// The NOTIFY channel this broker uses (one per schema).
    pub fn channel(&self) -> &str {
        &self.inner.channel
    }

    /// The in-process broker that fans events out to this node's subscribers.
    pub fn local(&self) -> &LocalBroker {
        &self.inner.local
    }

    /// A snapshot of the broker's counters.
    pub fn stats(&self) -> BrokerStats {
        self.inner.counters.snapshot()
    }

    /// Whether [`shutdown`](PostgresBroker::shutdown) was called.
    pub fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::Acquire)
    }

    /// Stops the listener task and waits for it (its connection is released as it ends).
    /// Later publishes and subscribes fail with [`BrokerError::Closed`]. Open subscriptions
    /// stay valid but receive nothing more (apps close them with their connections).
    /// Idempotent.
    pub async fn shutdown(&self) {
        self.inner.closed.store(true, Ordering::Release);
        self.inner.shutdown.send_replace(true);
        let task = self
            .inner
            .task
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(mut task) = task {
            // The task stops at its next wait; a store read or ping in progress is bounded,
            // but do not let a hung one hold the shutdown for long.
            match tokio::time::timeout(SHUTDOWN_GRACE, &mut task).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "broker listener task failed"),
                Err(_) => {
                    tracing::warn!("broker listener task did not stop in time; aborting it");
                    task.abort();
                    self.inner.counters.listener_pid.store(0, Ordering::Relaxed);
                }
            }
        }
    }
}

#[async_trait]
impl Broker for PostgresBroker {
    async fn publish(&self, room: RoomId, event: RoomEvent) -> Result<(), BrokerError> {
        if self.is_closed() {
            return Err(BrokerError::Closed);
        }
        let notices = Notice::all(self.inner.node, room, &event);
        let payloads = notices
            .iter()
            .map(Notice::encode)
            .collect::<Result<Vec<_>, _>>()?;
        self.inner
            .local
            .deliver(Arc::new(Envelope::new(room, event)));
        // One round trip (and one transaction) for all of an event's notices, sent in order:
        // a run of posts is one notice per message. Their payloads differ (one seq each), so
        // PostgreSQL's folding of identical notices within a transaction never applies.
        let sent = payloads.len() as u64;
        sqlx::query("SELECT pg_notify($1, payload) FROM unnest($2::text[]) AS payload")
            .bind(&self.inner.channel)
            .bind(payloads)
            .execute(self.inner.store.pool())
            .await
            .map_err(PgError::from)?;
        Counters::add(&self.inner.counters.published, sent);
        Ok(())
    }

    async fn subscribe(&self, room: RoomId) -> Result<Subscription, BrokerError> {
        if self.is_closed() {
            return Err(BrokerError::Closed);
        }
        Ok(self.inner.local.subscribe_local(room))
    }

    fn fan_out_stats(&self) -> Option<FanOutStats> {
        Some(self.inner.local.stats())
    }
}
