//! The wire format of protocol 1 on the server: parsing client frames (serde, from a
//! `type`-tagged JSON object, extra fields ignored) and encoding server frames to shared
//! [`Bytes`]. The frame types themselves are chat-protocol's, which the Rust client decodes
//! with. Every parse failure becomes a [`FrameError`] with a stable code, never a panic.

use crate::views;
use bytes::Bytes;
use chat_core::{Envelope, Message, RoomEvent};
pub use chat_protocol::{ClientFrame, PROTOCOL_VERSION, ServerFrame};
use serde_json::Value;
use std::borrow::Cow;

/// Client frame types, for `unknown_type` detection.
const CLIENT_TYPES: [&str; 8] = [
    "join", "leave", "send", "edit", "delete", "typing", "history", "ping",
];

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
        RoomEvent::MessagePosted { message } => ServerFrame::Message(views::message(room, message)),
        RoomEvent::MessagesPosted { messages } => return encode_lines(room, messages),
        RoomEvent::MessageEdited { message } => ServerFrame::Edited(views::message(room, message)),
        RoomEvent::MessageDeleted { id, seq } => ServerFrame::Deleted {
            room: Cow::Borrowed(room),
            seq: seq.0,
            id: id.0,
        },
        RoomEvent::MemberJoined { username, .. } => ServerFrame::MemberJoined {
            room: Cow::Borrowed(room),
            user: Cow::Borrowed(username),
        },
        RoomEvent::MemberLeft { username, .. } => ServerFrame::MemberLeft {
            room: Cow::Borrowed(room),
            user: Cow::Borrowed(username),
        },
        RoomEvent::RoomDeleted => ServerFrame::RoomDeleted {
            room: Cow::Borrowed(room),
        },
        RoomEvent::Typing { username, .. } => ServerFrame::Typing {
            room: Cow::Borrowed(room),
            user: Cow::Borrowed(username),
        },
        RoomEvent::PresenceChanged {
            username,
            online: is_online,
            ..
        } => ServerFrame::Presence {
            room: Cow::Borrowed(room),
            online: online(),
            user: Cow::Borrowed(username),
            status: Cow::Borrowed(if *is_online { "online" } else { "offline" }),
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
        let frame = ServerFrame::Message(views::message(room, message));
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
            room: "r".into(),
            client_id: Some("c".into()),
            seq: 4,
            id: 9,
            duplicate: false,
        });
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["type"], "ack");
        assert_eq!(v["seq"], 4);
        assert_eq!(v["client_id"], "c");
        let bytes = encode(&ServerFrame::Error {
            code: "unknown_type".into(),
            message: "m".into(),
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

    #[test]
    fn the_clients_decoder_reads_every_encoded_frame_back() {
        use chat_core::testing::sample_message as message;
        let m = message(1, 2, "a \"quoted\"\nbody");
        let reference = Value::from(7);
        let view = views::message("r", &m);
        let frames = [
            ServerFrame::Joined {
                room: "r".into(),
                last_seq: 3,
                description: "d".into(),
                members: vec!["ann".into()],
                online: vec!["ann".into()],
            },
            ServerFrame::Left { room: "r".into() },
            ServerFrame::Message(view.clone()),
            ServerFrame::Edited(view.clone()),
            ServerFrame::Ack {
                room: "r".into(),
                client_id: None,
                seq: 1,
                id: 2,
                duplicate: true,
            },
            ServerFrame::Deleted {
                room: "r".into(),
                seq: 1,
                id: 2,
            },
            ServerFrame::Presence {
                room: "r".into(),
                online: vec![],
                user: "u".into(),
                status: "offline".into(),
            },
            ServerFrame::History {
                room: "r".into(),
                messages: vec![view],
                has_more: false,
            },
            ServerFrame::Error {
                code: "c".into(),
                message: "m".into(),
                reference: Some(Cow::Borrowed(&reference)),
                room: Some("r".into()),
                client_id: None,
            },
            ServerFrame::Pong {},
        ];
        for frame in frames {
            let bytes = encode(&frame);
            let text = std::str::from_utf8(&bytes).unwrap();
            assert_eq!(ServerFrame::parse(text).unwrap(), Some(frame), "{text}");
        }
    }
}
