//! Sign up, log in, log out, and turning a session token back into a user.

use super::ChatService;
use crate::{ChatError, ChatResult, NewUser, Session, SessionToken, User, password, validation};

impl ChatService {
    /// Creates an account and logs it in.
    pub async fn signup(&self, username: &str, password: &str) -> ChatResult<(User, SessionToken)> {
        let user = self.create_user(username, password, false).await?;
        let token = self.open_session(&user).await?;
        Ok((user, token))
    }

    /// Creates an account without logging it in (for example a superuser from the CLI).
    pub async fn create_user(
        &self,
        username: &str,
        password: &str,
        is_admin: bool,
    ) -> ChatResult<User> {
        let limits = &self.config().limits;
        validation::username(limits, username)?;
        validation::password(limits, password)?;
        let password_hash = self.hash_pool().hash(password).await?;
        let user = self
            .store()
            .create_user(NewUser {
                username: username.to_owned(),
                password_hash,
                is_admin,
                created_at: self.clock().now(),
            })
            .await?;
        Ok(user)
    }

    /// Checks a username and password and opens a session. Fails with
    /// [`ChatError::InvalidCredentials`] for an unknown user, a wrong password or a deactivated
    /// account alike, after the same amount of hashing work.
    pub async fn login(&self, username: &str, password: &str) -> ChatResult<(User, SessionToken)> {
        let limits = &self.config().limits;
        if password.chars().count() > limits.password_max
            || username.len() > 4 * limits.username_max
        {
            return Err(ChatError::InvalidCredentials);
        }
        let user = self.store().user_by_name(username).await?;
        // Users from the host application have no password here: they never log in this way.
        let user = user.filter(|u| !u.password_hash.is_empty());
        let hash = match &user {
            Some(u) => u.password_hash.clone(),
            None => self.dummy_hash().await?,
        };
        let ok = self.hash_pool().verify(password, &hash).await?;
        match user {
            Some(user) if ok && user.is_active => {
                let token = self.open_session(&user).await?;
                Ok((user, token))
            }
            _ => Err(ChatError::InvalidCredentials),
        }
    }

    /// Ends the session of `token`. Ending an unknown session is not an error.
    /// Sockets opened with the session close.
    pub async fn logout(&self, token: &SessionToken) -> ChatResult<()> {
        let hash = token.hash();
        let owner = self.store().session_user(&hash, self.clock().now()).await?;
        self.store().delete_session(&hash).await?;
        if let Some((session, _)) = owner {
            self.end_live_session(session.user_id, hash).await;
        }
        Ok(())
    }

    /// The active user owning a valid session token, or [`ChatError::Unauthenticated`].
    pub async fn authenticate(&self, token: &SessionToken) -> ChatResult<User> {
        let (_, user) = self.authenticate_session(token).await?;
        Ok(user)
    }

    /// Deletes sessions that have expired. Returns how many. The service runs it every
    /// [`Config::purge_sessions_every`](crate::Config::purge_sessions_every) by itself.
    pub async fn purge_expired_sessions(&self) -> ChatResult<u64> {
        Ok(self
            .store()
            .purge_expired_sessions(self.clock().now())
            .await?)
    }

    async fn open_session(&self, user: &User) -> ChatResult<SessionToken> {
        self.start_housekeeping();
        let token = SessionToken::generate()?;
        let now = self.clock().now();
        self.store()
            .create_session(Session {
                token_hash: token.hash(),
                user_id: user.id,
                created_at: now,
                expires_at: now.plus(self.config().session_ttl),
            })
            .await?;
        Ok(token)
    }

    async fn dummy_hash(&self) -> ChatResult<String> {
        let cost = self.config().hash_cost;
        self.inner
            .dummy_hash
            .get_or_try_init(|| async move { password::dummy_hash(cost) })
            .await
            .cloned()
    }
}
