//! JSON shapes of domain objects, shared by WebSocket frames and the HTTP API so a message or a
//! user looks the same everywhere. Timestamps are RFC 3339 strings; rooms are named, not numbered.
//! The message and user shapes are chat-protocol's (the client decodes the same types); this
//! module builds them from the domain's objects.

use chat_core::{ChatRoom, Message, User};
use serde::Serialize;

pub use chat_protocol::{MessageView, UserView};
use std::borrow::Cow;

/// The view of `user`.
pub fn user(user: &User) -> UserView<'_> {
    UserView {
        id: user.id.0,
        username: Cow::Borrowed(&user.username),
        is_admin: user.is_admin,
        is_active: user.is_active,
        created_at: user.created_at.to_rfc3339(),
    }
}

/// The view of `message` in the room called `room`.
pub fn message<'a>(room: &'a str, message: &'a Message) -> MessageView<'a> {
    MessageView {
        room: Cow::Borrowed(room),
        seq: message.seq.0,
        id: message.id.0,
        author: Cow::Borrowed(&message.author_name),
        body: Cow::Borrowed(&message.body),
        created_at: message.created_at.to_rfc3339(),
        edited_at: message.edited_at.map(|t| t.to_rfc3339()),
        deleted: message.deleted,
        client_id: message.client_id.as_deref().map(Cow::Borrowed),
    }
}

/// Views of several messages of one room.
pub fn messages<'a>(room: &'a str, messages: &'a [Message]) -> Vec<MessageView<'a>> {
    messages.iter().map(|m| message(room, m)).collect()
}

/// A room as clients see it.
#[derive(Debug, Serialize)]
pub struct RoomView<'a> {
    /// Id.
    pub id: i64,
    /// Unique name: how the wire addresses the room.
    pub name: &'a str,
    /// Description.
    pub description: &'a str,
    /// Creator's user id.
    pub created_by: i64,
    /// Creation time, RFC 3339.
    pub created_at: String,
    /// Seq of the newest message (0 when empty).
    pub last_seq: i64,
    /// Whether the requesting user is a member, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member: Option<bool>,
}

impl<'a> RoomView<'a> {
    /// The view of `room`, without membership information.
    pub fn of(room: &'a ChatRoom) -> RoomView<'a> {
        RoomView {
            id: room.id.0,
            name: &room.name,
            description: &room.description,
            created_by: room.created_by.0,
            created_at: room.created_at.to_rfc3339(),
            last_seq: room.last_seq.0,
            member: None,
        }
    }

    /// The view with the requesting user's membership.
    pub fn with_member(mut self, member: bool) -> Self {
        self.member = Some(member);
        self
    }
}
