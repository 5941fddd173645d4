//! The rooms the app has joined and, per room, its cursor: the highest seq delivered to the
//! app. After a reconnect every room is joined again with `after_seq` = the cursor, and a
//! message at or below the cursor is a duplicate (a replay overlapping what was seen), so the
//! app gets every message once, in order. Names are unique case-insensitively.

use std::collections::HashMap;

/// The key of a room name.
pub(crate) fn key(name: &str) -> String {
    name.trim().to_lowercase()
}

/// One joined room.
#[derive(Debug)]
pub(crate) struct Room {
    /// The name to join with (the server's spelling once known).
    pub(crate) name: String,
    /// Highest seq delivered; `None` until a `joined` says where the room is.
    pub(crate) last_seq: Option<i64>,
    /// A `joined` arrived once: the room exists and the user may read it.
    pub(crate) confirmed: bool,
    /// `join` frames sent on this connection and not answered yet: messages of the stream
    /// they replace are skipped, the new stream delivers them again after the cursor.
    pub(crate) joining: u32,
}

/// The rooms to keep joined.
#[derive(Debug, Default)]
pub(crate) struct Rooms {
    rooms: HashMap<String, Room>,
}

impl Rooms {
    /// Starts tracking a room (a `join` call); `after_seq` moves the cursor back or forward.
    pub(crate) fn want(&mut self, name: &str, after_seq: Option<i64>) -> &Room {
        let room = self.rooms.entry(key(name)).or_insert_with(|| Room {
            name: name.trim().to_owned(),
            last_seq: None,
            confirmed: false,
            joining: 0,
        });
        if after_seq.is_some() {
            room.last_seq = after_seq;
        }
        room
    }

    /// A `joined` arrived: the server's spelling, and the cursor when it was unknown.
    pub(crate) fn joined(&mut self, name: &str, last_seq: i64) -> bool {
        match self.rooms.get_mut(&key(name)) {
            Some(room) => {
                room.name = name.to_owned();
                room.confirmed = true;
                room.joining = room.joining.saturating_sub(1);
                room.last_seq.get_or_insert(last_seq);
                true
            }
            None => false,
        }
    }

    /// Whether a `message` of `room` with `seq` is new for the app; if so it moves the cursor.
    pub(crate) fn accept(&mut self, room: &str, seq: i64) -> bool {
        let Some(room) = self.rooms.get_mut(&key(room)) else {
            return false;
        };
        if room.joining > 0 || room.last_seq.is_some_and(|last| seq <= last) {
            return false;
        }
        room.last_seq = Some(seq);
        true
    }

    /// A `join` for the room went on the wire.
    pub(crate) fn join_sent(&mut self, name: &str) {
        if let Some(room) = self.rooms.get_mut(&key(name)) {
            room.joining += 1;
        }
    }

    /// A `join` for the room was refused.
    pub(crate) fn join_refused(&mut self, name: &str) {
        if let Some(room) = self.rooms.get_mut(&key(name)) {
            room.joining = room.joining.saturating_sub(1);
        }
    }

    /// The connection ended: no join is pending any more.
    pub(crate) fn disconnected(&mut self) {
        for room in self.rooms.values_mut() {
            room.joining = 0;
        }
    }

    /// Stops tracking a room.
    pub(crate) fn remove(&mut self, name: &str) -> Option<Room> {
        self.rooms.remove(&key(name))
    }

    /// Stops tracking a room that never got a `joined` (its join was refused).
    pub(crate) fn forget_unconfirmed(&mut self, name: &str) {
        if self.rooms.get(&key(name)).is_some_and(|r| !r.confirmed) {
            self.rooms.remove(&key(name));
        }
    }

    /// The cursor of a room.
    pub(crate) fn last_seq(&self, name: &str) -> Option<i64> {
        self.rooms.get(&key(name)).and_then(|r| r.last_seq)
    }

    /// Every tracked room: (name, cursor).
    pub(crate) fn all(&self) -> Vec<(String, Option<i64>)> {
        self.rooms
            .values()
            .map(|r| (r.name.clone(), r.last_seq))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cursor_drops_replays_and_follows_the_servers_spelling() {
        let mut rooms = Rooms::default();
        rooms.want("General", None);
        rooms.join_sent("general");
        assert!(
            !rooms.accept("general", 9),
            "skipped while the join is pending"
        );
        assert!(rooms.joined("general", 4));
        assert!(!rooms.accept("general", 4));
        assert!(rooms.accept("GENERAL", 5));
        assert!(!rooms.accept("general", 5));
        assert_eq!(rooms.all(), [("general".to_owned(), Some(5))]);
        assert!(!rooms.accept("other", 1));
        rooms.want("x", None);
        rooms.forget_unconfirmed("x");
        assert_eq!(rooms.last_seq("x"), None);
        assert_eq!(rooms.all().len(), 1);
    }
}
