//! The `Broker` trait: publish a room event, subscribe to a room's events.
//!
//! [`LocalBroker`] fans out inside one process. Brokers that span nodes (PostgreSQL
//! LISTEN/NOTIFY, Redis, NATS) carry events between nodes and hand them to a `LocalBroker` on
//! each node, so every broker yields the same [`Subscription`] type.

mod local;
mod subscription;

pub use local::{DEFAULT_RING, FanOutStats, LocalBroker};
pub use subscription::{Delivery, Subscription, SubscriptionGuard};

use crate::{BrokerError, RoomEvent, RoomId};
use async_trait::async_trait;

/// Fans room events out to subscribers.
///
/// Delivery is best effort but never silently lossy: a subscriber that falls behind receives
/// [`Delivery::Lagged`] and re-reads the store by seq. Events published from one task to one room
/// arrive in publish order.
///
/// A broker may deliver a `MessagePosted` more than once or out of seq order (for example a
/// cross-node broker re-announcing a room's latest message after it lost its connection).
/// Consumers of a raw [`Subscription`] must therefore drop messages by seq; [`RoomFeed`](crate::RoomFeed)
/// does exactly that.
#[async_trait]
pub trait Broker: Send + Sync + 'static {
    /// Publishes an event to every current subscriber of `room` (on every node).
    async fn publish(&self, room: RoomId, event: RoomEvent) -> Result<(), BrokerError>;

    /// Subscribes to `room`. Events published after this call returns are delivered.
    async fn subscribe(&self, room: RoomId) -> Result<Subscription, BrokerError>;

    /// When every subscriber of this broker is in this process and reachable through one
    /// [`LocalBroker`], that broker: events handed to it directly (synchronously, from any
    /// thread) reach everyone `publish` would reach. `None` (the default) for brokers that span
    /// nodes. [`ChatService`](crate::ChatService) uses it to let a store publish posts in
    /// commit order (see [`PostListener`](crate::PostListener)).
    fn in_process(&self) -> Option<LocalBroker> {
        None
    }

    /// This node's fan-out counters (rooms, lags), for monitoring. The default gives
    /// the in-process broker's, if there is one; brokers that span nodes give their local
    /// fan-out's.
    fn fan_out_stats(&self) -> Option<FanOutStats> {
        self.in_process().map(|local| local.stats())
    }
}
