//! Sessions beyond log in and log out: the session behind a token, watching it from a socket,
//! log out everywhere and password change. Ending a session reaches this node's sockets at once
//! through [`LiveSessions`](crate::LiveSessions); other nodes' sockets notice at their next
//! session check.

use super::ChatService;
use crate::{
    ChatError, ChatResult, Ending, Session, SessionGuard, SessionToken, TokenHash, User, UserId,
    password, validation,
};

impl ChatService {
    /// The valid session of `token` and its active user, or [`ChatError::Unauthenticated`].
    pub async fn authenticate_session(&self, token: &SessionToken) -> ChatResult<(Session, User)> {
        if token.as_str().len() > 128 {
            return Err(ChatError::Unauthenticated);
        }
        self.session_of(&token.hash())
            .await?
            .ok_or(ChatError::Unauthenticated)
    }

    /// The session with this hash and its user, if the session is valid now and the user
    /// active. Sockets re-check their session with it.
    pub async fn session_of(&self, token: &TokenHash) -> ChatResult<Option<(Session, User)>> {
        match self.store().session_user(token, self.clock().now()).await? {
            Some((session, user)) if user.is_active => Ok(Some((session, user))),
            _ => Ok(None),
        }
    }

    /// Calls `on_end` once when the session `token` of `user` ends on this node (log out, log
    /// out everywhere, a password change in another session, deactivation); without a token,
    /// when all of the user's sessions end. Dropping the guard stops watching.
    pub fn watch_session(
        &self,
        user: UserId,
        token: Option<TokenHash>,
        on_end: impl FnOnce() + Send + Sync + 'static,
    ) -> SessionGuard {
        self.inner.live_sessions.watch(user, token, on_end)
    }

    /// Ends every session of `user` (on every device). Returns how many there were.
    pub async fn logout_everywhere(&self, user: &User) -> ChatResult<u64> {
        let n = self.store().delete_user_sessions(user.id).await?;
        self.inner.live_sessions.end(user.id, Ending::All);
        Ok(n)
    }

    /// Changes `user`'s password after checking the current one, and ends every other session
    /// of theirs; `current` (the session making the change) stays. A wrong current password is
    /// [`ChatError::InvalidCredentials`].
    pub async fn change_password(
        &self,
        user: &User,
        current: Option<&SessionToken>,
        old_password: &str,
        new_password: &str,
    ) -> ChatResult<()> {
        let limits = &self.config().limits;
        if old_password.chars().count() > limits.password_max {
            return Err(ChatError::InvalidCredentials);
        }
        validation::password(limits, new_password)?;
        let stored = self
            .store()
            .user(user.id)
            .await?
            .filter(|u| u.is_active)
            .ok_or(ChatError::Unauthenticated)?;
        if !password::verify_password(old_password, &stored.password_hash).await? {
            return Err(ChatError::InvalidCredentials);
        }
        let hash = password::hash_password(new_password, self.config().hash_cost).await?;
        let keep = current.map(SessionToken::hash);
        self.store()
            .set_password(user.id, hash, keep.clone())
            .await?;
        let which = match &keep {
            Some(token) => Ending::AllBut(token),
            None => Ending::All,
        };
        self.inner.live_sessions.end(user.id, which);
        Ok(())
    }

    /// Ends this node's live sessions of a user who was deactivated.
    pub(crate) fn end_live_sessions(&self, user: UserId) {
        self.inner.live_sessions.end(user, Ending::All);
    }

    /// Ends this node's live sessions opened with `token`.
    pub(crate) fn end_live_session(&self, user: UserId, token: &TokenHash) {
        self.inner.live_sessions.end(user, Ending::Only(token));
    }
}
