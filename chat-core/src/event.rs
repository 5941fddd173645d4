//! Room events: what the broker fans out to every subscriber of a room.
//!
//! An event is a wake-up that also carries its data. Subscribers that lag or see a gap in message
//! seqs re-read the store (see [`RoomFeed`](crate::RoomFeed)), so a lost event never loses a
//! message.

use crate::{Message, MessageId, RoomId, Seq, UserId};
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
    /// The seq of the message this event announces, for `MessagePosted` only.
    pub fn posted_seq(&self) -> Option<Seq> {
        match self {
            RoomEvent::MessagePosted { message } => Some(message.seq),
            _ => None,
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
