//! `RoomStore` for SQLite: case-insensitive unique room names through the `name_key` column,
//! the creator's membership written in the same transaction as the room, and room deletion
//! that removes messages (by cascade) and memberships, and has the indexer remove the room's
//! full-text entries.

use crate::error::DbResult;
use crate::indexer;
use crate::rows::{self, fold, limit};
use crate::users::{user_by_id, user_exists};
use crate::{SqliteStore, sql};
use async_trait::async_trait;
use chat_core::{
    ChatRoom, Conflict, Entity, Member, NewRoom, RoomId, RoomQuery, RoomStore, Seq, StoreError,
    StoreResult, Timestamp, UserId,
};
use rusqlite::{Connection, OptionalExtension, params};

/// Reads one room by id on any connection.
pub(crate) fn room_by_id(conn: &Connection, id: RoomId) -> DbResult<Option<ChatRoom>> {
    Ok(conn
        .prepare_cached(sql::ROOM_BY_ID)?
        .query_row([id.0], rows::room)
        .optional()?)
}

/// Whether a room exists.
pub(crate) fn room_exists(conn: &Connection, id: RoomId) -> DbResult<bool> {
    Ok(conn
        .prepare_cached(sql::ROOM_EXISTS)?
        .query_row([id.0], |r| r.get(0))?)
}

#[async_trait]
impl RoomStore for SqliteStore {
    async fn create_room(&self, new: NewRoom) -> StoreResult<ChatRoom> {
        self.write(move |conn| {
            let key = fold(&new.name);
            let taken: bool = conn
                .prepare_cached(sql::ROOM_KEY_TAKEN)?
                .query_row([&key], |r| r.get(0))?;
            if taken {
                return Err(StoreError::Conflict(Conflict::RoomName).into());
            }
            if user_by_id(conn, new.created_by)?.is_none() {
                return Err(StoreError::NotFound(Entity::User).into());
            }
            let id: i64 = conn.prepare_cached(sql::ROOM_INSERT)?.query_row(
                params![
                    new.name,
                    key,
                    new.description,
                    new.created_by.0,
                    new.created_at.0
                ],
                |r| r.get(0),
            )?;
            conn.prepare_cached(sql::MEMBER_INSERT)?.execute(params![
                id,
                new.created_by.0,
                new.created_at.0
            ])?;
            Ok(ChatRoom {
                id: RoomId(id),
                name: new.name,
                description: new.description,
                created_by: new.created_by,
                created_at: new.created_at,
                last_seq: Seq::ZERO,
            })
        })
        .await
    }

    async fn room(&self, id: RoomId) -> StoreResult<Option<ChatRoom>> {
        self.read(move |conn| room_by_id(conn, id)).await
    }

    async fn room_by_name(&self, name: &str) -> StoreResult<Option<ChatRoom>> {
        let key = fold(name);
        self.read(move |conn| {
            Ok(conn
                .prepare_cached(sql::ROOM_BY_KEY)?
                .query_row([key], rows::room)
                .optional()?)
        })
        .await
    }

    async fn list_rooms(&self, query: RoomQuery) -> StoreResult<Vec<ChatRoom>> {
        if query.limit == 0 {
            return Ok(Vec::new());
        }
        let needle = query.search.as_deref().map(fold).unwrap_or_default();
        let after = query.after_name.as_deref().map(fold);
        let n = limit(query.limit);
        self.read(move |conn| {
            let rooms = match after {
                None => conn
                    .prepare_cached(sql::ROOMS_LIST_FIRST)?
                    .query_map(params![needle, n], rows::room)?
                    .collect::<Result<Vec<_>, _>>()?,
                Some(after) => conn
                    .prepare_cached(sql::ROOMS_LIST_AFTER)?
                    .query_map(params![needle, n, after], rows::room)?
                    .collect::<Result<Vec<_>, _>>()?,
            };
            Ok(rooms)
        })
        .await
    }

    async fn set_room_description(&self, id: RoomId, description: String) -> StoreResult<ChatRoom> {
        self.write(move |conn| {
            let changed = conn
                .prepare_cached(sql::ROOM_SET_DESCRIPTION)?
                .execute(params![id.0, description])?;
            if changed == 0 {
                return Err(StoreError::NotFound(Entity::Room).into());
            }
            room_by_id(conn, id)?.ok_or_else(|| StoreError::NotFound(Entity::Room).into())
        })
        .await
    }

    async fn delete_room(&self, id: RoomId) -> StoreResult<()> {
        self.write(move |conn| {
            if !room_exists(conn, id)? {
                return Err(StoreError::NotFound(Entity::Room).into());
            }
            // The indexer removes the room's search entries.
            indexer::room_deleted(conn, id)?;
            // Messages and memberships go by ON DELETE CASCADE.
            conn.prepare_cached(sql::ROOM_DELETE)?.execute([id.0])?;
            conn.forget_room(id);
            Ok(())
        })
        .await
    }

    async fn add_member(&self, room: RoomId, user: UserId, at: Timestamp) -> StoreResult<bool> {
        self.write(move |conn| {
            if !room_exists(conn, room)? {
                return Err(StoreError::NotFound(Entity::Room).into());
            }
            if !user_exists(conn, user)? {
                return Err(StoreError::NotFound(Entity::User).into());
            }
            let added = conn
                .prepare_cached(sql::MEMBER_INSERT)?
                .execute(params![room.0, user.0, at.0])?;
            Ok(added > 0)
        })
        .await
    }

    async fn remove_member(&self, room: RoomId, user: UserId) -> StoreResult<bool> {
        self.write(move |conn| {
            conn.forget_member(room, user);
            let removed = conn
                .prepare_cached(sql::MEMBER_DELETE)?
                .execute(params![room.0, user.0])?;
            Ok(removed > 0)
        })
        .await
    }

    async fn is_member(&self, room: RoomId, user: UserId) -> StoreResult<bool> {
        self.read(move |conn| {
            Ok(conn
                .prepare_cached(sql::MEMBER_EXISTS)?
                .query_row(params![room.0, user.0], |r| r.get(0))?)
        })
        .await
    }

    async fn members(&self, room: RoomId) -> StoreResult<Vec<Member>> {
        self.read(move |conn| {
            let tx = conn.unchecked_transaction()?;
            if !room_exists(&tx, room)? {
                return Err(StoreError::NotFound(Entity::Room).into());
            }
            let members = tx
                .prepare_cached(sql::MEMBERS_OF_ROOM)?
                .query_map([room.0], rows::member)?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(members)
        })
        .await
    }

    async fn rooms_of(&self, user: UserId) -> StoreResult<Vec<ChatRoom>> {
        self.read(move |conn| {
            let rooms = conn
                .prepare_cached(sql::ROOMS_OF_USER)?
                .query_map([user.0], rows::room)?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rooms)
        })
        .await
    }
}
