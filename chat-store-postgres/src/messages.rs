//! `MessageStore` for PostgreSQL: the per-room gap-free seq and idempotent posts.
//!
//! A post is one statement, hence one transaction and one round trip: `UPDATE rooms SET
//! last_seq = last_seq + 1 ... RETURNING last_seq` feeding the `INSERT` of the message. The row
//! lock taken by the update serializes the writers of one room, on every node, until commit; so
//! seqs are 1, 2, 3, ... with no gap (a failed insert rolls the counter back with it), and seq
//! N commits after seq N - 1, which makes a seq visible only once every lower seq is. A
//! repeated `(author, client_id)` hits the unique index, which waits for a concurrent insert
//! of the same pair to commit or abort; the violation (SQLSTATE 23505) aborts the statement,
//! counter increment included, and the first message is returned as a duplicate.

use crate::error::{backend, is_unique_violation, missing_or_backend};
use crate::{PgError, PostgresStore, sql};
use async_trait::async_trait;
use chat_core::{
    Entity, HistoryPage, Message, MessageId, MessageStore, NewMessage, Posted, RoomId, RoomStore,
    SearchQuery, Seq, StoreError, StoreResult, Timestamp, UserId,
};
use sqlx::Row;
use sqlx::postgres::PgRow;

/// How many times a post is tried when the message its `client_id` conflicted with vanished
/// before it could be read (its room was deleted meanwhile).
const POST_ATTEMPTS: usize = 3;

/// Decodes a row with the columns `id, room_id, seq, author_id, author_name, body, client_id,
/// created_at, edited_at, deleted`.
pub(crate) fn message_from_row(row: &PgRow) -> Result<Message, sqlx::Error> {
    Ok(Message {
        id: MessageId(row.try_get("id")?),
        room: RoomId(row.try_get("room_id")?),
        seq: Seq(row.try_get("seq")?),
        author: UserId(row.try_get("author_id")?),
        author_name: row.try_get("author_name")?,
        body: row.try_get("body")?,
        client_id: row.try_get("client_id")?,
        created_at: Timestamp(row.try_get("created_at")?),
        edited_at: row.try_get::<Option<i64>, _>("edited_at")?.map(Timestamp),
        deleted: row.try_get("deleted")?,
    })
}

/// Decodes every row with [`message_from_row`].
pub(crate) fn messages_from_rows(rows: &[PgRow]) -> StoreResult<Vec<Message>> {
    rows.iter()
        .map(message_from_row)
        .collect::<Result<_, _>>()
        .map_err(backend)
}

impl PostgresStore {
    /// The message `author` posted with `client_id`, if any.
    async fn message_by_client_id(
        &self,
        author: UserId,
        client_id: &str,
    ) -> StoreResult<Option<Message>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            sql::message_columns!(),
            "FROM messages m JOIN users u ON u.id = m.author_id
             WHERE m.author_id = $1 AND m.client_id = $2"
        ))
        .bind(author.0)
        .bind(client_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref()
            .map(message_from_row)
            .transpose()
            .map_err(backend)
    }

    /// The messages at these positions that exist, in no particular order: one query for a
    /// whole batch of notifications.
    pub(crate) async fn messages_at(&self, keys: &[(RoomId, Seq)]) -> StoreResult<Vec<Message>> {
        let rooms: Vec<i64> = keys.iter().map(|(r, _)| r.0).collect();
        let seqs: Vec<i64> = keys.iter().map(|(_, s)| s.0).collect();
        let rows = sqlx::query(concat!(
            "SELECT ",
            sql::message_columns!(),
            "FROM unnest($1::bigint[], $2::bigint[]) AS k(room_id, seq)
             JOIN messages m ON m.room_id = k.room_id AND m.seq = k.seq
             JOIN users u ON u.id = m.author_id"
        ))
        .bind(rooms)
        .bind(seqs)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        messages_from_rows(&rows)
    }
}

#[async_trait]
impl MessageStore for PostgresStore {
    async fn post_message(&self, message: NewMessage) -> StoreResult<Posted> {
        let lexemes = sql::body_lexemes(&message.body);
        for _ in 0..POST_ATTEMPTS {
            // One statement, so one implicit transaction: the counter increment commits with
            // the insert or not at all.
            let result = sqlx::query(
                "WITH r AS (
                     UPDATE rooms SET last_seq = last_seq + 1
                     WHERE id = $1
                       AND EXISTS (SELECT 1 FROM memberships WHERE room_id = $1 AND user_id = $2)
                     RETURNING id, last_seq
                 )
                 INSERT INTO messages (room_id, seq, author_id, body, client_id, created_at, search)
                 SELECT r.id, r.last_seq, $2, $3, $4, $5, array_to_tsvector($6::text[]) FROM r
                 RETURNING id, seq, (SELECT username FROM users WHERE id = $2) AS author_name",
            )
            .bind(message.room.0)
            .bind(message.author.0)
            .bind(&message.body)
            .bind(message.client_id.as_deref())
            .bind(message.created_at.as_millis())
            .bind(&lexemes)
            .fetch_optional(&self.pool)
            .await;
            let row = match result {
                Ok(row) => row,
                // `(author, client_id)` was taken by a committed message: return it below.
                Err(e) if is_unique_violation(&e) => None,
                Err(e) => return Err(missing_or_backend(e)),
            };
            if let Some(row) = row {
                let (id, seq, author_name) = (|| -> Result<(i64, i64, String), sqlx::Error> {
                    Ok((
                        row.try_get("id")?,
                        row.try_get("seq")?,
                        row.try_get("author_name")?,
                    ))
                })()
                .map_err(backend)?;
                return Ok(Posted {
                    message: Message {
                        id: MessageId(id),
                        room: message.room,
                        seq: Seq(seq),
                        author: message.author,
                        author_name,
                        body: message.body,
                        client_id: message.client_id,
                        created_at: message.created_at,
                        edited_at: None,
                        deleted: false,
                    },
                    duplicate: false,
                });
            }
            // Nothing inserted: the author is not a member, the client id was already used, or
            // the room is missing.
            if self.room_exists(message.room).await?
                && !self.is_member(message.room, message.author).await?
            {
                return Err(StoreError::NotMember);
            }
            if let Some(client_id) = message.client_id.as_deref()
                && let Some(original) = self.message_by_client_id(message.author, client_id).await?
            {
                return Ok(Posted {
                    message: original,
                    duplicate: true,
                });
            }
            if !self.room_exists(message.room).await? {
                return Err(StoreError::NotFound(Entity::Room));
            }
            // The message holding the client id vanished (its room was deleted) between the
            // failed insert and the read: try again.
        }
        Err(StoreError::backend(PgError::Contended("posting a message")))
    }

    async fn edit_message(
        &self,
        room: RoomId,
        seq: Seq,
        body: String,
        at: Timestamp,
    ) -> StoreResult<Message> {
        let row = sqlx::query(concat!(
            "WITH m AS (
                 UPDATE messages
                 SET body = $3, edited_at = $4, search = array_to_tsvector($5::text[])
                 WHERE room_id = $1 AND seq = $2 AND NOT deleted
                 RETURNING id, room_id, seq, author_id, body, client_id, created_at, edited_at,
                           deleted
             )
             SELECT ",
            sql::message_columns!(),
            "FROM m JOIN users u ON u.id = m.author_id"
        ))
        .bind(room.0)
        .bind(seq.0)
        .bind(&body)
        .bind(at.as_millis())
        .bind(sql::body_lexemes(&body))
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?
        .ok_or(StoreError::NotFound(Entity::Message))?;
        message_from_row(&row).map_err(backend)
    }

    async fn delete_message(&self, room: RoomId, seq: Seq) -> StoreResult<Message> {
        let row = sqlx::query(concat!(
            "WITH m AS (
                 UPDATE messages
                 SET deleted = TRUE, body = '', search = ''::tsvector
                 WHERE room_id = $1 AND seq = $2
                 RETURNING id, room_id, seq, author_id, body, client_id, created_at, edited_at,
                           deleted
             )
             SELECT ",
            sql::message_columns!(),
            "FROM m JOIN users u ON u.id = m.author_id"
        ))
        .bind(room.0)
        .bind(seq.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?
        .ok_or(StoreError::NotFound(Entity::Message))?;
        message_from_row(&row).map_err(backend)
    }

    async fn message(&self, room: RoomId, seq: Seq) -> StoreResult<Option<Message>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            sql::message_columns!(),
            "FROM messages m JOIN users u ON u.id = m.author_id
             WHERE m.room_id = $1 AND m.seq = $2"
        ))
        .bind(room.0)
        .bind(seq.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref()
            .map(message_from_row)
            .transpose()
            .map_err(backend)
    }

    async fn history(&self, room: RoomId, page: HistoryPage) -> StoreResult<Vec<Message>> {
        let limit = sql::limit(page.limit());
        let (rows, descending) = match page {
            HistoryPage::Latest { .. } => (
                sqlx::query(concat!(
                    "SELECT ",
                    sql::message_columns!(),
                    "FROM messages m JOIN users u ON u.id = m.author_id
                     WHERE m.room_id = $1
                     ORDER BY m.seq DESC
                     LIMIT $2"
                ))
                .bind(room.0)
                .bind(limit)
                .fetch_all(&self.pool)
                .await,
                true,
            ),
            HistoryPage::Before { seq, .. } => (
                sqlx::query(concat!(
                    "SELECT ",
                    sql::message_columns!(),
                    "FROM messages m JOIN users u ON u.id = m.author_id
                     WHERE m.room_id = $1 AND m.seq < $2
                     ORDER BY m.seq DESC
                     LIMIT $3"
                ))
                .bind(room.0)
                .bind(seq.0)
                .bind(limit)
                .fetch_all(&self.pool)
                .await,
                true,
            ),
            HistoryPage::After { seq, .. } => (
                sqlx::query(concat!(
                    "SELECT ",
                    sql::message_columns!(),
                    "FROM messages m JOIN users u ON u.id = m.author_id
                     WHERE m.room_id = $1 AND m.seq > $2
                     ORDER BY m.seq
                     LIMIT $3"
                ))
                .bind(room.0)
                .bind(seq.0)
                .bind(limit)
                .fetch_all(&self.pool)
                .await,
                false,
            ),
        };
        let mut messages = messages_from_rows(&rows.map_err(backend)?)?;
        if descending {
            messages.reverse();
        }
        Ok(messages)
    }

    async fn search(&self, query: SearchQuery) -> StoreResult<Vec<Message>> {
        self.search_messages(query).await
    }
}
