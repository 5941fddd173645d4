//! In-process fan-out: one bounded `tokio::sync::broadcast` ring per subscribed room.
//!
//! Publishing clones one `Arc` into the ring; each subscriber reads it at its own pace. A
//! subscriber more than a ring's length behind gets [`Delivery::Lagged`](super::Delivery)
//! instead of blocking the publisher or the other subscribers, and then re-reads the store.
//!
//! Every room's ring has the broker's length, allocated when the room gets its first
//! subscriber (about 32 bytes per slot) and freed with its last. The default, [`DEFAULT_RING`],
//! is deep enough that subscribers stalled for a moment (a slow socket, a descheduled thread)
//! do not lag: re-reading and re-encoding per subscriber costs far more than the shared ring,
//! and at 600k deliveries/s on a slow 2-core machine rings of 1,024 made lagging subscribers
//! fall further behind until the server collapsed, where rings of 2,048 to 8,192 had no lag.

use super::{Broker, Subscription, SubscriptionGuard};
use crate::{BrokerError, Envelope, RoomEvent, RoomId};
use async_trait::async_trait;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::broadcast;

/// The ring length of [`LocalBroker::default`]: 128 KiB per subscribed room.
pub const DEFAULT_RING: usize = 4096;

/// The in-process broker. Cheap to clone; clones share subscribers.
#[derive(Clone)]
pub struct LocalBroker {
    inner: Arc<Inner>,
}

/// A room with subscribers in this process.
struct Room {
    tx: broadcast::Sender<Arc<Envelope>>,
    /// Open subscriptions.
    subscribers: usize,
    /// Tells this room apart from a later room of the same id (after [`LocalBroker::close_all`]
    /// or once every subscription ended), so an old subscription never counts in the new one.
    generation: u64,
}

struct Inner {
    rooms: Mutex<Rooms>,
    ring: usize,
    lags: AtomicU64,
}

/// What a [`LocalBroker`] has seen since it was made (see [`LocalBroker::stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FanOutStats {
    /// Rooms with subscribers in this process now (the accounts channel does not count).
    pub rooms: usize,
    /// Times a subscriber fell more than its room's ring behind (each then re-reads the
    /// store). A rising count means subscribers stall or the node is overloaded.
    pub lags: u64,
}

#[derive(Default)]
struct Rooms {
    by_id: HashMap<RoomId, Room>,
    generations: u64,
}

impl Inner {
    fn rooms(&self) -> MutexGuard<'_, Rooms> {
        // A panic while holding this lock cannot leave the map inconsistent: recover it.
        self.rooms.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl fmt::Debug for LocalBroker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalBroker")
            .field("rooms", &self.inner.rooms().by_id.len())
            .field("ring", &self.inner.ring)
            .finish()
    }
}

impl Default for LocalBroker {
    fn default() -> Self {
        LocalBroker::new(DEFAULT_RING)
    }
}

impl LocalBroker {
    /// A broker buffering `ring` events per room (at least one) for slow subscribers: a
    /// subscriber further behind is told it lagged and re-reads the store.
    pub fn new(ring: usize) -> LocalBroker {
        LocalBroker {
            inner: Arc::new(Inner {
                rooms: Mutex::new(Rooms::default()),
                ring: ring.max(1),
                lags: AtomicU64::new(0),
            }),
        }
    }

    /// Hands an event to this process's subscribers of its room. Returns how many received it.
    pub fn deliver(&self, envelope: Arc<Envelope>) -> usize {
        let sender = self
            .inner
            .rooms()
            .by_id
            .get(&envelope.room)
            .map(|room| room.tx.clone());
        match sender {
            Some(tx) => tx.send(envelope).unwrap_or(0),
            None => 0,
        }
    }

    /// Subscribes to a room in this process.
    pub fn subscribe_local(&self, room: RoomId) -> Subscription {
        let (rx, generation) = {
            let mut rooms = self.inner.rooms();
            let Rooms {
                by_id, generations, ..
            } = &mut *rooms;
            let entry = by_id.entry(room).or_insert_with(|| {
                *generations += 1;
                Room {
                    tx: broadcast::channel(self.inner.ring).0,
                    subscribers: 0,
                    generation: *generations,
                }
            });
            entry.subscribers += 1;
            (entry.tx.subscribe(), entry.generation)
        };
        let guard = RoomGuard {
            inner: Arc::clone(&self.inner),
            room,
            generation,
        };
        Subscription::new(rx, Some(Box::new(guard)))
    }

    /// How many subscriptions to `room` are open in this process.
    pub fn subscriber_count(&self, room: RoomId) -> usize {
        self.inner
            .rooms()
            .by_id
            .get(&room)
            .map_or(0, |room| room.subscribers)
    }

    /// The lags since the broker was made, and the rooms subscribed now.
    pub fn stats(&self) -> FanOutStats {
        FanOutStats {
            rooms: {
                let rooms = self.inner.rooms();
                let accounts = usize::from(rooms.by_id.contains_key(&RoomId::ACCOUNTS));
                rooms.by_id.len() - accounts
            },
            lags: self.inner.lags.load(Ordering::Relaxed),
        }
    }

    /// Ends every subscription: each receives [`Delivery::Closed`](super::Delivery) once it has
    /// read what was already queued. Used when the broker shuts down.
    pub fn close_all(&self) {
        self.inner.rooms().by_id.clear();
    }

    /// Rooms with at least one open subscription in this process.
    pub fn subscribed_rooms(&self) -> Vec<RoomId> {
        self.inner.rooms().by_id.keys().copied().collect()
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

/// One subscription's hold on its room: counts its lags and removes the room once its last
/// subscription is gone.
struct RoomGuard {
    inner: Arc<Inner>,
    room: RoomId,
    generation: u64,
}

impl fmt::Debug for RoomGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RoomGuard")
            .field("room", &self.room)
            .field("generation", &self.generation)
            .finish()
    }
}

impl SubscriptionGuard for RoomGuard {
    fn lagged(&self) {
        self.inner.lags.fetch_add(1, Ordering::Relaxed);
    }
}

impl Drop for RoomGuard {
    fn drop(&mut self) {
        let mut rooms = self.inner.rooms();
        let Some(room) = rooms
            .by_id
            .get_mut(&self.room)
            .filter(|room| room.generation == self.generation)
        else {
            return;
        };
        room.subscribers = room.subscribers.saturating_sub(1);
        if room.subscribers == 0 {
            rooms.by_id.remove(&self.room);
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
        assert!(matches!(b.recv().await, Delivery::Lagged { skipped: 6 }));
        let stats = broker.stats();
        assert_eq!((stats.rooms, stats.lags), (2, 2));
    }

    #[tokio::test]
    async fn a_room_opened_after_close_all_keeps_its_own_count() {
        let broker = LocalBroker::new(2);
        let room = RoomId(5);
        let mut before = broker.subscribe_local(room);
        broker.close_all();
        let after = broker.subscribe_local(room);
        assert!(matches!(before.recv().await, Delivery::Closed));
        drop(before);
        assert_eq!(broker.subscriber_count(room), 1);
        drop(after);
        assert!(broker.subscribed_rooms().is_empty());
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
