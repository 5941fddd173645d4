//! Idempotency keys kept by the writer in memory and added to the `client_ids` table in
//! batches (see `src/client_ids.rs`): a repeat is found wherever its key is (memory, a batch
//! under way, the table, or only `messages` after a restart), a key whose message was deleted
//! with its room can be used again, and a database of schema version 2 keeps its keys when
//! migrated. (The crash test checks the keys a SIGKILL left in memory only.)

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chat_core::{
    ChatRoom, Message, MessageStore, NewMessage, NewRoom, NewUser, Posted, RoomId, RoomStore, Seq,
    Timestamp, User, UserStore,
};
use chat_store_sqlite::{SqliteOptions, SqliteStore};
use rusqlite::Connection;
use std::path::Path;

async fn open(path: &Path, client_ids_batch: usize) -> SqliteStore {
    let options = SqliteOptions {
        client_ids_batch,
        ..SqliteOptions::default()
    };
    SqliteStore::open_with(path, options).await.unwrap()
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

/// (watermark, rows) of the key table; the store must be closed.
fn table(path: &Path) -> (i64, i64) {
    let conn = Connection::open(path).unwrap();
    let upto = conn
        .query_row("SELECT upto FROM client_ids_state", [], |r| r.get(0))
        .unwrap();
    let rows = conn
        .query_row("SELECT count(*) FROM client_ids", [], |r| r.get(0))
        .unwrap();
    (upto, rows)
}

#[tokio::test]
async fn repeats_are_found_in_memory_and_in_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chat.db");
    // Every fifth post starts a batch, so some keys are in memory and some in the table at
    // any time.
    let store = open(&path, 5).await;
    let ann = user(&store, "ann").await;
    let bob = user(&store, "bob").await;
    let room = room(&store, "room", &[&ann, &bob]).await;
    let mut originals = Vec::new();
    for n in 0..23 {
        let author = if n % 3 == 0 { &bob } else { &ann };
        let first = post(&store, room.id, author, &format!("k{n}")).await;
        assert!(!first.duplicate);
        originals.push((author.clone(), first.message));
        // Every key so far is found, wherever it is now.
        for (author, original) in &originals {
            assert_repeat(&store, room.id, author, original).await;
        }
    }
    // Keys are per author.
    let (_, ann_k1) = &originals[1];
    assert!(!post(&store, room.id, &bob, "k1").await.duplicate);
    assert_ne!(ann_k1.author, bob.id);
    store.close().await.unwrap();
    assert_eq!(table(&path), (24, 24), "close adds every key");

    let store = open(&path, 1000).await;
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
async fn keys_only_in_messages_are_read_back_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chat.db");
    let store = open(&path, 1000).await;
    let ann = user(&store, "ann").await;
    let room = room(&store, "room", &[&ann]).await;
    let first = post(&store, room.id, &ann, "only-in-messages").await;
    store.close().await.unwrap();
    // As if the process had died before adding the key: the table and watermark as before.
    Connection::open(&path)
        .unwrap()
        .execute_batch("DELETE FROM client_ids; UPDATE client_ids_state SET upto = 0;")
        .unwrap();
    let store = open(&path, 1000).await;
    assert_repeat(&store, room.id, &ann, &first.message).await;
    store.close().await.unwrap();
    assert_eq!(table(&path), (1, 1));
}

#[tokio::test]
async fn a_key_whose_message_was_deleted_with_its_room_is_free_again() {
    for batch in [1, 1000] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chat.db");
        let store = open(&path, batch).await;
        let ann = user(&store, "ann").await;
        let old = room(&store, "old", &[&ann]).await;
        let new = room(&store, "new", &[&ann]).await;
        post(&store, old.id, &ann, "k").await;
        store.delete_room(old.id).await.unwrap();
        let fresh = post(&store, new.id, &ann, "k").await;
        assert!(!fresh.duplicate, "batch {batch}: the key is free again");
        assert_eq!((fresh.message.room, fresh.message.seq), (new.id, Seq(1)));
        assert_repeat(&store, new.id, &ann, &fresh.message).await;
        store.close().await.unwrap();
        let store = open(&path, batch).await;
        assert_repeat(&store, new.id, &ann, &fresh.message).await;
        store.close().await.unwrap();
    }
}

#[tokio::test]
async fn a_version_2_database_keeps_its_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chat.db");
    let store = open(&path, 1000).await;
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
    // Back to schema version 2: the keys in their unique index on messages.
    Connection::open(&path)
        .unwrap()
        .execute_batch(
            "DROP TABLE client_ids;
             DROP TABLE client_ids_state;
             CREATE UNIQUE INDEX messages_author_client ON messages (author_id, client_id);
             PRAGMA user_version = 2;",
        )
        .unwrap();
    let store = open(&path, 1000).await;
    for original in &originals {
        let again = post(
            &store,
            room.id,
            &ann,
            original.client_id.as_deref().unwrap(),
        )
        .await;
        assert!(again.duplicate);
        assert_eq!(&again.message, original);
    }
    store.close().await.unwrap();
    assert_eq!(
        table(&path),
        (6, 5),
        "every key moved, the watermark at the last message"
    );
    let index: i64 = Connection::open(&path)
        .unwrap()
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE name = 'messages_author_client'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(index, 0, "the index is gone");
}
