//! `UserStore` for SQLite: case-insensitive unique usernames through the `username_key`
//! column, deactivation that deletes the user's sessions in the same transaction, and users
//! of the host application linked through the `external_id` column.

use crate::error::DbResult;
use crate::rows::{self, fold, limit};
use crate::{SqliteStore, sql};
use async_trait::async_trait;
use chat_core::{
    Conflict, Entity, NewUser, StoreError, StoreResult, TokenHash, User, UserId, UserQuery,
    UserStore,
};
use rusqlite::{Connection, OptionalExtension, params};

/// Reads one user by id on any connection.
pub(crate) fn user_by_id(conn: &Connection, id: UserId) -> DbResult<Option<User>> {
    Ok(conn
        .prepare_cached(sql::USER_BY_ID)?
        .query_row([id.0], |r| rows::user(r, 0))
        .optional()?)
}

/// Whether a user exists.
pub(crate) fn user_exists(conn: &Connection, id: UserId) -> DbResult<bool> {
    Ok(conn
        .prepare_cached(sql::USER_EXISTS)?
        .query_row([id.0], |r| r.get(0))?)
}

/// Sets one flag column of a user and returns the user; `NotFound(User)` when absent.
fn set_flag(conn: &Connection, statement: &str, id: UserId, value: bool) -> DbResult<User> {
    let changed = conn
        .prepare_cached(statement)?
        .execute(params![id.0, value])?;
    if changed == 0 {
        return Err(StoreError::NotFound(Entity::User).into());
    }
    user_by_id(conn, id)?.ok_or_else(|| StoreError::NotFound(Entity::User).into())
}

/// Inserts a user, linked to `external_id` when given; `Conflict(Username)` when the name is
/// taken in any letter case. Runs on the writer (the check and the insert cannot race).
fn insert_user(conn: &Connection, new: NewUser, external_id: Option<&str>) -> DbResult<User> {
    let key = fold(&new.username);
    let taken: bool = conn
        .prepare_cached(sql::USER_KEY_TAKEN)?
        .query_row([&key], |r| r.get(0))?;
    if taken {
        return Err(StoreError::Conflict(Conflict::Username).into());
    }
    let id: i64 = conn.prepare_cached(sql::USER_INSERT)?.query_row(
        params![
            new.username,
            key,
            new.password_hash,
            new.is_admin,
            new.created_at.0,
            external_id
        ],
        |r| r.get(0),
    )?;
    Ok(User {
        id: UserId(id),
        username: new.username,
        password_hash: new.password_hash,
        is_admin: new.is_admin,
        is_active: true,
        created_at: new.created_at,
    })
}

/// Reads the user linked to an external id on any connection.
fn user_by_external_id(conn: &Connection, external_id: &str) -> DbResult<Option<User>> {
    Ok(conn
        .prepare_cached(sql::USER_BY_EXTERNAL_ID)?
        .query_row([external_id], |r| rows::user(r, 0))
        .optional()?)
}

#[async_trait]
impl UserStore for SqliteStore {
    async fn create_user(&self, new: NewUser) -> StoreResult<User> {
        self.write(move |conn| insert_user(conn, new, None)).await
    }

    async fn user(&self, id: UserId) -> StoreResult<Option<User>> {
        self.read(move |conn| user_by_id(conn, id)).await
    }

    async fn user_by_name(&self, username: &str) -> StoreResult<Option<User>> {
        let key = fold(username);
        self.read(move |conn| {
            Ok(conn
                .prepare_cached(sql::USER_BY_KEY)?
                .query_row([key], |r| rows::user(r, 0))
                .optional()?)
        })
        .await
    }

    async fn list_users(&self, query: UserQuery) -> StoreResult<Vec<User>> {
        if query.limit == 0 {
            return Ok(Vec::new());
        }
        let needle = query.search.as_deref().map(fold).unwrap_or_default();
        let after = query.after.map_or(i64::MIN, |id| id.0);
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(sql::USERS_LIST)?;
            let users = stmt
                .query_map(params![after, needle, limit(query.limit)], |r| {
                    rows::user(r, 0)
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(users)
        })
        .await
    }

    async fn set_user_active(&self, id: UserId, active: bool) -> StoreResult<User> {
        self.write(move |conn| {
            let user = set_flag(conn, sql::USER_SET_ACTIVE, id, active)?;
            if !active {
                conn.prepare_cached(sql::SESSIONS_DELETE_OF_USER)?
                    .execute([id.0])?;
            }
            Ok(user)
        })
        .await
    }

    async fn set_password(
        &self,
        id: UserId,
        password_hash: String,
        keep: Option<TokenHash>,
    ) -> StoreResult<()> {
        self.write(move |conn| {
            let changed = conn
                .prepare_cached(sql::USER_SET_PASSWORD)?
                .execute(params![id.0, password_hash])?;
            if changed == 0 {
                return Err(StoreError::NotFound(Entity::User).into());
            }
            conn.prepare_cached(sql::SESSIONS_DELETE_OF_USER_BUT)?
                .execute(params![id.0, keep.map(|t| t.0)])?;
            Ok(())
        })
        .await
    }

    async fn set_user_admin(&self, id: UserId, admin: bool) -> StoreResult<User> {
        self.write(move |conn| set_flag(conn, sql::USER_SET_ADMIN, id, admin))
            .await
    }

    async fn user_by_external_id(&self, external_id: &str) -> StoreResult<Option<User>> {
        let external_id = external_id.to_owned();
        self.read(move |conn| user_by_external_id(conn, &external_id))
            .await
    }

    async fn create_external_user(&self, external_id: &str, new: NewUser) -> StoreResult<User> {
        let external_id = external_id.to_owned();
        self.write(move |conn| {
            if user_by_external_id(conn, &external_id)?.is_some() {
                return Err(StoreError::Conflict(Conflict::ExternalId).into());
            }
            insert_user(conn, new, Some(&external_id))
        })
        .await
    }

    async fn rename_user(&self, id: UserId, username: &str) -> StoreResult<User> {
        let username = username.to_owned();
        self.write(move |conn| {
            if !user_exists(conn, id)? {
                return Err(StoreError::NotFound(Entity::User).into());
            }
            let key = fold(&username);
            let owner: Option<i64> = conn
                .prepare_cached(sql::USER_ID_BY_KEY)?
                .query_row([&key], |r| r.get(0))
                .optional()?;
            if owner.is_some_and(|owner| owner != id.0) {
                return Err(StoreError::Conflict(Conflict::Username).into());
            }
            conn.prepare_cached(sql::USER_RENAME)?
                .execute(params![id.0, username, key])?;
            // Posts from now on carry the new name.
            conn.forget_username(id);
            user_by_id(conn, id)?.ok_or_else(|| StoreError::NotFound(Entity::User).into())
        })
        .await
    }
}
