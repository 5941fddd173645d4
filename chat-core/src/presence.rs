//! Who is online in which room on this node, counting every socket of a user.
//!
//! A user is online in a room while at least one of their connections has it open. Only the
//! first arrival and the last departure change presence, so many tabs of one user do not flap.

use crate::{RoomId, UserId};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

/// For each room, each online user's name and number of open connections.
type Rooms = HashMap<RoomId, BTreeMap<UserId, (String, usize)>>;

/// Per-room online users of this process.
#[derive(Debug, Default)]
pub struct PresenceTracker {
    rooms: Mutex<Rooms>,
}

impl PresenceTracker {
    fn rooms(&self) -> MutexGuard<'_, Rooms> {
        self.rooms.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts one more connection of `user` in `room`. Returns `true` when the user just came
    /// online there.
    pub fn enter(&self, room: RoomId, user: UserId, username: &str) -> bool {
        let mut rooms = self.rooms();
        let entry = rooms
            .entry(room)
            .or_default()
            .entry(user)
            .or_insert_with(|| (username.to_owned(), 0));
        entry.1 += 1;
        entry.1 == 1
    }

    /// Counts one connection less. Returns `true` when the user just went offline there.
    pub fn leave(&self, room: RoomId, user: UserId) -> bool {
        let mut rooms = self.rooms();
        let Some(users) = rooms.get_mut(&room) else {
            return false;
        };
        let gone = match users.get_mut(&user) {
            Some(entry) => {
                entry.1 = entry.1.saturating_sub(1);
                entry.1 == 0
            }
            None => false,
        };
        if gone {
            users.remove(&user);
        }
        if users.is_empty() {
            rooms.remove(&room);
        }
        gone
    }

    /// Usernames online in `room`, sorted by user id.
    pub fn online(&self, room: RoomId) -> Vec<String> {
        self.rooms()
            .get(&room)
            .map(|users| users.values().map(|(name, _)| name.clone()).collect())
            .unwrap_or_default()
    }

    /// Forgets a room entirely (it was deleted).
    pub fn forget_room(&self, room: RoomId) {
        self.rooms().remove(&room);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_sockets_per_user() {
        let p = PresenceTracker::default();
        assert!(p.enter(RoomId(1), UserId(1), "ann"));
        assert!(!p.enter(RoomId(1), UserId(1), "ann"), "second tab");
        assert!(p.enter(RoomId(1), UserId(2), "bob"));
        assert_eq!(p.online(RoomId(1)), vec!["ann", "bob"]);
        assert!(!p.leave(RoomId(1), UserId(1)));
        assert_eq!(p.online(RoomId(1)), vec!["ann", "bob"]);
        assert!(p.leave(RoomId(1), UserId(1)));
        assert_eq!(p.online(RoomId(1)), vec!["bob"]);
        assert!(!p.leave(RoomId(1), UserId(1)), "extra leave is harmless");
        assert!(p.leave(RoomId(1), UserId(2)));
        assert!(p.online(RoomId(1)).is_empty());
    }
}
