//! What the client tells the app, in order, as a [`Stream`]: connection ups and downs, every
//! message of the joined rooms exactly once and in order per room, and the other server frames
//! (edits, deletions, presence, typing, membership) as the shared [`ServerFrame`] type.

use crate::error::ClientError;
use chat_protocol::{MessageView, ServerFrame, UserView};
use futures::Stream;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::mpsc;

/// A room the connection joined (the answer to `join`, and every resume).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Joined {
    /// The room's canonical name.
    pub room: String,
    /// The newest seq when the subscription started.
    pub last_seq: i64,
    /// The room's description.
    pub description: String,
    /// Member usernames.
    pub members: Vec<String>,
    /// Usernames online in the room.
    pub online: Vec<String>,
}

/// A page of a room's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryPage {
    /// The room's canonical name.
    pub room: String,
    /// Messages, ascending by seq.
    pub messages: Vec<MessageView<'static>>,
    /// Older messages exist.
    pub has_more: bool,
}

/// One thing that happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A connection is up (`hello` arrived); `reconnect` is false for the first one.
    Connected {
        /// Who the server says this is.
        user: UserView<'static>,
        /// An earlier connection was lost and this one resumes it.
        reconnect: bool,
    },
    /// The connection ended; the client reconnects unless a [`Event::Stopped`] follows.
    Disconnected {
        /// The close code, when the server sent one (1006-like losses have none).
        code: Option<u16>,
        /// The close reason or the transport error.
        reason: String,
    },
    /// The next connection attempt starts after `delay`.
    Reconnecting {
        /// Attempts since the last stable connection.
        attempt: u32,
        /// Wait before it.
        delay: Duration,
    },
    /// A room was joined (after `join`, or again after a reconnect).
    Joined(Joined),
    /// A new message of a joined room: each seq once, in increasing order per room.
    Message(MessageView<'static>),
    /// Any other server frame: `edited`, `deleted`, `presence`, `typing`, `member_joined`,
    /// `member_left`, `room_deleted`, `left` (when not asked for), and `error` frames no call
    /// waits for.
    Frame(ServerFrame<'static>),
    /// The client stopped for good (the session ended, the server refuses it, or it was
    /// closed); no more events follow.
    Stopped(ClientError),
}

/// The app's end of the events: a [`Stream`] of [`Event`]s, also readable with
/// [`Events::next`]. Unbounded: a client that never reads them only grows this queue, it never
/// blocks the connection.
#[derive(Debug)]
pub struct Events {
    rx: mpsc::UnboundedReceiver<Event>,
}

impl Events {
    pub(crate) fn new(rx: mpsc::UnboundedReceiver<Event>) -> Events {
        Events { rx }
    }

    /// The next event; `None` once the client is gone and every event was read.
    pub async fn next(&mut self) -> Option<Event> {
        self.rx.recv().await
    }

    /// The next message, skipping other events; `None` once the events end.
    pub async fn next_message(&mut self) -> Option<MessageView<'static>> {
        loop {
            if let Event::Message(message) = self.rx.recv().await? {
                return Some(message);
            }
        }
    }

    /// The next event if one is ready now.
    pub fn try_next(&mut self) -> Option<Event> {
        self.rx.try_recv().ok()
    }
}

impl Stream for Events {
    type Item = Event;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        self.rx.poll_recv(cx)
    }
}
