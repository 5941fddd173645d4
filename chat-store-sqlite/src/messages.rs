//! `MessageStore` for SQLite (search is in [`crate::search`]): the per-room seq comes from the
//! writer's counter of `rooms.last_seq` (see [`crate::writer`]), taken inside the writer's
//! transaction, so seqs are gap-free and never repeat; a repeated post is found by its
//! (author, client_id) key, the partial unique index `messages_author_client`.

use crate::error::DbResult;
use crate::indexer;
use crate::rows::{self, limit};
use crate::writer::WriteTx;
use crate::{SqliteStore, sql};
use async_trait::async_trait;
use chat_core::{
    Entity, HistoryPage, Message, MessageId, MessageStore, NewMessage, PostListener, Posted,
    RoomId, SearchQuery, Seq, StoreError, StoreResult, Timestamp,
};
use rusqlite::{Connection, ErrorCode, OptionalExtension, params};
use std::sync::Arc;

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

/// The message an earlier post with the same author and client id created, if it still
/// exists (one deleted with its room leaves its key free). Without a client id, none.
fn original(conn: &Connection, new: &NewMessage) -> DbResult<Option<Posted>> {
    let Some(client_id) = new.client_id.as_deref() else {
        return Ok(None);
    };
    let message = conn
        .prepare_cached(sql::MESSAGE_BY_CLIENT_ID)?
        .query_row(params![new.author.0, client_id], rows::message)
        .optional()?;
    Ok(message.map(|message| Posted {
        message,
        duplicate: true,
    }))
}

/// The post itself, run by the writer inside the group transaction, without a savepoint: only
/// reads before the one INSERT. A repeat is refused by the unique index before anything is
/// written, then answered with the original, even when posted to another room, existing or
/// not (an original cannot exist for a missing author). The membership is checked before, as
/// the trait asks: a non-member is refused even for a repeated client id.
fn post(conn: &WriteTx<'_>, new: NewMessage) -> DbResult<Posted> {
    let Some(author_name) = conn.username(new.author)? else {
        return Err(StoreError::NotFound(Entity::User).into());
    };
    let Some(seq) = conn.next_seq(new.room)? else {
        if let Some(posted) = original(conn, &new)? {
            return Ok(posted);
        }
        return Err(StoreError::NotFound(Entity::Room).into());
    };
    if !conn.is_member(new.room, new.author)? {
        return Err(StoreError::NotMember.into());
    }
    let inserted = conn.prepare_cached(sql::MESSAGE_INSERT)?.execute(params![
        new.room.0,
        seq,
        new.author.0,
        new.body,
        new.client_id,
        new.created_at.0
    ]);
    if let Err(e) = inserted {
        if e.sqlite_error_code() == Some(ErrorCode::ConstraintViolation)
            && let Some(posted) = original(conn, &new)?
        {
            return Ok(posted);
        }
        return Err(e.into());
    }
    let id = conn.last_insert_rowid();
    conn.take_seq(new.room, seq);
    // Indexed for search by the indexer thread, which learns of it after COMMIT.
    conn.note_message(id);
    let posted = Posted {
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
    };
    conn.announce(&posted.message);
    Ok(posted)
}

fn not_found() -> crate::error::Fail {
    StoreError::NotFound(Entity::Message).into()
}

#[async_trait]
impl MessageStore for SqliteStore {
    async fn post_message(&self, message: NewMessage) -> StoreResult<Posted> {
        // Reads, then one single-row INSERT: no savepoint needed.
        self.write_single(move |conn| post(conn, message)).await
    }

    async fn post_messages(&self, messages: Vec<NewMessage>) -> Vec<StoreResult<Posted>> {
        // One job for all of them: one round trip to the writer, and the posts stay together
        // and in order in one group commit. Each post is its own single-row INSERT and writes
        // nothing when it fails, so the job itself never fails and needs no savepoint.
        let count = messages.len();
        let posted = self
            .write_single(move |conn| {
                Ok(messages
                    .into_iter()
                    .map(|message| post(conn, message).map_err(StoreError::from))
                    .collect::<Vec<_>>())
            })
            .await;
        match posted {
            Ok(results) => results,
            // The group transaction failed: none of them was written.
            Err(e) => {
                let why = e.to_string();
                (0..count)
                    .map(|_| match e {
                        StoreError::Closed => Err(StoreError::Closed),
                        _ => Err(StoreError::backend(std::io::Error::other(why.clone()))),
                    })
                    .collect()
            }
        }
    }

    fn announce_posts(&self, listener: Arc<dyn PostListener>) -> bool {
        self.inner_writer().announce_posts(listener)
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
            indexer::message_changed(conn, id)?;
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
            indexer::message_changed(conn, message.id.0)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Fail;
    use crate::writer::tests::{hold_writer, in_one_group};
    use chat_core::{NewRoom, NewUser, RoomStore, User, UserStore};
    use std::future::Future;
    use std::pin::Pin;

    async fn setup(store: &SqliteStore) -> (User, RoomId, RoomId) {
        let user = store
            .create_user(NewUser {
                username: "u".into(),
                password_hash: "x".into(),
                is_admin: false,
                created_at: Timestamp(0),
            })
            .await
            .unwrap();
        let mut rooms = Vec::new();
        for name in ["a", "b"] {
            let room = store
                .create_room(NewRoom {
                    name: name.into(),
                    description: String::new(),
                    created_by: user.id,
                    created_at: Timestamp(0),
                })
                .await
                .unwrap();
            rooms.push(room.id);
        }
        (user, rooms[0], rooms[1])
    }

    fn new(room: RoomId, user: &User, body: &str) -> NewMessage {
        NewMessage {
            room,
            author: user.id,
            body: body.into(),
            client_id: Some(body.into()),
            created_at: Timestamp(0),
        }
    }

    /// A request of a group made with [`in_one_group`]: a post's answer, or `None` for
    /// another request that succeeded.
    type Request = Pin<Box<dyn Future<Output = StoreResult<Option<Posted>>> + Send>>;

    fn post_to(store: &SqliteStore, room: RoomId, user: &User, body: &str) -> Request {
        let (store, message) = (store.clone(), new(room, user, body));
        Box::pin(async move { store.post_message(message).await.map(Some) })
    }

    async fn seqs(store: &SqliteStore, room: RoomId) -> (Vec<i64>, i64) {
        let page = store
            .history(room, HistoryPage::Latest { limit: 100 })
            .await
            .unwrap();
        let last = store.room(room).await.unwrap().unwrap().last_seq.0;
        (page.iter().map(|m| m.seq.0).collect(), last)
    }

    /// The writer's in-memory seq counters follow every rollback: a request rolled back to
    /// its savepoint between posts of the same group, a failed post, a deleted room, and a
    /// whole group that fails.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn seq_counters_survive_rollbacks() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("s.db")).await.unwrap();
        let (user, a, b) = setup(&store).await;

        // One group: posts around a request that moves last_seq and then fails, a post to
        // a missing room, and the deletion of room b after a post to it.
        let (busy, release) = hold_writer(store.inner_writer()).await;
        let failing: Request = {
            let store = store.clone();
            Box::pin(async move {
                store
                    .write(move |c| {
                        c.execute("UPDATE rooms SET last_seq = 100 WHERE id = ?1", [a.0])?;
                        Err::<(), Fail>(StoreError::Conflict(chat_core::Conflict::RoomName).into())
                    })
                    .await
                    .map(|()| None)
            })
        };
        let delete_b: Request = {
            let store = store.clone();
            Box::pin(async move { store.delete_room(b).await.map(|()| None) })
        };
        let requests = vec![
            post_to(&store, a, &user, "1"),
            post_to(&store, a, &user, "2"),
            failing,
            post_to(&store, a, &user, "3"),
            post_to(&store, RoomId(999), &user, "x"),
            post_to(&store, b, &user, "b1"),
            delete_b,
            post_to(&store, a, &user, "4"),
        ];
        let [p1, p2, f, p3, missing, pb, del, p4]: [_; 8] =
            in_one_group(requests, release).await.try_into().unwrap();
        busy.await.unwrap().unwrap();
        assert!(f.is_err());
        assert!(matches!(missing, Err(StoreError::NotFound(Entity::Room))));
        assert_eq!(pb.unwrap().unwrap().message.seq, Seq(1));
        assert!(del.unwrap().is_none());
        let got: Vec<i64> = [p1, p2, p3, p4]
            .into_iter()
            .map(|p| p.unwrap().unwrap().message.seq.0)
            .collect();
        assert_eq!(got, [1, 2, 3, 4]);
        assert_eq!(seqs(&store, a).await, (vec![1, 2, 3, 4], 4));
        assert!(store.room(b).await.unwrap().is_none());
        assert!(matches!(
            store.post_message(new(b, &user, "b2")).await,
            Err(StoreError::NotFound(Entity::Room))
        ));
        // Repeats are answered with the original, found after the unique index refused the
        // INSERT (or, for a missing room, by looking the client id up), and take no seq.
        let (again, again_elsewhere, fresh) = tokio::join!(
            store.post_message(new(a, &user, "2")),
            store.post_message(new(b, &user, "3")),
            store.post_message(new(a, &user, "fresh")),
        );
        let (again, again_elsewhere) = (again.unwrap(), again_elsewhere.unwrap());
        assert!(again.duplicate && again.message.seq == Seq(2) && again.message.room == a);
        assert!(again_elsewhere.duplicate && again_elsewhere.message.seq == Seq(3));
        assert_eq!(fresh.unwrap().message.seq, Seq(5));
        assert_eq!(seqs(&store, a).await, (vec![1, 2, 3, 4, 5], 5));

        // A group that fails as a whole: its posts are answered with an error and their
        // seqs are handed out again.
        let (busy, release) = hold_writer(store.inner_writer()).await;
        let boom: Request = {
            let store = store.clone();
            Box::pin(async move {
                store
                    .write(|c| {
                        c.execute_batch("ROLLBACK")?;
                        Ok(None)
                    })
                    .await
            })
        };
        let requests = vec![
            post_to(&store, a, &user, "5"),
            boom,
            post_to(&store, a, &user, "6"),
        ];
        let [p5, boom, p6]: [_; 3] = in_one_group(requests, release).await.try_into().unwrap();
        busy.await.unwrap().unwrap();
        assert!(
            p5.is_err() && boom.is_err() && p6.is_err(),
            "{p5:?} {boom:?} {p6:?}"
        );
        assert_eq!(seqs(&store, a).await, (vec![1, 2, 3, 4, 5], 5));
        let p7 = store.post_message(new(a, &user, "7")).await.unwrap();
        assert_eq!(p7.message.seq, Seq(6));
        assert_eq!(seqs(&store, a).await, (vec![1, 2, 3, 4, 5, 6], 6));
        store.close().await.unwrap();
    }
}
