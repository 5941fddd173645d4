//! In-process fan-out: one bounded `tokio::sync::broadcast` ring per subscribed room.
//!
//! Publishing clones one `Arc` into the ring; each subscriber reads it at its own pace. A
//! subscriber more than `capacity` events behind gets [`Delivery::Lagged`](super::Delivery)
//! instead of blocking the publisher or the other subscribers.

use super::{Broker, Subscription, SubscriptionGuard};
use crate::{BrokerError, Envelope, RoomEvent, RoomId};
use async_trait::async_trait;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::broadcast;

/// The in-process broker. Cheap to clone; clones share subscribers.
#[derive(Clone)]
pub struct LocalBroker {
    inner: Arc<Inner>,
}

struct Inner {
    rooms: Mutex<HashMap<RoomId, broadcast::Sender<Arc<Envelope>>>>,
    capacity: usize,
}

impl Inner {
    fn rooms(&self) -> MutexGuard<'_, HashMap<RoomId, broadcast::Sender<Arc<Envelope>>>> {
        // A panic while holding this lock cannot leave the map inconsistent: recover it.
        self.rooms.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl fmt::Debug for LocalBroker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalBroker")
            .field("rooms", &self.inner.rooms().len())
            .field("capacity", &self.inner.capacity)
            .finish()
    }
}

impl Default for LocalBroker {
    fn default() -> Self {
        LocalBroker::new(1024)
    }
}

impl LocalBroker {
    /// A broker buffering up to `capacity` events per room for slow subscribers.
    pub fn new(capacity: usize) -> LocalBroker {
        LocalBroker {
            inner: Arc::new(Inner {
                rooms: Mutex::new(HashMap::new()),
                capacity: capacity.max(1),
            }),
        }
    }

    /// Hands an event to this process's subscribers of its room. Returns how many received it.
    pub fn deliver(&self, envelope: Arc<Envelope>) -> usize {
        let sender = self.inner.rooms().get(&envelope.room).cloned();
        match sender {
            Some(tx) => tx.send(envelope).unwrap_or(0),
            None => 0,
        }
    }

    /// Subscribes to a room in this process.
    pub fn subscribe_local(&self, room: RoomId) -> Subscription {
        let rx = {
            let mut rooms = self.inner.rooms();
            let tx = rooms
                .entry(room)
                .or_insert_with(|| broadcast::channel(self.inner.capacity).0);
            tx.subscribe()
        };
        let guard = RoomGuard {
            inner: Arc::clone(&self.inner),
            room,
        };
        Subscription::new(rx, Some(Box::new(guard)))
    }

    /// How many subscriptions to `room` are open in this process.
    pub fn subscriber_count(&self, room: RoomId) -> usize {
        self.inner
            .rooms()
            .get(&room)
            .map_or(0, broadcast::Sender::receiver_count)
    }

    /// Ends every subscription: each receives [`Delivery::Closed`](super::Delivery) once it has
    /// read what was already queued. Used when the broker shuts down.
    pub fn close_all(&self) {
        self.inner.rooms().clear();
    }

    /// Rooms with at least one open subscription in this process.
    pub fn subscribed_rooms(&self) -> Vec<RoomId> {
        self.inner.rooms().keys().copied().collect()
    }
}

#[async_trait]
impl Broker for LocalBroker {
    async fn publish(&self, room: RoomId, event: RoomEvent) -> Result<(), BrokerError> {
        self.deliver(Arc::new(Envelope::new(room, event)));
        Ok(())
    }

    async fn subscribe(&self, room: RoomId) -> Result<Subscription, BrokerError> {
        Ok(self.subscribe_local(room))
    }

    fn in_process(&self) -> Option<LocalBroker> {
        Some(self.clone())
    }
}

/// Removes a room's ring once its last subscription is gone.
struct RoomGuard {
    inner: Arc<Inner>,
    room: RoomId,
}

impl fmt::Debug for RoomGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RoomGuard")
            .field("room", &self.room)
            .finish()
    }
}

impl SubscriptionGuard for RoomGuard {}

impl Drop for RoomGuard {
    fn drop(&mut self) {
        let mut rooms = self.inner.rooms();
        // The subscription's receiver is dropped before its guard, so a count of zero means no
        // one else listens to this room.
        if rooms
            .get(&self.room)
            .is_some_and(|tx| tx.receiver_count() == 0)
        {
            rooms.remove(&self.room);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::Delivery;

    fn typing(n: i64) -> RoomEvent {
        RoomEvent::Typing {
            user: crate::UserId(n),
            username: format!("u{n}"),
        }
    }

    #[tokio::test]
    async fn fans_out_per_room_and_reports_lag() {
        let broker = LocalBroker::new(4);
        let mut a = broker.subscribe(RoomId(1)).await.unwrap();
        let mut b = broker.subscribe(RoomId(1)).await.unwrap();
        let mut other = broker.subscribe(RoomId(2)).await.unwrap();
        broker.publish(RoomId(1), typing(1)).await.unwrap();
        for d in [a.recv().await, b.recv().await] {
            match d {
                Delivery::Event(e) => assert_eq!(e.event, typing(1)),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!(other.try_recv().is_none(), "rooms are isolated");
        for n in 0..10 {
            broker.publish(RoomId(1), typing(n)).await.unwrap();
        }
        assert!(matches!(a.recv().await, Delivery::Lagged { skipped: 6 }));
        assert!(matches!(a.recv().await, Delivery::Event(_)));
    }

    #[tokio::test]
    async fn releases_rooms_without_subscribers() {
        let broker = LocalBroker::new(4);
        let a = broker.subscribe_local(RoomId(7));
        let b = broker.subscribe_local(RoomId(7));
        assert_eq!(broker.subscriber_count(RoomId(7)), 2);
        drop(a);
        assert_eq!(broker.subscribed_rooms(), vec![RoomId(7)]);
        drop(b);
        assert!(broker.subscribed_rooms().is_empty());
    }

    #[tokio::test]
    async fn close_all_ends_subscriptions() {
        let broker = LocalBroker::new(4);
        let mut a = broker.subscribe_local(RoomId(1));
        broker.publish(RoomId(1), typing(1)).await.unwrap();
        broker.close_all();
        assert!(
            matches!(a.recv().await, Delivery::Event(_)),
            "queued events still arrive"
        );
        assert!(matches!(a.recv().await, Delivery::Closed));
        assert!(broker.subscribed_rooms().is_empty());
    }

    #[tokio::test]
    async fn encodes_once_per_envelope() {
        let broker = LocalBroker::new(4);
        let mut a = broker.subscribe_local(RoomId(1));
        let mut b = broker.subscribe_local(RoomId(1));
        broker.publish(RoomId(1), typing(1)).await.unwrap();
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let mut frames = Vec::new();
        for d in [a.recv().await, b.recv().await] {
            let Delivery::Event(env) = d else { panic!() };
            frames.push(env.encoded(|_| {
                calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                bytes::Bytes::from_static(b"frame")
            }));
        }
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert_eq!(frames[0].as_ptr(), frames[1].as_ptr(), "bytes are shared");
    }
}
