//! [`WriteTx`]: the connection as a write operation sees it, inside the open group
//! transaction. Besides the connection itself (through `Deref`), it answers the reads every
//! post makes from the writer's memory (see `cache`), and collects what others must learn of
//! the group after COMMIT: the highest message id and change seq it wrote, for the indexer,
//! and the messages it posted, for the post listener.

use super::cache::{RoomSeq, WriterCache};
use crate::error::DbResult;
use crate::indexer::Tracker;
use crate::search_file::Watermarks;
use crate::sql;
use chat_core::{Message, RoomId, UserId};
use rusqlite::{Connection, OptionalExtension};
use std::cell::{Cell, RefCell};
use std::ops::Deref;

/// The connection as a write operation sees it: inside the open group transaction, with the
/// writer's seq counters and what the group wrote that the indexer must know.
pub(crate) struct WriteTx<'c> {
    pub(super) conn: &'c Connection,
    /// The highest message id posted and `search_changes` seq written in the group so far.
    pub(super) written: Cell<Watermarks>,
    pub(super) tracker: &'c Tracker,
    pub(super) cache: &'c RefCell<WriterCache>,
    /// Messages to announce after COMMIT; `None` when no one listens.
    pub(super) posted: Option<RefCell<Vec<Message>>>,
}

impl WriteTx<'_> {
    /// Queues a newly posted message for the listener, if there is one.
    pub(crate) fn announce(&self, message: &Message) {
        if let Some(posted) = &self.posted {
            posted.borrow_mut().push(message.clone());
        }
    }

    /// What the group wrote so far (to forget a failed request's own).
    pub(super) fn queued(&self) -> (Watermarks, usize) {
        (
            self.written.get(),
            self.posted.as_ref().map_or(0, |p| p.borrow().len()),
        )
    }

    /// Forgets what was written after `queued` (a request that failed).
    pub(super) fn drop_queued(&self, (written, posted): (Watermarks, usize)) {
        self.written.set(written);
        if let Some(p) = &self.posted {
            p.borrow_mut().truncate(posted);
        }
    }

    /// Notes a message inserted in this transaction (for the indexer).
    pub(crate) fn note_message(&self, id: i64) {
        let mut written = self.written.get();
        written.messages = written.messages.max(id);
        self.written.set(written);
    }

    /// Notes a `search_changes` row inserted in this transaction (for the indexer).
    pub(crate) fn note_change(&self, seq: i64) {
        let mut written = self.written.get();
        written.changes = written.changes.max(seq);
        self.written.set(written);
    }

    /// The seq up to which the indexer has applied `search_changes`.
    pub(crate) fn indexed_changes(&self) -> i64 {
        self.tracker.indexed_changes()
    }

    /// The seq the next message of `room` gets, `None` when the room does not exist. Takes
    /// nothing: call [`WriteTx::take_seq`] once the message is written.
    pub(crate) fn next_seq(&self, room: RoomId) -> DbResult<Option<i64>> {
        if let Some(counter) = self.cache.borrow().rooms.get(&room.0) {
            return Ok(Some(counter.last + 1));
        }
        let stored: Option<i64> = self
            .conn
            .prepare_cached(sql::ROOM_LAST_SEQ)?
            .query_row([room.0], |r| r.get(0))
            .optional()?;
        Ok(stored.map(|stored| {
            self.cache.borrow_mut().rooms.insert(
                room.0,
                RoomSeq {
                    last: stored,
                    stored,
                },
            );
            stored + 1
        }))
    }

    /// Records that `seq` (from [`WriteTx::next_seq`]) was used by a message written in this
    /// transaction.
    pub(crate) fn take_seq(&self, room: RoomId, seq: i64) {
        if let Some(counter) = self.cache.borrow_mut().rooms.get_mut(&room.0) {
            counter.last = seq;
        }
    }

    /// A user's name, `None` when the user does not exist.
    pub(crate) fn username(&self, user: UserId) -> DbResult<Option<String>> {
        if let Some(name) = self.cache.borrow().usernames.get(&user.0) {
            return Ok(Some(name.clone()));
        }
        let name: Option<String> = self
            .conn
            .prepare_cached(sql::USERNAME_BY_ID)?
            .query_row([user.0], |r| r.get(0))
            .optional()?;
        if let Some(name) = &name {
            self.cache
                .borrow_mut()
                .usernames
                .insert(user.0, name.clone());
        }
        Ok(name)
    }

    /// Forgets a user's name (the user is being renamed); the next post reloads it.
    pub(crate) fn forget_username(&self, user: UserId) {
        self.cache.borrow_mut().usernames.remove(&user.0);
    }

    /// Whether `user` is a member of `room`.
    pub(crate) fn is_member(&self, room: RoomId, user: UserId) -> DbResult<bool> {
        let key = (room.0, user.0);
        if self.cache.borrow().members.contains(&key) {
            return Ok(true);
        }
        let member: bool = self
            .conn
            .prepare_cached(sql::MEMBER_EXISTS)?
            .query_row([room.0, user.0], |r| r.get(0))?;
        if member {
            self.cache.borrow_mut().members.insert(key);
        }
        Ok(member)
    }

    /// Forgets a membership (it is being removed).
    pub(crate) fn forget_member(&self, room: RoomId, user: UserId) {
        self.cache.borrow_mut().members.remove(&(room.0, user.0));
    }

    /// Forgets a room's counter and memberships (the room is being deleted).
    pub(crate) fn forget_room(&self, room: RoomId) {
        self.cache
            .borrow_mut()
            .members
            .retain(|(r, _)| *r != room.0);
        self.cache.borrow_mut().rooms.remove(&room.0);
    }
}

impl Deref for WriteTx<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        self.conn
    }
}
