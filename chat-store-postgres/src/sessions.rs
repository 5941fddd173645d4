//! `SessionStore` for PostgreSQL: sessions keyed by token hash, looked up together with their
//! (active) user in one query.

use crate::PostgresStore;
use crate::error::{backend, missing_or_backend};
use crate::users::user_from_row;
use async_trait::async_trait;
use chat_core::{Session, SessionStore, StoreResult, Timestamp, TokenHash, User, UserId};
use sqlx::Row;

#[async_trait]
impl SessionStore for PostgresStore {
    async fn create_session(&self, session: Session) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, created_at, expires_at)
             VALUES ($1, $2, $3, $4)",
        )
        .bind(&session.token_hash.0)
        .bind(session.user_id.0)
        .bind(session.created_at.as_millis())
        .bind(session.expires_at.as_millis())
        .execute(&self.pool)
        .await
        .map_err(missing_or_backend)?;
        Ok(())
    }

    async fn session_user(
        &self,
        token: &TokenHash,
        now: Timestamp,
    ) -> StoreResult<Option<(Session, User)>> {
        let row = sqlx::query(
            "SELECT s.token_hash, s.user_id, s.created_at AS session_created_at, s.expires_at,
                    u.id, u.username, u.password_hash, u.is_admin, u.is_active, u.created_at
             FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.is_active",
        )
        .bind(&token.0)
        .bind(now.as_millis())
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let decode = || -> Result<(Session, User), sqlx::Error> {
            let session = Session {
                token_hash: TokenHash(row.try_get("token_hash")?),
                user_id: UserId(row.try_get("user_id")?),
                created_at: Timestamp(row.try_get("session_created_at")?),
                expires_at: Timestamp(row.try_get("expires_at")?),
            };
            Ok((session, user_from_row(&row)?))
        };
        decode().map(Some).map_err(backend)
    }

    async fn delete_session(&self, token: &TokenHash) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(&token.0)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_user_sessions(&self, user: UserId) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user.0)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(done.rows_affected())
    }

    async fn purge_expired_sessions(&self, now: Timestamp) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now.as_millis())
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(done.rows_affected())
    }
}
