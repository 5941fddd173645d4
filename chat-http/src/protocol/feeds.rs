//! The room feeds a connection's writer reads: one stream per joined room, in a `StreamMap`
//! keyed by room, polled by the writer task itself. There is no task per room: a message wakes
//! the writer once, and everything ready in every room is written in one batch.
//!
//! Each stream turns its [`RoomFeed`] into frames: it skips the connection's own `typing`
//! events and encodes each event once per room and process (the encoding is cached in the
//! shared [`Envelope`](chat_core::Envelope)). A run of messages committed together
//! (`MessagesPosted`) is one item: their frames joined by newlines, which a batching
//! connection writes as they are and any other splits into one frame each (see the
//! [`writer`](super::writer)). A deleted room yields its `room_deleted` frame and
//! ends; a feed that ends or fails closes the connection with 1011 (the client resumes with
//! `after_seq`).

use super::frames::{self, ServerFrame};
use super::outbound::{CloseSignal, Out, OutboundRx, RoomCommand, Watch, close_code};
use bytes::Bytes;
use chat_core::{ChatService, FeedItem, RoomEvent, RoomFeed, RoomId, UserId};
use futures::Stream;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio_stream::StreamMap;

/// What one room's stream yields: an encoded event (one frame, or for a run of messages their
/// frames joined by newlines) and how many messages it holds (counted as deliveries; 1 for any
/// other event); or why the feed ended, with which the connection closes. A deleted room's
/// `room_deleted` frame ends its stream too.
type FeedOut = Result<(Bytes, u64), &'static str>;

type FeedStream = Pin<Box<dyn Stream<Item = FeedOut> + Send>>;

/// What one room's stream keeps between items.
struct FeedState {
    feed: RoomFeed,
    room: Arc<str>,
    me: UserId,
    service: ChatService,
}

/// The feeds of the rooms a connection has joined, read by its writer.
pub(crate) struct Feeds {
    /// Empty (and unallocated) until the first join.
    map: StreamMap<RoomId, FeedStream>,
    me: UserId,
    service: ChatService,
}

impl Feeds {
    /// No feeds yet, for a connection of user `me`.
    pub(crate) fn new(me: UserId, service: ChatService) -> Feeds {
        Feeds {
            map: StreamMap::new(),
            me,
            service,
        }
    }

    /// Starts reading a room's feed (replacing an older feed of the same room).
    fn watch(&mut self, watch: Watch) {
        let Watch { feed, room } = watch;
        let room_id = feed.room();
        let state = FeedState {
            feed,
            room,
            me: self.me,
            service: self.service.clone(),
        };
        let stream: FeedStream = Box::pin(futures::stream::unfold(Some(state), next_out));
        self.map.insert(room_id, stream);
    }

    /// Stops reading a room's feed.
    fn unwatch(&mut self, room: RoomId) {
        self.map.remove(&room);
    }

    /// Drops every feed (their subscriptions end).
    pub(crate) fn clear(&mut self) {
        self.map = StreamMap::new();
    }
}

/// The next frame ready from the reader's queue or any feed, without waiting (the context's
/// waker is registered with whatever is not ready), and how many room frames it holds (0 for
/// the reader's frames, already counted as deliveries). Commands from the queue are applied on
/// the way, in queue order; a feed that ends raises `close` and yields nothing more this round.
/// `Ready(None)`: the queue is closed (the reader is gone).
pub(crate) fn poll_next(
    cx: &mut Context<'_>,
    rx: &mut OutboundRx,
    feeds: &mut Feeds,
    close: &CloseSignal,
) -> Poll<Option<(Bytes, u64)>> {
    loop {
        match rx.poll_recv(cx) {
            Poll::Ready(Some(Out::Frame(frame))) => return Poll::Ready(Some((frame, 0))),
            Poll::Ready(Some(Out::Room(RoomCommand::Watch(watch)))) => feeds.watch(*watch),
            Poll::Ready(Some(Out::Room(RoomCommand::Unwatch(room)))) => feeds.unwatch(room),
            Poll::Ready(None) => return Poll::Ready(None),
            Poll::Pending => break,
        }
    }
    // An empty map yields `None` at once: nothing is ready (new feeds arrive through the
    // queue, whose waker is registered).
    match Pin::new(&mut feeds.map).poll_next(cx) {
        Poll::Ready(Some((_, Ok(frames)))) => Poll::Ready(Some(frames)),
        Poll::Ready(Some((_, Err(reason)))) => {
            close.close(close_code::INTERNAL, reason, true);
            Poll::Pending
        }
        Poll::Ready(None) | Poll::Pending => Poll::Pending,
    }
}

/// One step of a room's stream: the next item of its feed as a frame or an outcome.
async fn next_out(state: Option<FeedState>) -> Option<(FeedOut, Option<FeedState>)> {
    let mut state = state?;
    loop {
        match state.feed.next().await {
            Ok(Some(FeedItem::Event(env))) => {
                match &env.event {
                    RoomEvent::Typing { user, .. } if *user == state.me => continue,
                    // Account events travel on their own channel, never in a room.
                    RoomEvent::SessionsEnded { .. } => continue,
                    _ => {}
                }
                let room_id = env.room;
                let frame = env.encoded(|e| {
                    frames::encode_event(&state.room, e, || state.service.online(room_id))
                });
                let count = env.event.posted_messages().len().max(1) as u64;
                return Some((Ok((frame, count)), Some(state)));
            }
            Ok(Some(FeedItem::RoomDeleted)) => {
                let frame = frames::encode(&ServerFrame::RoomDeleted {
                    room: std::borrow::Cow::Borrowed(&state.room),
                });
                return Some((Ok((frame, 1)), None));
            }
            Ok(None) => {
                return Some((
                    Err("room feed ended; reconnect and resume with after_seq"),
                    None,
                ));
            }
            Err(e) => {
                tracing::warn!(room = %state.room, error = %e, "room feed failed");
                return Some((
                    Err("room feed failed; reconnect and resume with after_seq"),
                    None,
                ));
            }
        }
    }
}
