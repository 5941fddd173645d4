//! Room events: what the broker fans out to every subscriber of a room.
//!
//! An event is a wake-up that also carries its data. Subscribers that lag or see a gap in message
//! seqs re-read the store (see [`RoomFeed`](crate::RoomFeed)), so a lost event never loses a
//! message.

use crate::{Ending, Message, MessageId, RoomId, Seq, UserId};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

/// Something that happened in a room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RoomEvent {
    /// A new message was committed.
    MessagePosted {
        /// The message.
        message: Message,
    },
    /// Several new messages of the room, committed together, with consecutive seqs in
    /// ascending order: the same as one `MessagePosted` for each, in this order, but shared
    /// (and encoded) once for all of them. Stores that commit posts in groups publish them so
    /// (see [`PostListener`](crate::PostListener)); a subscriber that only wants some of them
    /// (it already has the first few) gets a copy with the rest.
    MessagesPosted {
        /// The messages, at least two, seqs consecutive and ascending.
        messages: Vec<Message>,
    },
    /// A message's body changed.
    MessageEdited {
        /// The message after the edit.
        message: Message,
    },
    /// A message was soft-deleted.
    MessageDeleted {
        /// Its id.
        id: MessageId,
        /// Its seq.
        seq: Seq,
    },
    /// A user became a member.
    MemberJoined {
        /// The user.
        user: UserId,
        /// Their username.
        username: String,
    },
    /// A user stopped being a member.
    MemberLeft {
        /// The user.
        user: UserId,
        /// Their username.
        username: String,
    },
    /// The room was deleted; subscriptions end.
    RoomDeleted,
    /// A member is typing (ephemeral, never stored).
    Typing {
        /// The user.
        user: UserId,
        /// Their username.
        username: String,
    },
    /// Sessions of a user ended (log out, password change, deactivation). Published on
    /// [`RoomId::ACCOUNTS`], never to a room: every node closes the sockets opened with them.
    SessionsEnded {
        /// The user.
        user: UserId,
        /// Which of their sessions.
        ending: Ending,
    },
    /// A user came online in the room (first connection) or went offline (last one closed).
    PresenceChanged {
        /// The user.
        user: UserId,
        /// Their username.
        username: String,
        /// Online now.
        online: bool,
    },
}

impl RoomEvent {
    /// The first and last seq of the messages this event announces, for `MessagePosted` and
    /// `MessagesPosted` only (an empty `MessagesPosted`, which no store publishes, gives
    /// `None`).
    pub fn posted_seqs(&self) -> Option<(Seq, Seq)> {
        match self {
            RoomEvent::MessagePosted { message } => Some((message.seq, message.seq)),
            RoomEvent::MessagesPosted { messages } => {
                Some((messages.first()?.seq, messages.last()?.seq))
            }
            _ => None,
        }
    }

    /// The messages this event announces, in order: one for `MessagePosted`, all of them for
    /// `MessagesPosted`, none for any other event.
    pub fn posted_messages(&self) -> &[Message] {
        match self {
            RoomEvent::MessagePosted { message } => std::slice::from_ref(message),
            RoomEvent::MessagesPosted { messages } => messages,
            _ => &[],
        }
    }

    /// The announcement of `messages` (consecutive seqs of one room, ascending): a
    /// `MessagePosted` for one, a `MessagesPosted` for more; `None` for none.
    pub fn posted(mut messages: Vec<Message>) -> Option<RoomEvent> {
        match messages.len() {
            0 => None,
            1 => messages
                .pop()
                .map(|message| RoomEvent::MessagePosted { message }),
            _ => Some(RoomEvent::MessagesPosted { messages }),
        }
    }
}

/// An event addressed to a room, shared by every subscriber through an `Arc`.
///
/// It caches one encoded form (for example the JSON frame a WebSocket protocol sends), so an
/// event is serialized once per room and node, not once per recipient.
#[derive(Debug)]
pub struct Envelope {
    /// The room.
    pub room: RoomId,
    /// What happened.
    pub event: RoomEvent,
    encoded: OnceLock<Bytes>,
}

impl Envelope {
    /// Wraps an event.
    pub fn new(room: RoomId, event: RoomEvent) -> Envelope {
        Envelope {
            room,
            event,
            encoded: OnceLock::new(),
        }
    }

    /// The cached encoding, computed by `encode` on first use. Every caller must pass the same
    /// encoder for a given envelope (in practice: one wire protocol per process).
    pub fn encoded(&self, encode: impl FnOnce(&Envelope) -> Bytes) -> Bytes {
        self.encoded.get_or_init(|| encode(self)).clone()
    }
}
