//! What travels through NOTIFY: a small JSON notice per room event, and the channel it travels
//! on.
//!
//! Message bodies never travel: `MessagePosted` and `MessageEdited` become `{room, seq}`
//! (and `MessagesPosted` one such notice per message)
//! references that each node resolves by reading the store, so a notice stays far below
//! NOTIFY's 8000-byte payload limit whatever the body size. The other events (deletions,
//! joins, leaves, typing, presence, room deletion) carry only ids and a username, and travel
//! as their own serde JSON. Every notice names the node that published it, so that node can
//! skip it (it delivered the event to its own subscribers at publish time).

use crate::PgError;
use chat_core::{RoomEvent, RoomId, Seq};
use serde::{Deserialize, Serialize};

/// The largest payload PostgreSQL accepts in a NOTIFY (it must be shorter than 8000 bytes).
pub const MAX_PAYLOAD: usize = 7999;

/// One room event on the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "k")]
pub(crate) enum Notice {
    /// A message was posted: read it from the store at (room, seq).
    #[serde(rename = "p")]
    Posted {
        /// Publishing node.
        n: u64,
        /// Room.
        r: i64,
        /// Seq of the message.
        s: i64,
    },
    /// A message was edited: read its current state from the store at (room, seq).
    #[serde(rename = "e")]
    Edited {
        /// Publishing node.
        n: u64,
        /// Room.
        r: i64,
        /// Seq of the message.
        s: i64,
    },
    /// Any other event, carried whole (it is small).
    #[serde(rename = "v")]
    Event {
        /// Publishing node.
        n: u64,
        /// Room.
        r: i64,
        /// The event.
        e: RoomEvent,
    },
}

impl Notice {
    /// The notice for `event` published by `node` to `room`.
    pub(crate) fn new(node: u64, room: RoomId, event: &RoomEvent) -> Notice {
        match event {
            RoomEvent::MessagePosted { message } => Notice::Posted {
                n: node,
                r: room.0,
                s: message.seq.0,
            },
            RoomEvent::MessageEdited { message } => Notice::Edited {
                n: node,
                r: room.0,
                s: message.seq.0,
            },
            other => Notice::Event {
                n: node,
                r: room.0,
                e: other.clone(),
            },
        }
    }

    /// The notices for `event`: one per message for `MessagesPosted` (each a `{room, seq}`
    /// reference, like `MessagePosted`), else the one of [`Notice::new`].
    pub(crate) fn all(node: u64, room: RoomId, event: &RoomEvent) -> Vec<Notice> {
        match event {
            RoomEvent::MessagesPosted { messages } => messages
                .iter()
                .map(|m| Notice::Posted {
                    n: node,
                    r: room.0,
                    s: m.seq.0,
                })
                .collect(),
            other => vec![Notice::new(node, room, other)],
        }
    }

    /// The node that published it.
    pub(crate) fn node(&self) -> u64 {
        match self {
            Notice::Posted { n, .. } | Notice::Edited { n, .. } | Notice::Event { n, .. } => *n,
        }
    }

    /// Its room.
    pub(crate) fn room(&self) -> RoomId {
        match self {
            Notice::Posted { r, .. } | Notice::Edited { r, .. } | Notice::Event { r, .. } => {
                RoomId(*r)
            }
        }
    }

    /// The message position it refers to, for posts and edits.
    pub(crate) fn message_key(&self) -> Option<(RoomId, Seq)> {
        match self {
            Notice::Posted { r, s, .. } | Notice::Edited { r, s, .. } => {
                Some((RoomId(*r), Seq(*s)))
            }
            Notice::Event { .. } => None,
        }
    }

    /// The JSON payload, refused when it would not fit in a NOTIFY.
    pub(crate) fn encode(&self) -> Result<String, PgError> {
        let payload = serde_json::to_string(self)?;
        if payload.len() > MAX_PAYLOAD {
            return Err(PgError::PayloadTooLarge {
                len: payload.len(),
                max: MAX_PAYLOAD,
            });
        }
        Ok(payload)
    }

    /// Parses a payload.
    pub(crate) fn decode(payload: &str) -> Result<Notice, PgError> {
        Ok(serde_json::from_str(payload)?)
    }
}

/// The NOTIFY channel of the stores using `schema`: nodes sharing a schema share a channel,
/// and stores in other schemas of the same database (tests) do not hear each other. Channel
/// names are identifiers of at most 63 bytes, so a long or unusual schema name is replaced by
/// a hash of it.
pub(crate) fn channel_for(schema: &str) -> String {
    const PREFIX: &str = "chat_events_";
    let plain = schema
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain && !schema.is_empty() && PREFIX.len() + schema.len() <= 63 {
        return format!("{PREFIX}{schema}");
    }
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in schema.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{PREFIX}{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chat_core::{Message, UserId};

    fn message(body: &str) -> Message {
        chat_core::testing::sample_message(3, 42, body)
    }

    #[test]
    fn posts_travel_as_references_whatever_the_body() {
        let event = RoomEvent::MessagePosted {
            message: message(&"x".repeat(100_000)),
        };
        let notice = Notice::new(7, RoomId(3), &event);
        let payload = notice.encode().unwrap();
        assert!(payload.len() < 64, "{payload}");
        assert_eq!(Notice::decode(&payload).unwrap(), notice);
        assert_eq!(notice.message_key(), Some((RoomId(3), Seq(42))));
        assert_eq!(notice.node(), 7);
    }

    #[test]
    fn a_run_of_posts_travels_as_one_reference_per_message() {
        let mut second = message(&"y".repeat(100_000));
        second.seq = Seq(43);
        let event = RoomEvent::MessagesPosted {
            messages: vec![message("x"), second],
        };
        let notices = Notice::all(7, RoomId(3), &event);
        let keys: Vec<_> = notices.iter().filter_map(Notice::message_key).collect();
        assert_eq!(keys, [(RoomId(3), Seq(42)), (RoomId(3), Seq(43))]);
        assert!(notices.iter().all(|n| n.encode().unwrap().len() < 64));
    }

    #[test]
    fn small_events_travel_whole() {
        let event = RoomEvent::Typing {
            user: UserId(5),
            username: "bob".into(),
        };
        let notice = Notice::new(u64::MAX, RoomId(3), &event);
        let decoded = Notice::decode(&notice.encode().unwrap()).unwrap();
        assert_eq!(decoded, notice);
        assert_eq!(decoded.room(), RoomId(3));
        assert_eq!(decoded.message_key(), None);
        let huge = RoomEvent::Typing {
            user: UserId(5),
            username: "b".repeat(MAX_PAYLOAD),
        };
        assert!(matches!(
            Notice::new(1, RoomId(1), &huge).encode(),
            Err(PgError::PayloadTooLarge { .. })
        ));
    }

    #[test]
    fn channels_are_short_identifiers() {
        assert_eq!(channel_for("public"), "chat_events_public");
        let long = channel_for(&"a".repeat(63));
        assert!(long.len() <= 63);
        assert_ne!(channel_for("Weird Name"), channel_for("weird name"));
    }
}
