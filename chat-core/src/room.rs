//! Chat rooms and their members.

use crate::{RoomId, Seq, Timestamp, UserId};
use serde::{Deserialize, Serialize};

/// A chat room. Names are unique case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatRoom {
    /// Id.
    pub id: RoomId,
    /// Unique name, as typed by its creator.
    pub name: String,
    /// Free text, may be empty.
    pub description: String,
    /// Who created it.
    pub created_by: UserId,
    /// When it was created.
    pub created_at: Timestamp,
    /// Seq of the newest message, `Seq(0)` when empty.
    pub last_seq: Seq,
}

/// What a store needs to create a room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRoom {
    /// Validated, trimmed name.
    pub name: String,
    /// Validated, trimmed description.
    pub description: String,
    /// Creator.
    pub created_by: UserId,
    /// Creation time.
    pub created_at: Timestamp,
}

/// A page of rooms, ordered by name (case-insensitively, then by id).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoomQuery {
    /// Case-insensitive substring of the name.
    pub search: Option<String>,
    /// Only rooms whose lower-cased name sorts after this one (keyset paging).
    pub after_name: Option<String>,
    /// Most rooms returned.
    pub limit: usize,
}

/// A member of a room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// The member.
    pub user_id: UserId,
    /// Their current username (see [`UserStore::rename_user`](crate::UserStore::rename_user)).
    pub username: String,
    /// When they joined.
    pub joined_at: Timestamp,
}
