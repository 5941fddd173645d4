//! Turning rows into domain values, in one place so every query reads a record the same way
//! (the column lists they expect are in [`crate::sql`]).

use chat_core::{
    ChatRoom, Member, Message, MessageId, RoomId, Seq, Session, Timestamp, TokenHash, User, UserId,
};
use rusqlite::Row;

/// Reads a [`User`] from the user columns of [`crate::sql`] starting at column `at`.
pub(crate) fn user(row: &Row<'_>, at: usize) -> rusqlite::Result<User> {
    Ok(User {
        id: UserId(row.get(at)?),
        username: row.get(at + 1)?,
        password_hash: row.get(at + 2)?,
        is_admin: row.get(at + 3)?,
        is_active: row.get(at + 4)?,
        created_at: Timestamp(row.get(at + 5)?),
    })
}

/// Reads a [`Session`] from the session columns of [`crate::sql`].
pub(crate) fn session(row: &Row<'_>) -> rusqlite::Result<Session> {
    Ok(Session {
        token_hash: TokenHash(row.get(0)?),
        user_id: UserId(row.get(1)?),
        created_at: Timestamp(row.get(2)?),
        expires_at: Timestamp(row.get(3)?),
    })
}

/// Reads a [`ChatRoom`] from the room columns of [`crate::sql`].
pub(crate) fn room(row: &Row<'_>) -> rusqlite::Result<ChatRoom> {
    Ok(ChatRoom {
        id: RoomId(row.get(0)?),
        name: row.get(1)?,
        description: row.get(2)?,
        created_by: UserId(row.get(3)?),
        created_at: Timestamp(row.get(4)?),
        last_seq: Seq(row.get(5)?),
    })
}

/// Reads a [`Member`] from the member columns of [`crate::sql`].
pub(crate) fn member(row: &Row<'_>) -> rusqlite::Result<Member> {
    Ok(Member {
        user_id: UserId(row.get(0)?),
        username: row.get(1)?,
        joined_at: Timestamp(row.get(2)?),
    })
}

/// Reads a [`Message`] from the message columns of [`crate::sql`].
pub(crate) fn message(row: &Row<'_>) -> rusqlite::Result<Message> {
    Ok(Message {
        id: MessageId(row.get(0)?),
        room: RoomId(row.get(1)?),
        seq: Seq(row.get(2)?),
        author: UserId(row.get(3)?),
        author_name: row.get(4)?,
        body: row.get(5)?,
        client_id: row.get(6)?,
        created_at: Timestamp(row.get(7)?),
        edited_at: row.get::<_, Option<i64>>(8)?.map(Timestamp),
        deleted: row.get(9)?,
    })
}

/// The case-folded key under which usernames and room names are unique (the same fold as
/// the memory store: full Unicode lower-casing).
pub(crate) fn fold(name: &str) -> String {
    name.to_lowercase()
}

/// A page limit as SQLite wants it.
pub(crate) fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
