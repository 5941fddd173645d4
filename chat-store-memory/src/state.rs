//! The tables of the memory store and the indexes that keep every lookup O(log n) or O(1).

use crate::room_log::RoomLog;
use chat_core::{ChatRoom, Member, Message, RoomId, Seq, Session, TokenHash, User, UserId};
use std::collections::{BTreeMap, HashMap, HashSet};

#[derive(Debug, Default)]
pub(crate) struct State {
    pub next_user: i64,
    pub next_room: i64,
    pub next_message: i64,
    pub users: BTreeMap<UserId, User>,
    pub user_names: HashMap<String, UserId>,
    /// Users of the host application by their id there.
    pub external_ids: HashMap<String, UserId>,
    pub sessions: HashMap<TokenHash, Session>,
    pub rooms: HashMap<RoomId, ChatRoom>,
    /// (lower-cased name, id) for ordered listing and case-insensitive lookup.
    pub room_names: BTreeMap<String, RoomId>,
    /// Members of a room in join order, kept without their name (`username` is empty): see
    /// [`State::named_member`].
    pub members: HashMap<RoomId, Vec<Member>>,
    pub membership: HashSet<(RoomId, UserId)>,
    /// Messages of a room; the message with seq n sits at index n - 1. Kept without their
    /// author's name (`author_name` is empty): see [`State::named`].
    pub messages: HashMap<RoomId, RoomLog>,
    /// Client ids of each author's posts. One map per author: a single map of every post
    /// rehashed all of them under the lock each time it grew (tens of milliseconds at a
    /// million posts).
    pub client_ids: HashMap<UserId, HashMap<String, (RoomId, Seq)>>,
}

/// The case-folded key under which names are unique.
pub(crate) fn fold(name: &str) -> String {
    name.to_lowercase()
}

impl State {
    /// A stored message as readers see it: with its author's current username, so that a
    /// renamed user's past messages show the new name, as the SQL stores' join with `users`
    /// does.
    pub fn named(&self, mut message: Message) -> Message {
        if let Some(author) = self.users.get(&message.author) {
            message.author_name.clone_from(&author.username);
        }
        message
    }

    /// A stored member as readers see it: with the user's current username (see
    /// [`State::named`]).
    pub fn named_member(&self, mut member: Member) -> Member {
        if let Some(user) = self.users.get(&member.user_id) {
            member.username.clone_from(&user.username);
        }
        member
    }

    pub fn message_mut(&mut self, room: RoomId, seq: Seq) -> Option<&mut Message> {
        let index = usize::try_from(seq.0.checked_sub(1)?).ok()?;
        self.messages.get_mut(&room)?.get_mut(index)
    }

    pub fn message(&self, room: RoomId, seq: Seq) -> Option<&Message> {
        let index = usize::try_from(seq.0.checked_sub(1)?).ok()?;
        self.messages.get(&room)?.get(index)
    }
}
