//! In-process fan-out: one bounded `tokio::sync::broadcast` ring per subscribed room.
//!
//! Publishing clones one `Arc` into the ring; each subscriber reads it at its own pace. A
//! subscriber more than a ring's length behind gets [`Delivery::Lagged`](super::Delivery)
//! instead of blocking the publisher or the other subscribers, and then re-reads the store.
//!
//! A room's ring starts small and deepens when one of its subscribers lags: the room gets a
//! ring four times as long (up to the broker's capacity). A ring costs 32 bytes per slot up
//! front, so quiet rooms stay cheap, while a busy room whose subscribers fall behind for a
//! moment (a stalled socket, a descheduled thread) stops sending them to the store: re-reading
//! and re-encoding per subscriber costs far more than the shared ring, and at 600k deliveries/s
//! on a slow 2-core machine, rings of 1,024 made lagging subscribers fall further behind until
//! the server collapsed (p50 0.9-1.6 s, 1,300-1,700 lags in 8 s), where rings of 2,048 to 8,192
//! had no lag at all. When a ring is replaced, the broker opens a receiver of the new ring for
//! every subscription of the room, right at the switch, and parks it: each subscription reads
//! what is left in its ring, then takes a parked receiver and reads on without a gap, so no one
//! has to re-read the store because of the switch.

use super::{Broker, Resubscribed, Subscription, SubscriptionGuard};
use crate::{BrokerError, Envelope, RoomEvent, RoomId};
use async_trait::async_trait;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::broadcast;

/// The ring length a room starts with (or the capacity, if smaller).
pub const INITIAL_RING: usize = 1024;

/// How much longer a room's ring gets each time one of its subscribers lags.
const GROWTH: usize = 4;

/// The in-process broker. Cheap to clone; clones share subscribers.
#[derive(Clone)]
pub struct LocalBroker {
    inner: Arc<Inner>,
}

/// A room with subscribers in this process.
struct Room {
    tx: broadcast::Sender<Arc<Envelope>>,
    /// The current ring's length.
    ring: usize,
    /// Open subscriptions, on the current ring or an older one.
    subscribers: usize,
    /// Tells this room apart from a later room of the same id (after [`LocalBroker::close_all`]
    /// or once every subscription ended): subscriptions never move to another room's ring.
    generation: u64,
    /// The replacements of rings some subscription still reads.
    successors: Vec<Successor>,
}

/// The ring that replaced a room's ring of length `from`, with receivers of it opened at the
/// switch, one for each subscription the room had then, waiting for them to move.
struct Successor {
    from: usize,
    to: usize,
    parked: Vec<broadcast::Receiver<Arc<Envelope>>>,
}

struct Inner {
    rooms: Mutex<Rooms>,
    initial: usize,
    capacity: usize,
    lags: AtomicU64,
    rings_deepened: AtomicU64,
}

/// What a [`LocalBroker`] has seen since it was made (see [`LocalBroker::stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FanOutStats {
    /// Rooms with subscribers in this process now (the accounts channel does not count).
    pub rooms: usize,
    /// Times a subscriber fell more than its room's ring behind (each then re-reads the
    /// store). A rising count means subscribers stall or the node is overloaded.
    pub lags: u64,
    /// Times a room's ring was replaced by a deeper one.
    pub rings_deepened: u64,
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
            .field("initial", &self.inner.initial)
            .field("capacity", &self.inner.capacity)
            .finish()
    }
}

impl Default for LocalBroker {
    fn default() -> Self {
        LocalBroker::new(16 * INITIAL_RING)
    }
}

impl LocalBroker {
    /// A broker buffering up to `capacity` events per room for slow subscribers: each room's
    /// ring starts at [`INITIAL_RING`] (or `capacity`, if smaller) and grows when a subscriber
    /// lags.
    pub fn new(capacity: usize) -> LocalBroker {
        LocalBroker::with_rings(INITIAL_RING, capacity)
    }

    /// A broker whose rooms start with rings of `initial` events and grow up to `capacity`
    /// (`initial` is capped at `capacity`; equal values give fixed rings).
    pub fn with_rings(initial: usize, capacity: usize) -> LocalBroker {
        let capacity = capacity.max(1);
        LocalBroker {
            inner: Arc::new(Inner {
                rooms: Mutex::new(Rooms::default()),
                initial: initial.clamp(1, capacity),
                capacity,
                lags: AtomicU64::new(0),
                rings_deepened: AtomicU64::new(0),
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
        let (rx, ring, generation) = {
            let mut rooms = self.inner.rooms();
            let Rooms {
                by_id, generations, ..
            } = &mut *rooms;
            let entry = by_id.entry(room).or_insert_with(|| {
                *generations += 1;
                Room {
                    tx: broadcast::channel(self.inner.initial).0,
                    ring: self.inner.initial,
                    subscribers: 0,
                    generation: *generations,
                    successors: Vec::new(),
                }
            });
            entry.subscribers += 1;
            (entry.tx.subscribe(), entry.ring, entry.generation)
        };
        let guard = RoomGuard {
            inner: Arc::clone(&self.inner),
            room,
            generation,
            ring: AtomicUsize::new(ring),
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

    /// The length of `room`'s current ring, if it has subscribers in this process.
    pub fn ring_len(&self, room: RoomId) -> Option<usize> {
        self.inner.rooms().by_id.get(&room).map(|room| room.ring)
    }

    /// Counters of lags and ring switches since the broker was made, and the rooms subscribed
    /// now.
    pub fn stats(&self) -> FanOutStats {
        FanOutStats {
            rooms: {
                let rooms = self.inner.rooms();
                let accounts = usize::from(rooms.by_id.contains_key(&RoomId::ACCOUNTS));
                rooms.by_id.len() - accounts
            },
            lags: self.inner.lags.load(Ordering::Relaxed),
            rings_deepened: self.inner.rings_deepened.load(Ordering::Relaxed),
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

/// One subscription's hold on its room: deepens the room's ring when the subscription lags,
/// moves it to the ring that replaced its own when that one ends, and removes the room once its
/// last subscription is gone.
struct RoomGuard {
    inner: Arc<Inner>,
    room: RoomId,
    generation: u64,
    /// The length of the ring the subscription reads.
    ring: AtomicUsize,
}

impl RoomGuard {
    /// The room this guard holds, unless it was closed (and maybe opened anew) since.
    fn room<'a>(&self, rooms: &'a mut Rooms) -> Option<&'a mut Room> {
        rooms
            .by_id
            .get_mut(&self.room)
            .filter(|room| room.generation == self.generation)
    }
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
        let ring = self.ring.load(Ordering::Relaxed);
        let mut rooms = self.inner.rooms();
        let capacity = self.inner.capacity;
        let Some(room) = self.room(&mut rooms) else {
            return;
        };
        // Only a lag on the current ring deepens it (others lagged on a ring already replaced).
        if room.ring != ring || ring >= capacity {
            return;
        }
        let deeper = ring.saturating_mul(GROWTH).min(capacity);
        tracing::debug!(room = %self.room, from = ring, to = deeper, "deepening a room's ring");
        let (tx, _) = broadcast::channel(deeper);
        // One for every subscription of the room: each reads the old ring or an older one
        // and will move through this one. Counted under this lock, so a subscription being
        // dropped (its receiver gone, its guard not yet) still gets one, which its guard then
        // gives up.
        let parked = (0..room.subscribers).map(|_| tx.subscribe()).collect();
        room.successors.push(Successor {
            from: ring,
            to: deeper,
            parked,
        });
        // The old sender goes: its receivers read what is left, then get `Closed` and move.
        room.tx = tx;
        room.ring = deeper;
        self.inner.rings_deepened.fetch_add(1, Ordering::Relaxed);
    }

    fn resubscribe(&self) -> Option<Resubscribed> {
        let mut rooms = self.inner.rooms();
        let room = self.room(&mut rooms)?;
        let from = self.ring.load(Ordering::Relaxed);
        let parked = room
            .successors
            .iter_mut()
            .find(|s| s.from == from)
            .and_then(|s| Some((s.parked.pop()?, s.to)));
        room.successors.retain(|s| !s.parked.is_empty());
        let (rx, ring, gapless) = match parked {
            Some((rx, to)) => (rx, to, true),
            // Every subscription of a replaced ring has one parked, so this should not happen;
            // if it does, the end of the current ring and a store read do as well.
            None => (room.tx.subscribe(), room.ring, false),
        };
        self.ring.store(ring, Ordering::Relaxed);
        Some(Resubscribed { rx, gapless })
    }
}

impl Drop for RoomGuard {
    fn drop(&mut self) {
        let mut rooms = self.inner.rooms();
        let Some(room) = self.room(&mut rooms) else {
            return;
        };
        // The receivers parked for this subscription's moves are not needed any more: they
        // would hold every event of their rings until overwritten.
        let mut from = self.ring.load(Ordering::Relaxed);
        while let Some(successor) = room.successors.iter_mut().find(|s| s.from == from) {
            successor.parked.pop();
            from = successor.to;
        }
        room.successors.retain(|s| !s.parked.is_empty());
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
    }

    /// The numbers carried by the typing events a subscription yields until nothing is ready.
    fn drain(sub: &mut Subscription) -> Vec<i64> {
        let mut got = Vec::new();
        while let Some(d) = sub.try_recv() {
            match d {
                Delivery::Event(env) => match &env.event {
                    RoomEvent::Typing { user, .. } => got.push(user.0),
                    other => panic!("unexpected {other:?}"),
                },
                other => panic!("unexpected {other:?}"),
            }
        }
        got
    }

    /// Receivers of `room`'s current ring (the subscriptions on it and the parked ones).
    fn receivers(broker: &LocalBroker, room: RoomId) -> usize {
        broker.inner.rooms().by_id[&room].tx.receiver_count()
    }

    #[tokio::test]
    async fn a_lag_deepens_the_ring_and_everyone_moves_to_it() {
        let broker = LocalBroker::with_rings(4, 64);
        let room = RoomId(1);
        let mut slow = broker.subscribe_local(room);
        let mut fast = broker.subscribe_local(room);
        assert_eq!(broker.ring_len(room), Some(4));
        for n in 0..6 {
            broker.publish(room, typing(n)).await.unwrap();
            assert_eq!(drain(&mut fast), [n], "keeps up");
        }
        assert!(matches!(slow.recv().await, Delivery::Lagged { skipped: 2 }));
        assert_eq!(broker.ring_len(room), Some(16), "four times deeper");
        assert_eq!(receivers(&broker, room), 2, "one parked for each");
        // Published while both still read the old ring: it reaches them after the move.
        broker.publish(room, typing(6)).await.unwrap();
        // What is left in the old ring comes first, then the new ring, without a gap.
        assert_eq!(drain(&mut slow), [2, 3, 4, 5, 6]);
        assert_eq!(drain(&mut fast), [6], "moves too, without a lag");
        for n in 7..9 {
            broker.publish(room, typing(n)).await.unwrap();
        }
        for sub in [&mut slow, &mut fast] {
            assert_eq!(drain(sub), [7, 8]);
        }
        assert_eq!(broker.subscriber_count(room), 2);
        assert_eq!(receivers(&broker, room), 2, "no receiver left parked");

        // Both lag on the ring of 16: the first lag deepens it once, the second changes nothing.
        for n in 0..20 {
            broker.publish(room, typing(n)).await.unwrap();
        }
        assert!(matches!(slow.recv().await, Delivery::Lagged { skipped: 4 }));
        assert!(matches!(fast.recv().await, Delivery::Lagged { skipped: 4 }));
        assert_eq!(broker.ring_len(room), Some(64));
        for sub in [&mut slow, &mut fast] {
            assert_eq!(
                drain(sub),
                (4..20).collect::<Vec<_>>(),
                "the 16 the old ring kept"
            );
        }
        // Never deeper than the capacity.
        for n in 0..70 {
            broker.publish(room, typing(n)).await.unwrap();
        }
        assert!(matches!(slow.recv().await, Delivery::Lagged { skipped: 6 }));
        assert_eq!(broker.ring_len(room), Some(64));
        assert!(matches!(slow.recv().await, Delivery::Event(_)), "no move");

        let stats = broker.stats();
        assert_eq!((stats.rooms, stats.lags, stats.rings_deepened), (1, 4, 2));
        drop(slow);
        assert_eq!(broker.subscriber_count(room), 1);
        drop(fast);
        assert!(broker.subscribed_rooms().is_empty());
        assert_eq!(broker.stats().rooms, 0);
    }

    #[tokio::test]
    async fn a_subscription_left_on_an_old_ring_keeps_the_room() {
        let broker = LocalBroker::with_rings(2, 8);
        let room = RoomId(3);
        let mut old = broker.subscribe_local(room);
        let mut mover = broker.subscribe_local(room);
        for n in 0..3 {
            broker.publish(room, typing(n)).await.unwrap();
        }
        assert!(matches!(mover.recv().await, Delivery::Lagged { .. }));
        assert_eq!(drain(&mut mover), [1, 2]);
        drop(mover);
        assert_eq!(
            broker.subscriber_count(room),
            1,
            "`old` still reads the old ring"
        );
        broker.publish(room, typing(9)).await.unwrap();
        assert!(matches!(old.recv().await, Delivery::Lagged { .. }));
        assert_eq!(
            broker.ring_len(room),
            Some(8),
            "a lag on an old ring changes nothing"
        );
        // 9 went to the new ring before `old` moved: its parked receiver has it.
        assert_eq!(drain(&mut old), [1, 2, 9]);
        broker.publish(room, typing(10)).await.unwrap();
        assert_eq!(drain(&mut old), [10]);
    }

    #[tokio::test]
    async fn a_subscription_dropped_before_moving_releases_its_parked_receivers() {
        let broker = LocalBroker::with_rings(2, 32);
        let room = RoomId(4);
        let mut lagging = broker.subscribe_local(room);
        let idle = broker.subscribe_local(room);
        for n in 0..3 {
            broker.publish(room, typing(n)).await.unwrap();
        }
        assert!(matches!(lagging.recv().await, Delivery::Lagged { .. }));
        assert_eq!(receivers(&broker, room), 2);
        assert_eq!(drain(&mut lagging), [1, 2]);
        // The ring is replaced a second time before `idle` moved even once.
        for n in 3..12 {
            broker.publish(room, typing(n)).await.unwrap();
        }
        assert!(matches!(lagging.recv().await, Delivery::Lagged { .. }));
        assert_eq!(broker.ring_len(room), Some(32));
        assert_eq!(
            receivers(&broker, room),
            2,
            "parked for both, through two switches"
        );
        drop(idle);
        assert_eq!(receivers(&broker, room), 1, "the parked ones went with it");
        assert_eq!(drain(&mut lagging), (4..12).collect::<Vec<_>>());
        assert!(broker.inner.rooms().by_id[&room].successors.is_empty());
    }

    #[tokio::test]
    async fn closed_rooms_do_not_move_subscriptions() {
        let broker = LocalBroker::with_rings(2, 8);
        let room = RoomId(5);
        let mut before = broker.subscribe_local(room);
        broker.close_all();
        let after = broker.subscribe_local(room);
        assert!(
            matches!(before.recv().await, Delivery::Closed),
            "not moved into the room opened after the close"
        );
        drop(before);
        assert_eq!(
            broker.subscriber_count(room),
            1,
            "the new room's count is its own"
        );
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
