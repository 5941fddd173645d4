//! Newtype ids, so a `UserId` can never be passed where a `RoomId` is expected.
//!
//! Ids are `i64` because both SQLite and PostgreSQL store them natively as `BIGINT`.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// Identifies a [`User`](crate::User).
    UserId
);
id_type!(
    /// Identifies a [`ChatRoom`](crate::ChatRoom).
    RoomId
);
id_type!(
    /// Identifies a [`Message`](crate::Message) across all rooms.
    MessageId
);

impl RoomId {
    /// Not a room: the broker channel of account events ([`RoomEvent::SessionsEnded`]), which
    /// every node of a deployment listens to. Stores number rooms from 1.
    ///
    /// [`RoomEvent::SessionsEnded`]: crate::RoomEvent::SessionsEnded
    pub const ACCOUNTS: RoomId = RoomId(0);
}

/// Position of a message inside its room: 1 for the first message, then 2, 3, ... with no gaps.
///
/// Assigned by the store when the message commits; it is the cursor for history pages and for
/// resuming a subscription after a reconnect. `Seq(0)` means "before the first message".
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
#[serde(transparent)]
pub struct Seq(pub i64);

impl Seq {
    /// The position before any message of a room.
    pub const ZERO: Seq = Seq(0);

    /// The next position.
    pub fn next(self) -> Seq {
        Seq(self.0.saturating_add(1))
    }
}

impl fmt::Display for Seq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
