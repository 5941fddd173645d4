//! The wire format of protocol 1: client frames (parsed with serde from a `type`-tagged JSON
//! object, extra fields ignored), server frames, and their encoding to shared [`Bytes`].
//! Every parse failure becomes a [`FrameError`] with a stable code, never a panic.

use crate::views::{MessageView, UserView};
use bytes::Bytes;
use chat_core::{Envelope, Message, RoomEvent};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The protocol version announced in `hello`.
pub const PROTOCOL_VERSION: u32 = 1;

/// Client frame types, for `unknown_type` detection.
const CLIENT_TYPES: [&str; 8] = [
    "join", "leave", "send", "edit", "delete", "typing", "history", "ping",
];

/// A frame sent by a client.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// Subscribe to a room, optionally resuming after a seq.
    Join {
        /// Room name.
        room: String,
        /// Resume point: every message with a greater seq is sent first.
        #[serde(default)]
        after_seq: Option<i64>,
    },
    /// Unsubscribe this connection from a room.
    Leave {
        /// Room name.
        room: String,
    },
    /// Post a message.
    Send {
        /// Room name.
        room: String,
        /// Text.
        body: String,
        /// Idempotency id (at most 64 characters).
        #[serde(default)]
        client_id: Option<String>,
    },
    /// Edit one of one's own messages.
    Edit {
        /// Room name.
        room: String,
        /// The message's seq.
        seq: i64,
        /// New text.
        body: String,
    },
    /// Delete one of one's own messages (any message for admins).
    Delete {
        /// Room name.
        room: String,
        /// The message's seq.
        seq: i64,
    },
    /// Tell the room one is typing.
    Typing {
        /// Room name.
        room: String,
    },
    /// Ask for a page of older messages.
    History {
        /// Room name.
        room: String,
        /// Only messages before this seq (default: the newest).
        #[serde(default)]
        before_seq: Option<i64>,
        /// Page size (default 50, clamped by the service).
        #[serde(default)]
        limit: Option<usize>,
    },
    /// Application-level ping; answered with `pong`.
    Ping {},
}

/// Why a client frame was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameError {
    /// Stable snake_case code.
    pub code: &'static str,
    /// Human-readable explanation.
    pub message: String,
}

impl FrameError {
    /// An error with `code` and `message`.
    pub fn new(code: &'static str, message: impl Into<String>) -> FrameError {
        FrameError {
            code,
            message: message.into(),
        }
    }
}

/// Parses one text frame.
pub fn parse(text: &[u8]) -> Result<ClientFrame, FrameError> {
    match serde_json::from_slice::<ClientFrame>(text) {
        Ok(frame) => Ok(frame),
        Err(e) if e.is_data() => Err(classify(text, &e)),
        Err(e) => Err(FrameError::new(
            "invalid_json",
            format!("invalid JSON: {e}"),
        )),
    }
}

/// The slow path for well-formed JSON that is not a valid frame: find the precise reason.
fn classify(text: &[u8], e: &serde_json::Error) -> FrameError {
    let Ok(Value::Object(obj)) = serde_json::from_slice::<Value>(text) else {
        return FrameError::new("invalid_json", "a frame must be a JSON object");
    };
    let kind = match obj.get("type") {
        None => return FrameError::new("missing_field", "missing field `type`"),
        Some(Value::String(s)) => s.as_str(),
        Some(_) => return FrameError::new("bad_field", "field `type` must be a string"),
    };
    if !CLIENT_TYPES.contains(&kind) {
        return FrameError::new("unknown_type", format!("unknown frame type `{kind}`"));
    }
    let text = e.to_string();
    // serde's messages carry " at line L column C"; strip it for a cleaner client message.
    let message = match text.find(" at line ") {
        Some(i) => text[..i].to_owned(),
        None => text,
    };
    if message.starts_with("missing field") {
        FrameError::new("missing_field", message)
    } else {
        FrameError::new("bad_field", message)
    }
}

/// The `ref` field of a client frame, echoed in error frames (parsed again: errors are rare).
pub fn client_ref(text: &[u8]) -> Option<Value> {
    match serde_json::from_slice::<Value>(text) {
        Ok(Value::Object(mut obj)) => obj.remove("ref"),
        _ => None,
    }
}

/// A frame sent by the server.
#[derive(Debug, Serialize)]
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
        room: &'a str,
        /// Newest seq when the subscription started.
        last_seq: i64,
        /// Room description.
        description: &'a str,
        /// Member usernames.
        members: Vec<&'a str>,
        /// Usernames online in the room.
        online: Vec<String>,
    },
    /// Answer to `leave`, or the room stopped being available.
    Left {
        /// Room name.
        room: &'a str,
    },
    /// A new message.
    Message(MessageView<'a>),
    /// A `send` was committed durably.
    Ack {
        /// Room name.
        room: &'a str,
        /// The client's idempotency id (null when none was given).
        client_id: Option<&'a str>,
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
        room: &'a str,
        /// The message's seq.
        seq: i64,
        /// The message's id.
        id: i64,
    },
    /// Someone came online or went offline in a room.
    Presence {
        /// Room name.
        room: &'a str,
        /// Every username online now.
        online: Vec<String>,
        /// Who changed.
        user: &'a str,
        /// `online` or `offline`.
        status: &'a str,
    },
    /// Someone is typing.
    Typing {
        /// Room name.
        room: &'a str,
        /// Their username.
        user: &'a str,
    },
    /// Someone became a member.
    MemberJoined {
        /// Room name.
        room: &'a str,
        /// Their username.
        user: &'a str,
    },
    /// Someone stopped being a member.
    MemberLeft {
        /// Room name.
        room: &'a str,
        /// Their username.
        user: &'a str,
    },
    /// The room was deleted; the connection left it.
    RoomDeleted {
        /// Room name.
        room: &'a str,
    },
    /// Answer to `history`.
    History {
        /// Room name.
        room: &'a str,
        /// Messages, ascending by seq.
        messages: Vec<MessageView<'a>>,
        /// Older messages exist.
        has_more: bool,
    },
    /// A client frame was refused.
    Error {
        /// Stable snake_case code.
        code: &'a str,
        /// Human-readable explanation.
        message: &'a str,
        /// The `ref` of the refused frame, if it had one.
        #[serde(rename = "ref")]
        reference: Option<&'a Value>,
        /// The room the refused frame named, if any.
        #[serde(skip_serializing_if = "Option::is_none")]
        room: Option<&'a str>,
        /// The `client_id` of a refused `send`.
        #[serde(skip_serializing_if = "Option::is_none")]
        client_id: Option<&'a str>,
    },
    /// Answer to `ping`.
    Pong {},
}

/// Encodes a frame. Serializing these types cannot fail; should it anyway, an `internal` error
/// frame is sent instead.
pub fn encode(frame: &ServerFrame<'_>) -> Bytes {
    match serde_json::to_vec(frame) {
        Ok(v) => Bytes::from(v),
        Err(e) => {
            tracing::error!(error = %e, "encoding a frame failed");
            Bytes::from_static(
                br#"{"type":"error","code":"internal","message":"internal error","ref":null}"#,
            )
        }
    }
}

/// Encodes a room event as the frame every subscriber of `room` receives. `online` gives the
/// current online list for presence frames. Called once per event and node through
/// [`Envelope::encoded`], so the bytes are shared by all recipients.
///
/// A run of messages (`MessagesPosted`) gives their `message` frames joined by newlines (JSON
/// never writes a raw newline), in seq order.
pub fn encode_event(room: &str, env: &Envelope, online: impl FnOnce() -> Vec<String>) -> Bytes {
    let frame = match &env.event {
        RoomEvent::MessagePosted { message } => {
            ServerFrame::Message(MessageView::of(room, message))
        }
        RoomEvent::MessagesPosted { messages } => return encode_lines(room, messages),
        RoomEvent::MessageEdited { message } => ServerFrame::Edited(MessageView::of(room, message)),
        RoomEvent::MessageDeleted { id, seq } => ServerFrame::Deleted {
            room,
            seq: seq.0,
            id: id.0,
        },
        RoomEvent::MemberJoined { username, .. } => ServerFrame::MemberJoined {
            room,
            user: username,
        },
        RoomEvent::MemberLeft { username, .. } => ServerFrame::MemberLeft {
            room,
            user: username,
        },
        RoomEvent::RoomDeleted => ServerFrame::RoomDeleted { room },
        RoomEvent::Typing { username, .. } => ServerFrame::Typing {
            room,
            user: username,
        },
        RoomEvent::PresenceChanged {
            username,
            online: is_online,
            ..
        } => ServerFrame::Presence {
            room,
            online: online(),
            user: username,
            status: if *is_online { "online" } else { "offline" },
        },
        // Never published to a room (the feeds skip it); no client frame exists for it.
        RoomEvent::SessionsEnded { .. } => return Bytes::new(),
    };
    encode(&frame)
}

/// The `message` frames of `messages`, joined by newlines.
fn encode_lines(room: &str, messages: &[Message]) -> Bytes {
    let mut out = Vec::with_capacity(messages.iter().map(|m| m.body.len() + 160).sum());
    for (i, message) in messages.iter().enumerate() {
        if i > 0 {
            out.push(b'\n');
        }
        let frame = ServerFrame::Message(MessageView::of(room, message));
        if let Err(e) = serde_json::to_writer(&mut out, &frame) {
            tracing::error!(error = %e, "encoding a frame failed");
            return encode(&frame);
        }
    }
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(text: &str) -> &'static str {
        parse(text.as_bytes()).unwrap_err().code
    }

    #[test]
    fn parses_every_client_frame() {
        assert_eq!(
            parse(br#"{"type":"join","room":"a","after_seq":3,"extra":true}"#).unwrap(),
            ClientFrame::Join {
                room: "a".into(),
                after_seq: Some(3)
            }
        );
        assert_eq!(
            parse(br#"{"type":"send","room":"a","body":"hi","client_id":"c1"}"#).unwrap(),
            ClientFrame::Send {
                room: "a".into(),
                body: "hi".into(),
                client_id: Some("c1".into())
            }
        );
        assert_eq!(
            parse(br#"{"type":"ping","ref":7}"#).unwrap(),
            ClientFrame::Ping {}
        );
        assert!(matches!(
            parse(br#"{"type":"history","room":"a"}"#).unwrap(),
            ClientFrame::History {
                before_seq: None,
                limit: None,
                ..
            }
        ));
        assert!(parse(br#"{"type":"leave","room":"a"}"#).is_ok());
        assert!(parse(br#"{"type":"edit","room":"a","seq":1,"body":"x"}"#).is_ok());
        assert!(parse(br#"{"type":"delete","room":"a","seq":1}"#).is_ok());
        assert!(parse(br#"{"type":"typing","room":"a"}"#).is_ok());
    }

    #[test]
    fn classifies_bad_frames() {
        assert_eq!(code("{nope"), "invalid_json");
        assert_eq!(code(""), "invalid_json");
        assert_eq!(code("[1,2]"), "invalid_json");
        assert_eq!(code("42"), "invalid_json");
        assert_eq!(code(r#"{"room":"a"}"#), "missing_field");
        assert_eq!(code(r#"{"type":5}"#), "bad_field");
        assert_eq!(code(r#"{"type":"dance"}"#), "unknown_type");
        assert_eq!(code(r#"{"type":"send","room":"a"}"#), "missing_field");
        assert_eq!(code(r#"{"type":"send","room":"a","body":7}"#), "bad_field");
        assert_eq!(
            code(r#"{"type":"history","room":"a","limit":-1}"#),
            "bad_field"
        );
        let e = parse(br#"{"type":"join"}"#).unwrap_err();
        assert!(e.message.contains("room"), "{}", e.message);
    }

    #[test]
    fn echoes_ref() {
        assert_eq!(
            client_ref(br#"{"type":"x","ref":"r1"}"#),
            Some(Value::from("r1"))
        );
        assert_eq!(client_ref(b"{bad"), None);
    }

    #[test]
    fn encodes_tagged_frames() {
        let bytes = encode(&ServerFrame::Pong {});
        assert_eq!(&bytes[..], br#"{"type":"pong"}"#);
        let bytes = encode(&ServerFrame::Ack {
            room: "r",
            client_id: Some("c"),
            seq: 4,
            id: 9,
            duplicate: false,
        });
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["type"], "ack");
        assert_eq!(v["seq"], 4);
        assert_eq!(v["client_id"], "c");
        let bytes = encode(&ServerFrame::Error {
            code: "unknown_type",
            message: "m",
            reference: None,
            room: None,
            client_id: None,
        });
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["type"], "error");
        assert!(v["ref"].is_null());
    }

    #[test]
    fn a_run_of_messages_is_their_frames_one_per_line() {
        use chat_core::RoomId;
        use chat_core::testing::sample_message as message;
        let (a, b) = (message(1, 1, "two\nlines"), message(1, 2, "<b>x</b>"));
        let one = |m: &Message| {
            let env = Envelope::new(RoomId(1), RoomEvent::MessagePosted { message: m.clone() });
            encode_event("r", &env, Vec::new)
        };
        let run = Envelope::new(
            RoomId(1),
            RoomEvent::MessagesPosted {
                messages: vec![a.clone(), b.clone()],
            },
        );
        let joined = encode_event("r", &run, Vec::new);
        let lines: Vec<&[u8]> = joined.split(|&c| c == b'\n').collect();
        assert_eq!(lines, [&one(&a)[..], &one(&b)[..]]);
        let v: Value = serde_json::from_slice(lines[0]).unwrap();
        assert_eq!(v["body"], "two\nlines");
    }
}
