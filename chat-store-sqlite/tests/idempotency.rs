//! Idempotency keys, the partial unique index on `messages (author_id, client_id)`: a repeat is
//! answered with the original (after a restart too), a key whose message was deleted with its
//! room can be used again, and databases of schema versions 2 and 3 keep their keys when
//! migrated.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chat_core::{
    ChatRoom, Message, MessageStore, NewMessage, NewRoom, NewUser, Posted, RoomId, RoomStore, Seq,
    Timestamp, User, UserStore,
};
use chat_store_sqlite::SqliteStore;
use rusqlite::Connection;
use std::path::Path;

async fn open(path: &Path) -> SqliteStore {
    SqliteStore::open(path).await.unwrap()
}

async fn user(store: &SqliteStore, name: &str) -> User {
    store
        .create_user(NewUser {
            username: name.into(),
            password_hash: "x".into(),
            is_admin: false,
            created_at: Timestamp(1),
        })
        .await
        .unwrap()
}

async fn room(store: &SqliteStore, name: &str, members: &[&User]) -> ChatRoom {
    let room = store
        .create_room(NewRoom {
            name: name.into(),
            description: String::new(),
            created_by: members[0].id,
            created_at: Timestamp(1),
        })
        .await
        .unwrap();
    for m in members {
        store.add_member(room.id, m.id, Timestamp(1)).await.unwrap();
    }
    room
}

async fn post(store: &SqliteStore, room: RoomId, author: &User, client_id: &str) -> Posted {
    store
        .post_message(NewMessage {
            room,
            author: author.id,
            body: format!("{} says {client_id}", author.username),
            client_id: Some(client_id.into()),
            created_at: Timestamp(2),
        })
        .await
        .unwrap()
}

/// Sends `original`'s client id again (to `room`) and checks the answer is the original.
async fn assert_repeat(store: &SqliteStore, room: RoomId, author: &User, original: &Message) {
    let cid = original.client_id.as_deref().unwrap();
    let again = post(store, room, author, cid).await;
    assert!(again.duplicate, "{cid} was stored twice");
    assert_eq!(&again.message, original);
}

/// Whether the schema has an object named `name`; the store must be closed.
fn has(path: &Path, name: &str) -> bool {
    Connection::open(path)
        .unwrap()
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE name = ?1",
            [name],
            |r| r.get::<_, i64>(0),
        )
        .unwrap()
        > 0
}

#[tokio::test]
async fn repeats_are_answered_with_the_original_after_a_restart_too() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chat.db");
    let store = open(&path).await;
    let ann = user(&store, "ann").await;
    let bob = user(&store, "bob").await;
    let room = room(&store, "room", &[&ann, &bob]).await;
    let mut originals = Vec::new();
    for n in 0..23 {
        let author = if n % 3 == 0 { &bob } else { &ann };
        let first = post(&store, room.id, author, &format!("k{n}")).await;
        assert!(!first.duplicate);
        originals.push((author.clone(), first.message));
    }
    for (author, original) in &originals {
        assert_repeat(&store, room.id, author, original).await;
    }
    // Keys are per author.
    let (_, ann_k1) = &originals[1];
    assert!(!post(&store, room.id, &bob, "k1").await.duplicate);
    assert_ne!(ann_k1.author, bob.id);
    store.close().await.unwrap();

    let store = open(&path).await;
    for (author, original) in &originals {
        assert_repeat(&store, room.id, author, original).await;
    }
    assert_eq!(
        store.room(room.id).await.unwrap().unwrap().last_seq,
        Seq(24)
    );
    store.close().await.unwrap();
}

#[tokio::test]
async fn a_key_whose_message_was_deleted_with_its_room_is_free_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chat.db");
    let store = open(&path).await;
    let ann = user(&store, "ann").await;
    let old = room(&store, "old", &[&ann]).await;
    let new = room(&store, "new", &[&ann]).await;
    post(&store, old.id, &ann, "k").await;
    store.delete_room(old.id).await.unwrap();
    let fresh = post(&store, new.id, &ann, "k").await;
    assert!(!fresh.duplicate, "the key is free again");
    assert_eq!((fresh.message.room, fresh.message.seq), (new.id, Seq(1)));
    assert_repeat(&store, new.id, &ann, &fresh.message).await;
    store.close().await.unwrap();
    let store = open(&path).await;
    assert_repeat(&store, new.id, &ann, &fresh.message).await;
    store.close().await.unwrap();
}

/// Five posts with a client id and one without; returns the first five.
async fn five_keys(path: &Path) -> (User, ChatRoom, Vec<Message>) {
    let store = open(path).await;
    let ann = user(&store, "ann").await;
    let room = room(&store, "room", &[&ann]).await;
    let mut originals = Vec::new();
    for n in 0..5 {
        originals.push(post(&store, room.id, &ann, &format!("k{n}")).await.message);
    }
    store
        .post_message(NewMessage {
            room: room.id,
            author: ann.id,
            body: "no key".into(),
            client_id: None,
            created_at: Timestamp(2),
        })
        .await
        .unwrap();
    store.close().await.unwrap();
    (ann, room, originals)
}

/// Undoes migration 5 (external ids of users), which every older schema lacks.
const UNDO_EXTERNAL_IDS: &str = "DROP INDEX users_external_id;
     ALTER TABLE users DROP COLUMN external_id;";

/// Writes five keys, takes the file back to an older schema with `downgrade`, then checks
/// that the migrated database answers every key with its original and still accepts a new key
/// once.
async fn assert_migration_keeps_keys(downgrade: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chat.db");
    let (ann, room, originals) = five_keys(&path).await;
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(UNDO_EXTERNAL_IDS).unwrap();
    conn.execute_batch(downgrade).unwrap();
    drop(conn);
    let store = open(&path).await;
    for original in &originals {
        assert_repeat(&store, room.id, &ann, original).await;
    }
    let fresh = post(&store, room.id, &ann, "fresh").await;
    assert!(!fresh.duplicate);
    assert_repeat(&store, room.id, &ann, &fresh.message).await;
    store.close().await.unwrap();
    assert!(has(&path, "messages_author_client"), "the index is there");
    assert!(!has(&path, "client_ids") && !has(&path, "client_ids_state"));
}

#[tokio::test]
async fn a_version_3_database_keeps_its_keys() {
    // The keys of the first three posts in their table, those of the later ones in `messages`
    // only (as the writer left them before adding them).
    assert_migration_keeps_keys(
        "DROP INDEX messages_author_client;
         CREATE TABLE client_ids (
             author_id INTEGER NOT NULL, client_id TEXT NOT NULL,
             message_id INTEGER NOT NULL, PRIMARY KEY (author_id, client_id)
         ) STRICT, WITHOUT ROWID;
         CREATE TABLE client_ids_state (
             id INTEGER PRIMARY KEY CHECK (id = 1), upto INTEGER NOT NULL
         ) STRICT;
         INSERT INTO client_ids SELECT author_id, client_id, id FROM messages
             WHERE client_id IS NOT NULL AND id <= 3;
         INSERT INTO client_ids_state VALUES (1, 3);
         PRAGMA user_version = 3;",
    )
    .await;
}

#[tokio::test]
async fn a_version_2_database_keeps_its_keys() {
    // The keys in a unique index on messages that is not partial.
    assert_migration_keeps_keys(
        "DROP INDEX messages_author_client;
         CREATE UNIQUE INDEX messages_author_client ON messages (author_id, client_id);
         PRAGMA user_version = 2;",
    )
    .await;
}
