//! `PostListener`: how a store that commits posts in groups hands them to the broker itself,
//! in commit order, the moment they are durable.
//!
//! Without it every poster publishes its own message once its call returns. A store that
//! commits many posts at once (SQLite's group commit) wakes all their posters together, and
//! they publish in whatever order the scheduler runs them: subscribers see seq gaps and must
//! hold later messages until the stragglers publish, so every message waits for the slowest
//! poster of its group. A store that announces its commits publishes each group in seq order
//! from the committing thread, before any poster is woken.
//!
//! A listener gets all the posts of one commit at once, so that the broker can share a room's
//! messages of that commit as one event ([`RoomEvent::MessagesPosted`](crate::RoomEvent)): one
//! ring slot, one reference count, one encoding and one read per subscriber instead of one per
//! message, which is most of the fan-out's cost when a busy room gets several messages per
//! group commit.

use crate::Message;

/// Receives every message a store newly posted, right after its transaction committed and
/// before the poster's call returns, one call per commit; messages of one room arrive in seq
/// order.
///
/// Called on the store's committing thread: it must be quick and must not block (handing an
/// event to a [`LocalBroker`](crate::LocalBroker) is).
pub trait PostListener: Send + Sync + 'static {
    /// These messages were committed together, in commit order (never called for a duplicate
    /// post, nor with an empty list).
    fn posted(&self, messages: Vec<Message>);
}
