//! Storage of log-in sessions, by token hash.

use crate::{Session, StoreResult, Timestamp, TokenHash, User, UserId};
use async_trait::async_trait;

/// Stores sessions. Only token hashes are ever stored.
#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// Stores a new session.
    async fn create_session(&self, session: Session) -> StoreResult<()>;

    /// The session and its user, if the session exists, has not expired at `now`, and its user
    /// is active.
    async fn session_user(
        &self,
        token: &TokenHash,
        now: Timestamp,
    ) -> StoreResult<Option<(Session, User)>>;

    /// Deletes one session (log out). Returns whether it existed.
    async fn delete_session(&self, token: &TokenHash) -> StoreResult<bool>;

    /// Deletes every session of a user. Returns how many there were.
    async fn delete_user_sessions(&self, user: UserId) -> StoreResult<u64>;

    /// Deletes sessions expired at `now`. Returns how many there were.
    async fn purge_expired_sessions(&self, now: Timestamp) -> StoreResult<u64>;
}
