//! `SessionStore` for the memory store.

use crate::MemoryStore;
use async_trait::async_trait;
use chat_core::{Session, SessionStore, StoreResult, Timestamp, TokenHash, User, UserId};

#[async_trait]
impl SessionStore for MemoryStore {
    async fn create_session(&self, session: Session) -> StoreResult<()> {
        self.lock()
            .sessions
            .insert(session.token_hash.clone(), session);
        Ok(())
    }

    async fn session_user(
        &self,
        token: &TokenHash,
        now: Timestamp,
    ) -> StoreResult<Option<(Session, User)>> {
        let s = self.lock();
        let Some(session) = s.sessions.get(token) else {
            return Ok(None);
        };
        if session.expires_at <= now {
            return Ok(None);
        }
        Ok(s.users
            .get(&session.user_id)
            .filter(|u| u.is_active)
            .map(|u| (session.clone(), u.clone())))
    }

    async fn delete_session(&self, token: &TokenHash) -> StoreResult<bool> {
        Ok(self.lock().sessions.remove(token).is_some())
    }

    async fn delete_user_sessions(&self, user: UserId) -> StoreResult<u64> {
        let mut s = self.lock();
        let before = s.sessions.len();
        s.sessions.retain(|_, session| session.user_id != user);
        Ok((before - s.sessions.len()) as u64)
    }

    async fn purge_expired_sessions(&self, now: Timestamp) -> StoreResult<u64> {
        let mut s = self.lock();
        let before = s.sessions.len();
        s.sessions.retain(|_, session| session.expires_at > now);
        Ok((before - s.sessions.len()) as u64)
    }
}
