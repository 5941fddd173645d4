//! Frames the server sends, one `type`-tagged JSON object each. The server serializes them from
//! borrowed views of its data; a client deserializes them (owned: `ServerFrame<'static>`),
//! ignoring fields it does not know. With the `batch=1` option one text frame may carry several
//! frames, one per line: [`split_batch`] takes them apart.

use crate::views::{MessageView, UserView};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::borrow::Cow;

/// A frame sent by the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame<'a> {
    /// First frame of every connection.
    Hello {
        /// The authenticated user.
        user: UserView<'a>,
        /// Protocol version.
        protocol: u32,
        /// Largest accepted frame in bytes.
        max_frame_bytes: usize,
        /// Rooms one connection may join.
        max_rooms: usize,
    },
    /// Answer to `join`; messages (resumed ones first) follow.
    Joined {
        /// Room name.
        room: Cow<'a, str>,
        /// Newest seq when the subscription started.
        last_seq: i64,
        /// Room description.
        description: Cow<'a, str>,
        /// Member usernames.
        members: Vec<Cow<'a, str>>,
        /// Usernames online in the room.
        online: Vec<String>,
    },
    /// Answer to `leave`, or the room stopped being available.
    Left {
        /// Room name.
        room: Cow<'a, str>,
    },
    /// A new message.
    Message(MessageView<'a>),
    /// A `send` was committed durably.
    Ack {
        /// Room name.
        room: Cow<'a, str>,
        /// The client's idempotency id (null when none was given).
        client_id: Option<Cow<'a, str>>,
        /// The message's seq.
        seq: i64,
        /// The message's id.
        id: i64,
        /// The `client_id` had been used: nothing new was written.
        duplicate: bool,
    },
    /// A message was edited.
    Edited(MessageView<'a>),
    /// A message was deleted.
    Deleted {
        /// Room name.
        room: Cow<'a, str>,
        /// The message's seq.
        seq: i64,
        /// The message's id.
        id: i64,
    },
    /// Someone came online or went offline in a room.
    Presence {
        /// Room name.
        room: Cow<'a, str>,
        /// Every username online now.
        online: Vec<String>,
        /// Who changed.
        user: Cow<'a, str>,
        /// `online` or `offline`.
        status: Cow<'a, str>,
    },
    /// Someone is typing.
    Typing {
        /// Room name.
        room: Cow<'a, str>,
        /// Their username.
        user: Cow<'a, str>,
    },
    /// Someone became a member.
    MemberJoined {
        /// Room name.
        room: Cow<'a, str>,
        /// Their username.
        user: Cow<'a, str>,
    },
    /// Someone stopped being a member.
    MemberLeft {
        /// Room name.
        room: Cow<'a, str>,
        /// Their username.
        user: Cow<'a, str>,
    },
    /// The room was deleted; the connection left it.
    RoomDeleted {
        /// Room name.
        room: Cow<'a, str>,
    },
    /// Answer to `history`.
    History {
        /// Room name.
        room: Cow<'a, str>,
        /// Messages, ascending by seq.
        messages: Vec<MessageView<'a>>,
        /// Older messages exist.
        has_more: bool,
    },
    /// A client frame was refused.
    Error {
        /// Stable snake_case code.
        code: Cow<'a, str>,
        /// Human-readable explanation.
        message: Cow<'a, str>,
        /// The `ref` of the refused frame, if it had one.
        #[serde(rename = "ref")]
        reference: Option<Cow<'a, Value>>,
        /// The room the refused frame named, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        room: Option<Cow<'a, str>>,
        /// The `client_id` of a refused `send`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_id: Option<Cow<'a, str>>,
    },
    /// Answer to `ping`.
    Pong {},
}

impl ServerFrame<'static> {
    /// Parses one frame (one line of a batched text frame). Frames of a type this version does
    /// not know give `Ok(None)`: clients must ignore them (docs/PROTOCOL.md, versioning).
    pub fn parse(text: &str) -> Result<Option<ServerFrame<'static>>, serde_json::Error> {
        match serde_json::from_str::<ServerFrame<'static>>(text) {
            Ok(frame) => Ok(Some(frame)),
            Err(e) if e.is_data() => {
                #[derive(Deserialize)]
                struct Tagged {
                    #[serde(rename = "type")]
                    kind: String,
                }
                match serde_json::from_str::<Tagged>(text) {
                    Ok(tagged) if !SERVER_TYPES.contains(&tagged.kind.as_str()) => Ok(None),
                    _ => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }
}

/// The server frame types of this version.
const SERVER_TYPES: [&str; 15] = [
    "hello",
    "joined",
    "left",
    "message",
    "ack",
    "edited",
    "deleted",
    "presence",
    "typing",
    "member_joined",
    "member_left",
    "room_deleted",
    "history",
    "error",
    "pong",
];

/// The frames of one text frame: one per line with `batch=1` (JSON never writes a raw newline),
/// the whole text otherwise. Empty lines are skipped.
pub fn split_batch(text: &str) -> impl Iterator<Item = &str> {
    text.split('\n').filter(|line| !line.trim().is_empty())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn unknown_types_are_skipped_and_bad_frames_are_errors() {
        assert_eq!(
            ServerFrame::parse(r#"{"type":"future","x":1}"#).unwrap(),
            None
        );
        assert!(ServerFrame::parse(r#"{"type":"ack"}"#).is_err());
        assert!(ServerFrame::parse("{nope").is_err());
        assert_eq!(
            ServerFrame::parse(r#"{"type":"pong","extra":[1]}"#).unwrap(),
            Some(ServerFrame::Pong {})
        );
    }

    #[test]
    fn splits_batches_on_newlines() {
        let text = "{\"type\":\"pong\"}\n{\"type\":\"pong\"}";
        assert_eq!(split_batch(text).count(), 2);
        assert_eq!(split_batch("{\"type\":\"pong\"}").count(), 1);
    }
}
