//! Messages, their history pages and search.

use crate::{MessageId, RoomId, Seq, Timestamp, UserId};
use serde::{Deserialize, Serialize};

/// A message in a room. A deleted message keeps its seq, loses its body and has `deleted` set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Globally unique id.
    pub id: MessageId,
    /// Room it belongs to.
    pub room: RoomId,
    /// Position in the room: 1, 2, 3, ... without gaps.
    pub seq: Seq,
    /// Author.
    pub author: UserId,
    /// Author's username: as a store reads it, the author's current one, so a rename shows in
    /// past messages (see [`UserStore::rename_user`](crate::UserStore::rename_user)).
    pub author_name: String,
    /// Text; empty once deleted.
    pub body: String,
    /// Idempotency id chosen by the author's client, if any.
    pub client_id: Option<String>,
    /// When it was posted.
    pub created_at: Timestamp,
    /// When it was last edited.
    pub edited_at: Option<Timestamp>,
    /// Soft-deleted.
    pub deleted: bool,
}

/// What a store needs to post a message. The store assigns id and seq.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    /// Target room.
    pub room: RoomId,
    /// Author.
    pub author: UserId,
    /// Validated, trimmed body.
    pub body: String,
    /// Idempotency id: a second post by the same author with the same id returns the first.
    pub client_id: Option<String>,
    /// Post time.
    pub created_at: Timestamp,
}

/// Result of a post: the message, and whether it already existed (idempotent re-post).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posted {
    /// The stored message.
    pub message: Message,
    /// `true` when the `client_id` had been seen and no new message was written.
    pub duplicate: bool,
}

/// Which slice of a room's history to read. Results are always in ascending seq order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryPage {
    /// The newest `limit` messages.
    Latest {
        /// Most messages returned.
        limit: usize,
    },
    /// The `limit` messages right before `seq` (exclusive).
    Before {
        /// Exclusive upper bound.
        seq: Seq,
        /// Most messages returned.
        limit: usize,
    },
    /// The `limit` messages right after `seq` (exclusive).
    After {
        /// Exclusive lower bound.
        seq: Seq,
        /// Most messages returned.
        limit: usize,
    },
}

impl HistoryPage {
    /// The page's limit.
    pub fn limit(&self) -> usize {
        match *self {
            HistoryPage::Latest { limit }
            | HistoryPage::Before { limit, .. }
            | HistoryPage::After { limit, .. } => limit,
        }
    }

    /// The same page with its limit replaced.
    pub fn with_limit(self, limit: usize) -> HistoryPage {
        match self {
            HistoryPage::Latest { .. } => HistoryPage::Latest { limit },
            HistoryPage::Before { seq, .. } => HistoryPage::Before { seq, limit },
            HistoryPage::After { seq, .. } => HistoryPage::After { seq, limit },
        }
    }
}

/// A full-text search within one room, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    /// Room to search.
    pub room: RoomId,
    /// Words to find; every word must occur (case-insensitive, whole-word or prefix match).
    pub text: String,
    /// Only messages with seq below this (paging backwards).
    pub before: Option<Seq>,
    /// Most messages returned.
    pub limit: usize,
}
