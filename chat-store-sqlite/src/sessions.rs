//! `SessionStore` for SQLite: sessions keyed by token hash, with indexes by user (log out
//! everywhere) and by expiry (purge).

use crate::rows;
use crate::{SqliteStore, sql};
use async_trait::async_trait;
use chat_core::{Session, SessionStore, StoreResult, Timestamp, TokenHash, User, UserId};
use rusqlite::{OptionalExtension, params};

#[async_trait]
impl SessionStore for SqliteStore {
    async fn create_session(&self, session: Session) -> StoreResult<()> {
        self.write(move |conn| {
            conn.prepare_cached(sql::SESSION_INSERT)?.execute(params![
                session.token_hash.0,
                session.user_id.0,
                session.created_at.0,
                session.expires_at.0
            ])?;
            Ok(())
        })
        .await
    }

    async fn session_user(
        &self,
        token: &TokenHash,
        now: Timestamp,
    ) -> StoreResult<Option<(Session, User)>> {
        let token = token.0.clone();
        self.read(move |conn| {
            Ok(conn
                .prepare_cached(sql::SESSION_USER)?
                .query_row(params![token, now.0], |r| {
                    Ok((rows::session(r)?, rows::user(r, 4)?))
                })
                .optional()?)
        })
        .await
    }

    async fn delete_session(&self, token: &TokenHash) -> StoreResult<bool> {
        let token = token.0.clone();
        self.write(move |conn| Ok(conn.prepare_cached(sql::SESSION_DELETE)?.execute([token])? > 0))
            .await
    }

    async fn delete_user_sessions(&self, user: UserId) -> StoreResult<u64> {
        self.write(move |conn| {
            let n = conn
                .prepare_cached(sql::SESSIONS_DELETE_OF_USER)?
                .execute([user.0])?;
            Ok(n as u64)
        })
        .await
    }

    async fn purge_expired_sessions(&self, now: Timestamp) -> StoreResult<u64> {
        self.write(move |conn| {
            let n = conn.prepare_cached(sql::SESSIONS_PURGE)?.execute([now.0])?;
            Ok(n as u64)
        })
        .await
    }
}
