//! JSON shapes of domain objects, shared by WebSocket frames and the HTTP API so a message or a
//! user looks the same everywhere. Timestamps are RFC 3339 strings; rooms are named, not numbered.

use chat_core::{ChatRoom, Message, User};
use serde::Serialize;

/// A user as clients see it (never the password hash).
#[derive(Debug, Serialize)]
pub struct UserView<'a> {
    /// Id.
    pub id: i64,
    /// Username.
    pub username: &'a str,
    /// Admin rights.
    pub is_admin: bool,
    /// Active (may log in).
    pub is_active: bool,
    /// Creation time, RFC 3339.
    pub created_at: String,
}

impl<'a> UserView<'a> {
    /// The view of `user`.
    pub fn of(user: &'a User) -> UserView<'a> {
        UserView {
            id: user.id.0,
            username: &user.username,
            is_admin: user.is_admin,
            is_active: user.is_active,
            created_at: user.created_at.to_rfc3339(),
        }
    }
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

/// A message as clients see it: in `message` and `edited` frames, history pages and search
/// results.
#[derive(Debug, Serialize)]
pub struct MessageView<'a> {
    /// Room name.
    pub room: &'a str,
    /// Position in the room.
    pub seq: i64,
    /// Global id.
    pub id: i64,
    /// Author's username.
    pub author: &'a str,
    /// Text (empty once deleted).
    pub body: &'a str,
    /// Post time, RFC 3339.
    pub created_at: String,
    /// Last edit time, RFC 3339, when edited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub edited_at: Option<String>,
    /// Soft-deleted.
    pub deleted: bool,
    /// The author's idempotency id, when one was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<&'a str>,
}

impl<'a> MessageView<'a> {
    /// The view of `message` in the room called `room`.
    pub fn of(room: &'a str, message: &'a Message) -> MessageView<'a> {
        MessageView {
            room,
            seq: message.seq.0,
            id: message.id.0,
            author: &message.author_name,
            body: &message.body,
            created_at: message.created_at.to_rfc3339(),
            edited_at: message.edited_at.map(|t| t.to_rfc3339()),
            deleted: message.deleted,
            client_id: message.client_id.as_deref(),
        }
    }

    /// Views of several messages of one room.
    pub fn all(room: &'a str, messages: &'a [Message]) -> Vec<MessageView<'a>> {
        messages.iter().map(|m| MessageView::of(room, m)).collect()
    }
}
