//! `MessageStore` for SQLite (search is in [`crate::search`]): the per-room seq is taken from
//! `rooms.last_seq` and bumped inside the writer's transaction, so seqs are gap-free and never
//! repeat; idempotent posts are found by the unique (author, client_id) index.

use crate::error::DbResult;
use crate::rows::{self, limit};
use crate::search::{fts_insert, fts_remove};
use crate::writer::WriteTx;
use crate::{SqliteStore, sql};
use async_trait::async_trait;
use chat_core::{
    Entity, HistoryPage, Message, MessageId, MessageStore, NewMessage, Posted, RoomId, SearchQuery,
    Seq, StoreError, StoreResult, Timestamp,
};
use rusqlite::{Connection, OptionalExtension, params};

/// One message by position, on any connection.
fn message_by_seq(conn: &Connection, room: RoomId, seq: Seq) -> DbResult<Option<Message>> {
    Ok(conn
        .prepare_cached(sql::MESSAGE_BY_SEQ)?
        .query_row(params![room.0, seq.0], rows::message)
        .optional()?)
}

/// One message by id, on any connection.
fn message_by_id(conn: &Connection, id: i64) -> DbResult<Option<Message>> {
    Ok(conn
        .prepare_cached(sql::MESSAGE_BY_ID)?
        .query_row([id], rows::message)
        .optional()?)
}

/// The post itself, run by the writer inside the group transaction.
fn post(conn: &WriteTx<'_>, new: NewMessage) -> DbResult<Posted> {
    if let Some(client_id) = &new.client_id {
        let original: Option<i64> = conn
            .prepare_cached(sql::MESSAGE_ID_BY_CLIENT_ID)?
            .query_row(params![new.author.0, client_id], |r| r.get(0))
            .optional()?;
        if let Some(id) = original {
            let message = message_by_id(conn, id)?.ok_or_else(not_found)?;
            return Ok(Posted {
                message,
                duplicate: true,
            });
        }
    }
    let author_name: Option<String> = conn
        .prepare_cached(sql::USERNAME_BY_ID)?
        .query_row([new.author.0], |r| r.get(0))
        .optional()?;
    let Some(author_name) = author_name else {
        return Err(StoreError::NotFound(Entity::User).into());
    };
    let seq: Option<i64> = conn
        .prepare_cached(sql::ROOM_NEXT_SEQ)?
        .query_row([new.room.0], |r| r.get(0))
        .optional()?;
    let Some(seq) = seq else {
        return Err(StoreError::NotFound(Entity::Room).into());
    };
    let id: i64 = conn.prepare_cached(sql::MESSAGE_INSERT)?.query_row(
        params![
            new.room.0,
            seq,
            new.author.0,
            new.body,
            new.client_id,
            new.created_at.0
        ],
        |r| r.get(0),
    )?;
    fts_insert(conn, id, new.room, &new.body);
    Ok(Posted {
        message: Message {
            id: MessageId(id),
            room: new.room,
            seq: Seq(seq),
            author: new.author,
            author_name,
            body: new.body,
            client_id: new.client_id,
            created_at: new.created_at,
            edited_at: None,
            deleted: false,
        },
        duplicate: false,
    })
}

fn not_found() -> crate::error::Fail {
    StoreError::NotFound(Entity::Message).into()
}

#[async_trait]
impl MessageStore for SqliteStore {
    async fn post_message(&self, message: NewMessage) -> StoreResult<Posted> {
        self.write(move |conn| post(conn, message)).await
    }

    async fn edit_message(
        &self,
        room: RoomId,
        seq: Seq,
        body: String,
        at: Timestamp,
    ) -> StoreResult<Message> {
        self.write(move |conn| {
            let id: Option<i64> = conn
                .prepare_cached(sql::MESSAGE_EDIT)?
                .query_row(params![room.0, seq.0, body, at.0], |r| r.get(0))
                .optional()?;
            let id = id.ok_or_else(not_found)?;
            fts_remove(conn, id);
            fts_insert(conn, id, room, &body);
            message_by_id(conn, id)?.ok_or_else(not_found)
        })
        .await
    }

    async fn delete_message(&self, room: RoomId, seq: Seq) -> StoreResult<Message> {
        self.write(move |conn| {
            let message = message_by_seq(conn, room, seq)?.ok_or_else(not_found)?;
            if message.deleted {
                return Ok(message);
            }
            conn.prepare_cached(sql::MESSAGE_SOFT_DELETE)?
                .execute([message.id.0])?;
            fts_remove(conn, message.id.0);
            Ok(Message {
                body: String::new(),
                deleted: true,
                ..message
            })
        })
        .await
    }

    async fn message(&self, room: RoomId, seq: Seq) -> StoreResult<Option<Message>> {
        self.read(move |conn| message_by_seq(conn, room, seq)).await
    }

    async fn history(&self, room: RoomId, page: HistoryPage) -> StoreResult<Vec<Message>> {
        let n = limit(page.limit());
        if n == 0 {
            return Ok(Vec::new());
        }
        self.read(move |conn| {
            let collect = |sql: &str, p: &[&dyn rusqlite::ToSql]| -> DbResult<Vec<Message>> {
                Ok(conn
                    .prepare_cached(sql)?
                    .query_map(p, rows::message)?
                    .collect::<Result<Vec<_>, _>>()?)
            };
            let messages = match page {
                HistoryPage::Latest { .. } => {
                    let mut page = collect(sql::HISTORY_LATEST, &[&room.0, &n])?;
                    page.reverse();
                    page
                }
                HistoryPage::Before { seq, .. } => {
                    let mut page = collect(sql::HISTORY_BEFORE, &[&room.0, &seq.0, &n])?;
                    page.reverse();
                    page
                }
                HistoryPage::After { seq, .. } => {
                    collect(sql::HISTORY_AFTER, &[&room.0, &seq.0, &n])?
                }
            };
            Ok(messages)
        })
        .await
    }

    async fn search(&self, query: SearchQuery) -> StoreResult<Vec<Message>> {
        crate::search::search(self, query).await
    }
}
