//! `RoomStore` for PostgreSQL: room names unique case-insensitively through the `name_key`
//! column, the creator's membership inserted in the room's transaction, memberships in join
//! order.

use crate::error::{backend, conflict_or_backend, foreign_key_violation, missing_or_backend};
use crate::{PostgresStore, sql};
use async_trait::async_trait;
use chat_core::{
    ChatRoom, Conflict, Entity, Member, NewRoom, RoomId, RoomQuery, RoomStore, Seq, StoreError,
    StoreResult, Timestamp, UserId,
};
use sqlx::Row;
use sqlx::postgres::PgRow;

/// Decodes a row with the columns `id, name, description, created_by, created_at, last_seq`.
pub(crate) fn room_from_row(row: &PgRow) -> Result<ChatRoom, sqlx::Error> {
    Ok(ChatRoom {
        id: RoomId(row.try_get("id")?),
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        created_by: UserId(row.try_get("created_by")?),
        created_at: Timestamp(row.try_get("created_at")?),
        last_seq: Seq(row.try_get("last_seq")?),
    })
}

fn rooms_from_rows(rows: &[PgRow]) -> StoreResult<Vec<ChatRoom>> {
    rows.iter()
        .map(room_from_row)
        .collect::<Result<_, _>>()
        .map_err(backend)
}

impl PostgresStore {
    pub(crate) async fn room_exists(&self, id: RoomId) -> StoreResult<bool> {
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM rooms WHERE id = $1)")
            .bind(id.0)
            .fetch_one(&self.pool)
            .await
            .map_err(backend)
    }
}

#[async_trait]
impl RoomStore for PostgresStore {
    async fn create_room(&self, room: NewRoom) -> StoreResult<ChatRoom> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let row = sqlx::query(
            "INSERT INTO rooms (name, name_key, description, created_by, created_at)
             VALUES ($1, $2, $3, $4, $5)
             RETURNING id, name, description, created_by, created_at, last_seq",
        )
        .bind(&room.name)
        .bind(sql::fold(&room.name))
        .bind(&room.description)
        .bind(room.created_by.0)
        .bind(room.created_at.as_millis())
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| conflict_or_backend(e, Conflict::RoomName))?;
        let created = room_from_row(&row).map_err(backend)?;
        sqlx::query("INSERT INTO memberships (room_id, user_id, joined_at) VALUES ($1, $2, $3)")
            .bind(created.id.0)
            .bind(room.created_by.0)
            .bind(room.created_at.as_millis())
            .execute(&mut *tx)
            .await
            .map_err(missing_or_backend)?;
        tx.commit()
            .await
            .map_err(|e| conflict_or_backend(e, Conflict::RoomName))?;
        Ok(created)
    }

    async fn room(&self, id: RoomId) -> StoreResult<Option<ChatRoom>> {
        let row = sqlx::query(
            "SELECT id, name, description, created_by, created_at, last_seq
             FROM rooms WHERE id = $1",
        )
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref().map(room_from_row).transpose().map_err(backend)
    }

    async fn room_by_name(&self, name: &str) -> StoreResult<Option<ChatRoom>> {
        let row = sqlx::query(
            "SELECT id, name, description, created_by, created_at, last_seq
             FROM rooms WHERE name_key = $1",
        )
        .bind(sql::fold(name))
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref().map(room_from_row).transpose().map_err(backend)
    }

    async fn list_rooms(&self, query: RoomQuery) -> StoreResult<Vec<ChatRoom>> {
        let rows = sqlx::query(
            r#"SELECT id, name, description, created_by, created_at, last_seq
             FROM rooms
             WHERE ($1::text IS NULL OR strpos(name_key, $1) > 0)
               AND ($2::text IS NULL OR name_key > ($2::text COLLATE "C"))
             ORDER BY name_key
             LIMIT $3"#,
        )
        .bind(query.search.as_deref().map(sql::fold))
        .bind(query.after_name.as_deref().map(sql::fold))
        .bind(sql::limit(query.limit))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rooms_from_rows(&rows)
    }

    async fn set_room_description(&self, id: RoomId, description: String) -> StoreResult<ChatRoom> {
        let row = sqlx::query(
            "UPDATE rooms SET description = $2 WHERE id = $1
             RETURNING id, name, description, created_by, created_at, last_seq",
        )
        .bind(id.0)
        .bind(&description)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?
        .ok_or(StoreError::NotFound(Entity::Room))?;
        room_from_row(&row).map_err(backend)
    }

    async fn delete_room(&self, id: RoomId) -> StoreResult<()> {
        // Messages and memberships go with it (ON DELETE CASCADE), in the same statement.
        let done = sqlx::query("DELETE FROM rooms WHERE id = $1")
            .bind(id.0)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(Entity::Room));
        }
        Ok(())
    }

    async fn add_member(&self, room: RoomId, user: UserId, at: Timestamp) -> StoreResult<bool> {
        let result = sqlx::query(
            "INSERT INTO memberships (room_id, user_id, joined_at) VALUES ($1, $2, $3)
             ON CONFLICT (room_id, user_id) DO NOTHING",
        )
        .bind(room.0)
        .bind(user.0)
        .bind(at.as_millis())
        .execute(&self.pool)
        .await;
        match result {
            Ok(done) => Ok(done.rows_affected() > 0),
            Err(e) if foreign_key_violation(&e).is_some() => {
                // Report the room first when both are missing, like the other stores.
                if self.room_exists(room).await? {
                    Err(StoreError::NotFound(Entity::User))
                } else {
                    Err(StoreError::NotFound(Entity::Room))
                }
            }
            Err(e) => Err(backend(e)),
        }
    }

    async fn remove_member(&self, room: RoomId, user: UserId) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM memberships WHERE room_id = $1 AND user_id = $2")
            .bind(room.0)
            .bind(user.0)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(done.rows_affected() > 0)
    }

    async fn is_member(&self, room: RoomId, user: UserId) -> StoreResult<bool> {
        sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM memberships WHERE room_id = $1 AND user_id = $2)",
        )
        .bind(room.0)
        .bind(user.0)
        .fetch_one(&self.pool)
        .await
        .map_err(backend)
    }

    async fn members(&self, room: RoomId) -> StoreResult<Vec<Member>> {
        let rows = sqlx::query(
            "SELECT m.user_id, u.username, m.joined_at
             FROM memberships m JOIN users u ON u.id = m.user_id
             WHERE m.room_id = $1
             ORDER BY m.id",
        )
        .bind(room.0)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        if rows.is_empty() && !self.room_exists(room).await? {
            return Err(StoreError::NotFound(Entity::Room));
        }
        rows.iter()
            .map(|row| {
                Ok(Member {
                    user_id: UserId(row.try_get("user_id")?),
                    username: row.try_get("username")?,
                    joined_at: Timestamp(row.try_get("joined_at")?),
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(backend)
    }

    async fn rooms_of(&self, user: UserId) -> StoreResult<Vec<ChatRoom>> {
        let rows = sqlx::query(
            "SELECT r.id, r.name, r.description, r.created_by, r.created_at, r.last_seq
             FROM memberships m JOIN rooms r ON r.id = m.room_id
             WHERE m.user_id = $1
             ORDER BY r.name_key",
        )
        .bind(user.0)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rooms_from_rows(&rows)
    }
}
