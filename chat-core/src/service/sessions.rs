//! Sessions beyond log in and log out: the session behind a token, watching it from a socket,
//! log out everywhere and password change.
//!
//! Ending a session reaches this node's sockets at once through
//! [`LiveSessions`](crate::LiveSessions), and other nodes' through a
//! [`RoomEvent::SessionsEnded`] on the broker's [`RoomId::ACCOUNTS`] channel, which each node
//! starts listening to with its first watched session. An event lost on the way (a broker
//! reconnecting) is caught by the sockets' periodic session check.

use super::ChatService;
use crate::broker::{Broker, Delivery};
use crate::{
    ChatError, ChatResult, Ending, LiveSessions, RoomEvent, RoomId, Session, SessionEnd,
    SessionGuard, SessionToken, TokenHash, User, UserId, validation,
};
use std::sync::{Arc, Weak};

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
        on_end: Arc<dyn SessionEnd>,
    ) -> SessionGuard {
        self.inner
            .accounts_listening
            .call_once(|| self.listen_to_accounts());
        self.inner.live_sessions.watch(user, token, on_end)
    }

    /// Starts the task that ends this node's live sessions on other nodes' account events
    /// (outside a tokio runtime there is nothing to start: no socket can be open).
    fn listen_to_accounts(&self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let broker = Arc::clone(self.broker());
        let live = Arc::downgrade(&self.inner.live_sessions);
        runtime.spawn(listen_to_accounts(broker, live));
    }

    /// Ends the chosen sessions' sockets on this node at once, and on the others through the
    /// broker.
    async fn end_sessions(&self, user: UserId, ending: Ending) {
        self.inner.live_sessions.end(user, &ending);
        self.publish(RoomId::ACCOUNTS, RoomEvent::SessionsEnded { user, ending })
            .await;
    }

    /// Ends every session of `user` (on every device). Returns how many there were.
    pub async fn logout_everywhere(&self, user: &User) -> ChatResult<u64> {
        let n = self.store().delete_user_sessions(user.id).await?;
        self.end_sessions(user.id, Ending::All).await;
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
        if stored.password_hash.is_empty() {
            return Err(ChatError::Forbidden(
                "users of the host application have no password here",
            ));
        }
        if !self
            .hash_pool()
            .verify(old_password, &stored.password_hash)
            .await?
        {
            return Err(ChatError::InvalidCredentials);
        }
        let hash = self.hash_pool().hash(new_password).await?;
        let keep = current.map(SessionToken::hash);
        self.store()
            .set_password(user.id, hash, keep.clone())
            .await?;
        let ending = keep.map_or(Ending::All, Ending::AllBut);
        self.end_sessions(user.id, ending).await;
        Ok(())
    }

    /// Ends the live sessions of a user who was deactivated.
    pub(crate) async fn end_live_sessions(&self, user: UserId) {
        self.end_sessions(user, Ending::All).await;
    }

    /// Ends the live sessions opened with `token`.
    pub(crate) async fn end_live_session(&self, user: UserId, token: TokenHash) {
        self.end_sessions(user, Ending::Only(token)).await;
    }
}

/// Ends live sessions as account events arrive, until the service is gone or the broker
/// closes. This node's own events arrive too and find their sessions ended already.
async fn listen_to_accounts(broker: Arc<dyn Broker>, live: Weak<LiveSessions>) {
    let mut events = match broker.subscribe(RoomId::ACCOUNTS).await {
        Ok(events) => events,
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen to account events; sessions ended on other nodes close at the sockets' next session check");
            return;
        }
    };
    loop {
        match events.recv().await {
            Delivery::Event(envelope) => {
                let Some(live) = live.upgrade() else { return };
                if let RoomEvent::SessionsEnded { user, ending } = &envelope.event {
                    live.end(*user, ending);
                }
            }
            Delivery::Lagged { .. } => {
                tracing::warn!("account events were lost; the sockets' session checks cover them");
            }
            Delivery::Closed => return,
        }
    }
}
