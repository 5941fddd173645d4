//! `RoomFeed`: one subscriber's ordered, gap-free, duplicate-free view of a room.
//!
//! The broker is only trusted as a wake-up. The feed remembers the last message seq it handed
//! out; a message with exactly the next seq goes straight through and an older one is dropped as
//! a duplicate. A newer one means a gap. Usually the gap is only publish order differing from
//! commit order (a group commit wakes many posters at once, and they publish in any order), so
//! the feed holds such messages for a moment and releases them in seq order as the missing ones
//! arrive. If the gap outlives [`GAP_WAIT`], too many messages are held, or the broker reports a
//! lag, the feed re-reads the store after its last seq: only up to the first message it holds,
//! so after a lag only what the broker dropped is read again and the messages still in the
//! broker's buffer keep their shared, already encoded bytes. Since a store only shows seq N once
//! every seq below N is committed, this yields every message exactly once, in order, however
//! long the subscriber was away, and costs no store read in the common case.
//!
//! A run of messages published as one event ([`RoomEvent::MessagesPosted`]) is handled as the
//! range of seqs it covers: handed out whole (the same shared event) when it continues the
//! feed, held by its first seq when a gap comes before it, dropped when the feed has all of it
//! already, and cut to a copy holding only the new messages in the rare case that it overlaps
//! what the feed handed out (after a catch-up from the store).

use crate::broker::{Delivery, Subscription};
use crate::{Envelope, HistoryPage, RoomEvent, RoomId, Seq, Store, StoreError};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// How many messages a feed reads from the store per catch-up query.
pub const CATCH_UP_PAGE: usize = 256;

/// How long a feed waits for a missing seq to arrive from the broker before it reads the store.
pub const GAP_WAIT: Duration = Duration::from_millis(30);

/// Most events (single messages or runs) a feed holds while waiting for a gap to close.
pub const MAX_HELD: usize = 256;

/// What a feed yields.
#[derive(Debug, Clone)]
pub enum FeedItem {
    /// The next event: a message in seq order, or any other room event.
    Event(Arc<Envelope>),
    /// The room was deleted; the feed is over.
    RoomDeleted,
}

/// An ordered, exactly-once stream of a room's events for one subscriber.
pub struct RoomFeed {
    room: RoomId,
    subscription: Subscription,
    store: Arc<dyn Store>,
    last_seq: Seq,
    catching_up: bool,
    pending: VecDeque<Arc<Envelope>>,
    /// Messages that arrived ahead of a missing seq, by the first seq of their event.
    held: BTreeMap<Seq, Arc<Envelope>>,
    /// When the oldest open gap stops being waited for.
    gap_deadline: Option<Instant>,
    /// The broker dropped events for this subscriber: the next gap is known to be lost.
    lagged: bool,
    /// Reading only up to the held messages is allowed: false after a second lag before the
    /// feed got back to messages from the broker, when reading only the gap would keep it
    /// chasing the oldest end of the broker's buffer; then the store is read to its end.
    bounded: bool,
    finished: bool,
}

impl std::fmt::Debug for RoomFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoomFeed")
            .field("room", &self.room)
            .field("last_seq", &self.last_seq)
            .field("catching_up", &self.catching_up)
            .finish_non_exhaustive()
    }
}

impl RoomFeed {
    /// A feed over an open subscription. Messages with seq greater than `after` are delivered;
    /// when `catch_up` is set the feed first reads them from the store.
    ///
    /// The subscription must have been opened before `after` was determined, so nothing
    /// committed in between is missed.
    pub fn new(
        room: RoomId,
        subscription: Subscription,
        store: Arc<dyn Store>,
        after: Seq,
        catch_up: bool,
    ) -> RoomFeed {
        RoomFeed {
            room,
            subscription,
            store,
            last_seq: after,
            catching_up: catch_up,
            pending: VecDeque::new(),
            held: BTreeMap::new(),
            gap_deadline: None,
            lagged: false,
            bounded: true,
            finished: false,
        }
    }

    /// The room.
    pub fn room(&self) -> RoomId {
        self.room
    }

    /// The seq of the last message this feed yielded (or its starting point).
    pub fn last_seq(&self) -> Seq {
        self.last_seq
    }

    /// The next item, or `None` once the broker closed or the room was deleted.
    pub async fn next(&mut self) -> Result<Option<FeedItem>, StoreError> {
        loop {
            if self.finished {
                return Ok(None);
            }
            if let Some(env) = self.pending.pop_front() {
                return Ok(Some(FeedItem::Event(env)));
            }
            if self.catching_up {
                self.catch_up_page().await?;
                continue;
            }
            let delivery = match self.gap_deadline {
                None => self.subscription.recv().await,
                Some(deadline) => {
                    match tokio::time::timeout_at(deadline, self.subscription.recv()).await {
                        Ok(delivery) => delivery,
                        Err(_) => {
                            tracing::debug!(room = %self.room, after = %self.last_seq, "gap not closed in time; reading the store");
                            self.catching_up = true;
                            self.gap_deadline = None;
                            continue;
                        }
                    }
                }
            };
            match delivery {
                Delivery::Event(env) => {
                    if let Some(item) = self.accept(env) {
                        return Ok(Some(item));
                    }
                }
                Delivery::Lagged { skipped } => {
                    // What is still in the ring comes next: only the messages between the
                    // last one handed out and the first one still there are read from the
                    // store (see `accept` and `catch_up_page`), the rest stay shared bytes.
                    tracing::debug!(room = %self.room, skipped, "feed lagged; re-reading the store");
                    if self.lagged || !self.held.is_empty() {
                        // Lagged again before it caught up with the broker.
                        self.bounded = false;
                    }
                    self.lagged = true;
                }
                Delivery::Closed => {
                    self.finished = true;
                }
            }
        }
    }

    fn accept(&mut self, env: Arc<Envelope>) -> Option<FeedItem> {
        if let Some((first, last)) = env.event.posted_seqs() {
            return self.accept_posted(env, first, last);
        }
        match &env.event {
            RoomEvent::RoomDeleted => {
                self.finished = true;
                Some(FeedItem::RoomDeleted)
            }
            _ => Some(FeedItem::Event(env)),
        }
    }

    /// Takes messages `first..=last` from the broker: handed out when they continue the
    /// feed (only the part after `last_seq`, if it overlaps), dropped when already handed
    /// out, held when a gap comes before them.
    fn accept_posted(&mut self, env: Arc<Envelope>, first: Seq, last: Seq) -> Option<FeedItem> {
        if last <= self.last_seq {
            None
        } else if first <= self.last_seq.next() {
            self.lagged = false;
            self.bounded = true;
            let env = after(self.room, self.last_seq, env, first);
            self.last_seq = last;
            self.release_held();
            Some(FeedItem::Event(env))
        } else if self.held.len() < MAX_HELD {
            // Of two held events starting at the same seq, the longer one is kept.
            let longer = self
                .held
                .get(&first)
                .and_then(|held| held.event.posted_seqs())
                .is_none_or(|(_, held_last)| held_last < last);
            if longer {
                self.held.insert(first, env);
            }
            if std::mem::take(&mut self.lagged) {
                // The missing messages were dropped by the broker: no use waiting.
                self.catching_up = true;
            } else {
                self.gap_deadline
                    .get_or_insert_with(|| Instant::now() + GAP_WAIT);
            }
            None
        } else {
            self.catching_up = true;
            None
        }
    }

    /// Moves held messages that now follow `last_seq` without a gap into `pending`, and drops
    /// held ones that are no longer ahead.
    fn release_held(&mut self) {
        while let Some(entry) = self.held.first_entry() {
            let first = *entry.key();
            let last = entry.get().event.posted_seqs().map_or(first, |(_, l)| l);
            if last <= self.last_seq {
                entry.remove();
            } else if first <= self.last_seq.next() {
                let env = after(self.room, self.last_seq, entry.remove(), first);
                self.last_seq = last;
                self.pending.push_back(env);
            } else {
                break;
            }
        }
        if self.held.is_empty() {
            self.gap_deadline = None;
        } else {
            // A gap remains: wait for it afresh.
            self.gap_deadline = Some(Instant::now() + GAP_WAIT);
        }
    }

    /// Reads the next page after `last_seq` from the store. With messages held (the broker
    /// delivered them past a gap), only the gap is read: the held ones follow it without a
    /// store read and without being encoded again for this subscriber.
    async fn catch_up_page(&mut self) -> Result<(), StoreError> {
        let held = self.held.first_key_value().filter(|_| self.bounded);
        let limit = match held {
            Some((first, _)) => {
                let missing = first.0.saturating_sub(self.last_seq.0).saturating_sub(1);
                usize::try_from(missing).map_or(CATCH_UP_PAGE, |m| m.min(CATCH_UP_PAGE))
            }
            None => CATCH_UP_PAGE,
        };
        if limit == 0 {
            self.catching_up = false;
            self.release_held();
            return Ok(());
        }
        let page = HistoryPage::After {
            seq: self.last_seq,
            limit,
        };
        let messages = self.store.history(self.room, page).await?;
        if messages.len() < limit {
            self.catching_up = false;
        } else if self.bounded
            && self
                .held
                .first_key_value()
                .is_some_and(|(first, _)| messages.last().is_some_and(|m| m.seq.next() == *first))
        {
            // The gap is filled: the held messages go next.
            self.catching_up = false;
        }
        let caught_up = !self.catching_up;
        for message in messages {
            if message.seq != self.last_seq.next() {
                // A store must never show a gap; stop here and let the next wake-up retry.
                tracing::warn!(room = %self.room, expected = %self.last_seq.next(), got = %message.seq, "gap in store history");
                self.catching_up = false;
                break;
            }
            self.last_seq = message.seq;
            self.pending.push_back(Arc::new(Envelope::new(
                self.room,
                RoomEvent::MessagePosted { message },
            )));
        }
        if caught_up {
            self.release_held();
        }
        Ok(())
    }
}

/// `env` (posted messages of `room` from `first` on) without those at or below `last_seq`: the
/// same shared event when none are, else a copy of the rest.
fn after(room: RoomId, last_seq: Seq, env: Arc<Envelope>, first: Seq) -> Arc<Envelope> {
    if first > last_seq {
        return env;
    }
    let rest = env
        .event
        .posted_messages()
        .iter()
        .filter(|m| m.seq > last_seq)
        .cloned()
        .collect();
    match RoomEvent::posted(rest) {
        Some(event) => Arc::new(Envelope::new(room, event)),
        None => env,
    }
}
