//! `UserStore` for PostgreSQL: usernames unique case-insensitively through the `username_key`
//! column, deactivation and session removal in one transaction, and users of the host
//! application linked through the `external_id` column.

use crate::error::{backend, conflict_or_backend};
use crate::sql::user_columns;
use crate::{PostgresStore, sql};
use async_trait::async_trait;
use chat_core::{
    Conflict, Entity, NewUser, StoreError, StoreResult, Timestamp, TokenHash, User, UserId,
    UserQuery, UserStore,
};
use sqlx::Row;
use sqlx::postgres::PgRow;

/// Decodes a row with the columns of [`user_columns`].
pub(crate) fn user_from_row(row: &PgRow) -> Result<User, sqlx::Error> {
    Ok(User {
        id: UserId(row.try_get("id")?),
        username: row.try_get("username")?,
        password_hash: row.try_get("password_hash")?,
        is_admin: row.try_get("is_admin")?,
        is_active: row.try_get("is_active")?,
        created_at: Timestamp(row.try_get("created_at")?),
    })
}

impl PostgresStore {
    /// Inserts a user, linked to `external_id` when given. `Conflict(Username)` when the name
    /// is taken; `Conflict(ExternalId)` when the external id is linked already: no error from
    /// the database but no row, even when a concurrent insert of it commits first.
    async fn insert_user(&self, user: NewUser, external_id: Option<&str>) -> StoreResult<User> {
        let row = sqlx::query(concat!(
            "INSERT INTO users
                 (username, username_key, password_hash, is_admin, created_at, external_id)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (external_id) WHERE external_id IS NOT NULL DO NOTHING
             RETURNING ",
            user_columns!()
        ))
        .bind(&user.username)
        .bind(sql::fold(&user.username))
        .bind(&user.password_hash)
        .bind(user.is_admin)
        .bind(user.created_at.as_millis())
        .bind(external_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| conflict_or_backend(e, Conflict::Username))?
        .ok_or(StoreError::Conflict(Conflict::ExternalId))?;
        user_from_row(&row).map_err(backend)
    }
}

#[async_trait]
impl UserStore for PostgresStore {
    async fn create_user(&self, user: NewUser) -> StoreResult<User> {
        self.insert_user(user, None).await
    }

    async fn user(&self, id: UserId) -> StoreResult<Option<User>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            "FROM users WHERE id = $1"
        ))
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref().map(user_from_row).transpose().map_err(backend)
    }

    async fn user_by_name(&self, username: &str) -> StoreResult<Option<User>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            "FROM users WHERE username_key = $1"
        ))
        .bind(sql::fold(username))
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref().map(user_from_row).transpose().map_err(backend)
    }

    async fn list_users(&self, query: UserQuery) -> StoreResult<Vec<User>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            "FROM users
             WHERE ($1::text IS NULL OR strpos(username_key, $1) > 0)
               AND ($2::bigint IS NULL OR id > $2)
             ORDER BY id
             LIMIT $3"
        ))
        .bind(query.search.as_deref().map(sql::fold))
        .bind(query.after.map(|id| id.0))
        .bind(sql::limit(query.limit))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(user_from_row)
            .collect::<Result<_, _>>()
            .map_err(backend)
    }

    async fn set_user_active(&self, id: UserId, active: bool) -> StoreResult<User> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let row = sqlx::query(concat!(
            "UPDATE users SET is_active = $2 WHERE id = $1 RETURNING ",
            user_columns!()
        ))
        .bind(id.0)
        .bind(active)
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?
        .ok_or(StoreError::NotFound(Entity::User))?;
        if !active {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(id.0)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)?;
        user_from_row(&row).map_err(backend)
    }

    async fn set_password(
        &self,
        id: UserId,
        password_hash: String,
        keep: Option<TokenHash>,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let changed = sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
            .bind(id.0)
            .bind(password_hash)
            .execute(&mut *tx)
            .await
            .map_err(backend)?
            .rows_affected();
        if changed == 0 {
            return Err(StoreError::NotFound(Entity::User));
        }
        sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND token_hash IS DISTINCT FROM $2")
            .bind(id.0)
            .bind(keep.map(|t| t.0))
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(())
    }

    async fn set_user_admin(&self, id: UserId, admin: bool) -> StoreResult<User> {
        let row = sqlx::query(concat!(
            "UPDATE users SET is_admin = $2 WHERE id = $1 RETURNING ",
            user_columns!()
        ))
        .bind(id.0)
        .bind(admin)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?
        .ok_or(StoreError::NotFound(Entity::User))?;
        user_from_row(&row).map_err(backend)
    }

    async fn user_by_external_id(&self, external_id: &str) -> StoreResult<Option<User>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            "FROM users WHERE external_id = $1"
        ))
        .bind(external_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref().map(user_from_row).transpose().map_err(backend)
    }

    async fn create_external_user(&self, external_id: &str, user: NewUser) -> StoreResult<User> {
        self.insert_user(user, Some(external_id)).await
    }

    async fn rename_user(&self, id: UserId, username: &str) -> StoreResult<User> {
        let row = sqlx::query(concat!(
            "UPDATE users SET username = $2, username_key = $3 WHERE id = $1 RETURNING ",
            user_columns!()
        ))
        .bind(id.0)
        .bind(username)
        .bind(sql::fold(username))
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| conflict_or_backend(e, Conflict::Username))?
        .ok_or(StoreError::NotFound(Entity::User))?;
        user_from_row(&row).map_err(backend)
    }
}
