//! `RoomFeed`: one subscriber's ordered, gap-free, duplicate-free view of a room.
//!
//! The broker is only trusted as a wake-up. The feed remembers the last message seq it handed
//! out; a message with exactly the next seq goes straight through, an older one is dropped as a
//! duplicate, and a newer one (a gap: publish order differs from commit order, or a notification
//! was lost) or a lag report makes the feed re-read the store after its last seq. Since a store
//! only shows seq N once every seq below N is committed, this yields every message exactly once,
//! in order, however long the subscriber was away.

use crate::broker::{Delivery, Subscription};
use crate::{Envelope, HistoryPage, RoomEvent, RoomId, Seq, Store, StoreError};
use std::collections::VecDeque;
use std::sync::Arc;

/// How many messages a feed reads from the store per catch-up query.
pub const CATCH_UP_PAGE: usize = 256;

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
            match self.subscription.recv().await {
                Delivery::Event(env) => {
                    if let Some(item) = self.accept(env) {
                        return Ok(Some(item));
                    }
                }
                Delivery::Lagged { skipped } => {
                    tracing::debug!(room = %self.room, skipped, "feed lagged; re-reading store");
                    self.catching_up = true;
                }
                Delivery::Closed => {
                    self.finished = true;
                }
            }
        }
    }

    fn accept(&mut self, env: Arc<Envelope>) -> Option<FeedItem> {
        match &env.event {
            RoomEvent::MessagePosted { message } => {
                if message.seq <= self.last_seq {
                    None
                } else if message.seq == self.last_seq.next() {
                    self.last_seq = message.seq;
                    Some(FeedItem::Event(env))
                } else {
                    self.catching_up = true;
                    None
                }
            }
            RoomEvent::RoomDeleted => {
                self.finished = true;
                Some(FeedItem::RoomDeleted)
            }
            _ => Some(FeedItem::Event(env)),
        }
    }

    async fn catch_up_page(&mut self) -> Result<(), StoreError> {
        let page = HistoryPage::After {
            seq: self.last_seq,
            limit: CATCH_UP_PAGE,
        };
        let messages = self.store.history(self.room, page).await?;
        if messages.len() < CATCH_UP_PAGE {
            self.catching_up = false;
        }
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
        Ok(())
    }
}
