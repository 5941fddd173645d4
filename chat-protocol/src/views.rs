//! JSON shapes of the domain objects that travel in frames: a message and a user look the same
//! in every frame and in the HTTP API. Timestamps are RFC 3339 strings; rooms are named.

use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// A user as clients see it (never the password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserView<'a> {
    /// Id.
    pub id: i64,
    /// Username.
    pub username: Cow<'a, str>,
    /// Admin rights.
    pub is_admin: bool,
    /// Active (may log in).
    pub is_active: bool,
    /// Creation time, RFC 3339.
    pub created_at: String,
}

/// A message as clients see it: in `message` and `edited` frames, history pages and search
/// results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageView<'a> {
    /// Room name.
    pub room: Cow<'a, str>,
    /// Position in the room.
    pub seq: i64,
    /// Global id.
    pub id: i64,
    /// Author's username.
    pub author: Cow<'a, str>,
    /// Text (empty once deleted).
    pub body: Cow<'a, str>,
    /// Post time, RFC 3339.
    pub created_at: String,
    /// Last edit time, RFC 3339, when edited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited_at: Option<String>,
    /// Soft-deleted.
    pub deleted: bool,
    /// The author's idempotency id, when one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<Cow<'a, str>>,
}

impl UserView<'_> {
    /// A copy that owns its strings.
    pub fn into_owned(self) -> UserView<'static> {
        UserView {
            id: self.id,
            username: Cow::Owned(self.username.into_owned()),
            is_admin: self.is_admin,
            is_active: self.is_active,
            created_at: self.created_at,
        }
    }
}

impl MessageView<'_> {
    /// A copy that owns its strings.
    pub fn into_owned(self) -> MessageView<'static> {
        MessageView {
            room: Cow::Owned(self.room.into_owned()),
            seq: self.seq,
            id: self.id,
            author: Cow::Owned(self.author.into_owned()),
            body: Cow::Owned(self.body.into_owned()),
            created_at: self.created_at,
            edited_at: self.edited_at,
            deleted: self.deleted,
            client_id: self.client_id.map(|c| Cow::Owned(c.into_owned())),
        }
    }
}
