//! `PostListener`: how a store that commits posts in groups hands them to the broker itself,
//! in commit order, the moment they are durable.
//!
//! Without it every poster publishes its own message once its call returns. A store that
//! commits many posts at once (SQLite's group commit) wakes all their posters together, and
//! they publish in whatever order the scheduler runs them: subscribers see seq gaps and must
//! hold later messages until the stragglers publish, so every message waits for the slowest
//! poster of its group. A store that announces its commits publishes each group in seq order
//! from the committing thread, before any poster is woken.

use crate::Message;

/// Receives every message a store newly posted, right after its transaction committed and
/// before the poster's call returns; messages of one room arrive in seq order.
///
/// Called on the store's committing thread: it must be quick and must not block (handing an
/// event to a [`LocalBroker`](crate::LocalBroker) is).
pub trait PostListener: Send + Sync + 'static {
    /// A message was committed (never called for a duplicate post).
    fn posted(&self, message: Message);
}
