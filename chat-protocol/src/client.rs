//! Frames a client sends: a `type`-tagged JSON object each. The server parses them with serde
//! (extra fields such as `ref` are ignored); a client serializes them, leaving out absent
//! optional fields.

use serde::{Deserialize, Serialize};

/// A frame sent by a client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// Subscribe to a room, optionally resuming after a seq.
    Join {
        /// Room name.
        room: String,
        /// Resume point: every message with a greater seq is sent first.
        #[serde(default, skip_serializing_if = "Option::is_none")]
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
        #[serde(default, skip_serializing_if = "Option::is_none")]
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
        #[serde(default, skip_serializing_if = "Option::is_none")]
        before_seq: Option<i64>,
        /// Page size (default 50, clamped by the service).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<usize>,
    },
    /// Application-level ping; answered with `pong`.
    Ping {},
}

impl ClientFrame {
    /// The frame as JSON text with a `ref` the server echoes in an `error` frame it causes.
    pub fn to_text_with_ref(&self, reference: u64) -> Result<String, serde_json::Error> {
        let mut value = serde_json::to_value(self)?;
        if let serde_json::Value::Object(map) = &mut value {
            map.insert("ref".to_owned(), reference.into());
        }
        serde_json::to_string(&value)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn round_trips_and_omits_absent_options() {
        let join = ClientFrame::Join {
            room: "a".into(),
            after_seq: None,
        };
        let text = serde_json::to_string(&join).unwrap();
        assert_eq!(text, r#"{"type":"join","room":"a"}"#);
        assert_eq!(serde_json::from_str::<ClientFrame>(&text).unwrap(), join);
        let ping = ClientFrame::Ping {}.to_text_with_ref(7).unwrap();
        let value: serde_json::Value = serde_json::from_str(&ping).unwrap();
        assert_eq!(value, serde_json::json!({"type": "ping", "ref": 7}));
    }
}
