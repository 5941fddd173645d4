//! What the writer remembers across groups: each room's seq counter, usernames and known
//! memberships, so that a post reads neither `rooms` nor `users` nor `members` in the common
//! case. The writer is the only writer of the file, so this memory cannot go stale behind its
//! back; only its own rollbacks can undo what it holds.
//!
//! A post takes its seq from the room's counter ([`WriteTx::next_seq`](super::WriteTx::next_seq)), and `rooms.last_seq`
//! is written once per room per group, just before COMMIT (and before any request that runs
//! in a savepoint, so that its rollback can never lose a counter). Whenever a rollback might
//! have undone writes the cache came from (a request's savepoint rolled back, the group
//! failed), everything is dropped and reloaded from the file on next use: seqs stay gap-free
//! and are only visible once committed.

use crate::sql;
use rusqlite::Connection;
use std::collections::{HashMap, HashSet};

/// A room's seq counter as the writer keeps it.
#[derive(Debug, Clone, Copy)]
pub(super) struct RoomSeq {
    /// The last seq handed out (in this transaction or committed).
    pub(super) last: i64,
    /// The value of `rooms.last_seq` in the open transaction.
    pub(super) stored: i64,
}

/// Entries each map of the [`WriterCache`] may hold; beyond, it is emptied after a commit.
const CACHE_LIMIT: usize = 65_536;

/// What the writer remembers across groups. Only ever holds values read from, or about to be
/// written to, the file inside the writer's own transactions; dropped whenever a rollback may
/// have undone them. Nothing but [`WriteTx::next_seq`](super::WriteTx::next_seq) and [`WriteTx::take_seq`](super::WriteTx::take_seq) may change a
/// room's `last_seq`.
#[derive(Debug, Default)]
pub(super) struct WriterCache {
    pub(super) rooms: HashMap<i64, RoomSeq>,
    /// Usernames by user id (users are never deleted; renaming one forgets its entry).
    pub(super) usernames: HashMap<i64, String>,
    /// Memberships (room, user) known to exist: every post checks one. Only the writer
    /// changes memberships; removing one (or its room) drops it here.
    pub(super) members: HashSet<(i64, i64)>,
}

impl WriterCache {
    /// Forgets everything (after a rollback); the next use reloads from the file.
    pub(super) fn clear(&mut self) {
        self.rooms.clear();
        self.usernames.clear();
        self.members.clear();
    }

    /// Keeps the memory bounded: once committed, every entry can be reloaded from the file.
    pub(super) fn trim(&mut self) {
        if self.rooms.len() > CACHE_LIMIT {
            self.rooms = HashMap::new();
        }
        if self.usernames.len() > CACHE_LIMIT {
            self.usernames = HashMap::new();
        }
        if self.members.len() > CACHE_LIMIT {
            self.members = HashSet::new();
        }
    }

    /// Writes every counter that moved to `rooms.last_seq`, in the open transaction.
    pub(super) fn store_seqs(&mut self, conn: &Connection) -> rusqlite::Result<()> {
        for (room, counter) in &mut self.rooms {
            if counter.last != counter.stored {
                conn.prepare_cached(sql::ROOM_SET_LAST_SEQ)?
                    .execute([*room, counter.last])?;
                counter.stored = counter.last;
            }
        }
        Ok(())
    }
}
