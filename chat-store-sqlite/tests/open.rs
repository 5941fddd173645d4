//! Opening and closing: refused files stay byte-for-byte untouched, the schema version is
//! recorded, an older schema is migrated, data survives a reopen, and a closed store answers
//! `Closed`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chat_core::{
    Conflict, HistoryPage, MessageStore, NewMessage, NewRoom, NewUser, RoomStore, SearchQuery, Seq,
    StoreError, Timestamp, UserStore,
};
use chat_store_sqlite::{SCHEMA_VERSION, SqliteError, SqliteStore};
use std::path::Path;

fn new_user(name: &str) -> NewUser {
    NewUser {
        username: name.into(),
        password_hash: "hash".into(),
        is_admin: false,
        created_at: Timestamp(1),
    }
}

fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    files.sort();
    files
}

#[tokio::test]
async fn a_file_that_is_not_sqlite_is_refused_and_untouched() {
    let dir = tempfile::tempdir().unwrap();
    for (name, content) in [
        (
            "notes.txt",
            "just some text, not a database\n".repeat(200).into_bytes(),
        ),
        ("short.db", b"hi".to_vec()),
        ("garbage.db", vec![0xAB; 8192]),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, &content).unwrap();
        let before = snapshot(dir.path());
        let err = SqliteStore::open(&path).await.unwrap_err();
        assert!(
            matches!(err, SqliteError::NotSqlite { .. }),
            "{name}: {err:?}"
        );
        assert!(err.to_string().contains("not a SQLite database"));
        assert_eq!(snapshot(dir.path()), before, "{name} was modified");
    }
    // A corrupt file that starts with the SQLite header is refused by SQLite itself.
    let path = dir.path().join("corrupt.db");
    let mut bytes = b"SQLite format 3\0".to_vec();
    bytes.extend(vec![0xFF; 4096]);
    std::fs::write(&path, &bytes).unwrap();
    let before = snapshot(dir.path());
    assert!(SqliteStore::open(&path).await.is_err());
    assert_eq!(snapshot(dir.path()), before);
}

#[tokio::test]
async fn a_newer_schema_is_refused_and_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chat.db");
    let store = SqliteStore::open(&path).await.unwrap();
    store.create_user(new_user("ann")).await.unwrap();
    store.close().await.unwrap();
    drop(store);
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
    }
    let before = snapshot(dir.path());
    let err = SqliteStore::open(&path).await.unwrap_err();
    match err {
        SqliteError::SchemaTooNew { found, supported } => {
            assert_eq!((found, supported), (SCHEMA_VERSION + 1, SCHEMA_VERSION));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(snapshot(dir.path()), before, "the file was modified");
}

#[tokio::test]
async fn another_applications_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL);")
            .unwrap();
    }
    let before = snapshot(dir.path());
    let err = SqliteStore::open(&path).await.unwrap_err();
    assert!(
        matches!(err, SqliteError::ForeignDatabase { .. }),
        "{err:?}"
    );
    assert_eq!(snapshot(dir.path()), before);
}

#[tokio::test]
async fn data_survives_a_reopen_and_empty_files_are_created() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chat.db");
    std::fs::write(&path, b"").unwrap(); // an empty file is an empty database
    let store = SqliteStore::open(&path).await.unwrap();
    let ann = store.create_user(new_user("Ann")).await.unwrap();
    let room = store
        .create_room(NewRoom {
            name: "Général".into(),
            description: "d".into(),
            created_by: ann.id,
            created_at: Timestamp(2),
        })
        .await
        .unwrap();
    for i in 0..10 {
        store
            .post_message(NewMessage {
                room: room.id,
                author: ann.id,
                body: format!("Ünïcode message {i}"),
                client_id: Some(format!("c{i}")),
                created_at: Timestamp(3),
            })
            .await
            .unwrap();
    }
    drop(store); // no close: dropping the last handle must also flush
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(store.user_by_name("ANN").await.unwrap().unwrap().id, ann.id);
    let again = store.room_by_name("GÉNÉRAL").await.unwrap().unwrap();
    assert_eq!(again.last_seq, Seq(10));
    let page = store
        .history(room.id, HistoryPage::Latest { limit: 3 })
        .await
        .unwrap();
    assert_eq!(page.iter().map(|m| m.seq.0).collect::<Vec<_>>(), [8, 9, 10]);
    let found = store
        .search(SearchQuery {
            room: room.id,
            text: "üNÏ MESS".into(),
            before: Some(Seq(5)),
            limit: 2,
        })
        .await
        .unwrap();
    assert_eq!(found.iter().map(|m| m.seq.0).collect::<Vec<_>>(), [4, 3]);
    store.close().await.unwrap();
}

#[tokio::test]
async fn a_version_4_database_gets_external_ids() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chat.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let ann = store.create_user(new_user("ann")).await.unwrap();
    store.close().await.unwrap();
    drop(store);
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(
            "DROP INDEX users_external_id;
             ALTER TABLE users DROP COLUMN external_id;
             PRAGMA user_version = 4;",
        )
        .unwrap();
    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(store.user_by_name("ann").await.unwrap(), Some(ann.clone()));
    assert_eq!(store.user_by_external_id("ext-1").await.unwrap(), None);
    let bea = store
        .create_external_user("ext-1", new_user("bea"))
        .await
        .unwrap();
    let found = store.user_by_external_id("ext-1").await.unwrap();
    assert_eq!(found.map(|u| u.id), Some(bea.id));
    let err = store
        .create_external_user("ext-1", new_user("cid"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict(Conflict::ExternalId)),
        "{err:?}"
    );
    store.close().await.unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
    let linked: Vec<(String, Option<String>)> = conn
        .prepare("SELECT username, external_id FROM users ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        linked,
        [
            ("ann".to_owned(), None),
            ("bea".to_owned(), Some("ext-1".to_owned()))
        ]
    );
}

#[tokio::test]
async fn close_finishes_queued_writes_then_refuses_calls() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("chat.db")).await.unwrap();
    let ann = store.create_user(new_user("ann")).await.unwrap();
    let room = store
        .create_room(NewRoom {
            name: "r".into(),
            description: String::new(),
            created_by: ann.id,
            created_at: Timestamp(2),
        })
        .await
        .unwrap();
    let mut posts = Vec::new();
    for i in 0..200 {
        let store = store.clone();
        posts.push(tokio::spawn(async move {
            store
                .post_message(NewMessage {
                    room: room.id,
                    author: ann.id,
                    body: format!("m{i}"),
                    client_id: None,
                    created_at: Timestamp(3),
                })
                .await
        }));
    }
    tokio::task::yield_now().await;
    store.close().await.unwrap();
    let mut ok = 0;
    for p in posts {
        match p.await.unwrap() {
            Ok(_) => ok += 1,
            Err(StoreError::Closed) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert!(matches!(
        store.user(ann.id).await.unwrap_err(),
        StoreError::Closed
    ));
    assert!(matches!(
        store.create_user(new_user("bob")).await.unwrap_err(),
        StoreError::Closed
    ));
    store.close().await.unwrap(); // idempotent
    drop(store);
    let store = SqliteStore::open(dir.path().join("chat.db")).await.unwrap();
    let room = store.room(room.id).await.unwrap().unwrap();
    assert_eq!(
        room.last_seq,
        Seq(ok),
        "every answered post is stored, no more"
    );
}

#[tokio::test]
async fn the_search_index_follows_edits_deletes_and_room_deletion() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chat.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let ann = store.create_user(new_user("ann")).await.unwrap();
    let mut rooms = Vec::new();
    for name in ["doomed", "kept"] {
        rooms.push(
            store
                .create_room(NewRoom {
                    name: name.into(),
                    description: String::new(),
                    created_by: ann.id,
                    created_at: Timestamp(2),
                })
                .await
                .unwrap(),
        );
    }
    for room in &rooms {
        for i in 0..5 {
            store
                .post_message(NewMessage {
                    room: room.id,
                    author: ann.id,
                    body: format!("word{i} shared"),
                    client_id: None,
                    created_at: Timestamp(3),
                })
                .await
                .unwrap();
        }
    }
    let kept = rooms[1].id;
    store
        .edit_message(kept, Seq(1), "changed".into(), Timestamp(4))
        .await
        .unwrap();
    store.delete_message(kept, Seq(2)).await.unwrap();
    store.delete_room(rooms[0].id).await.unwrap();
    store.close().await.unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute(
        "ATTACH DATABASE ?1 AS search",
        [SqliteStore::search_index_path(&path).to_str().unwrap()],
    )
    .unwrap();
    let indexed: Vec<i64> = conn
        .prepare("SELECT rowid FROM search.messages_fts ORDER BY rowid")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let live: Vec<i64> = conn
        .prepare("SELECT id FROM messages WHERE deleted = 0 ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(live.len(), 4, "one room gone, one message deleted");
    assert_eq!(indexed, live, "exactly the live messages are indexed");
    conn.execute(
        "INSERT INTO search.messages_fts (messages_fts, rank) VALUES ('integrity-check', 0)",
        [],
    )
    .unwrap();
    drop(conn);
    let store = SqliteStore::open(&path).await.unwrap();
    let find = |text: &str| SearchQuery {
        room: kept,
        text: text.into(),
        before: None,
        limit: 10,
    };
    let seqs = |found: Vec<chat_core::Message>| found.iter().map(|m| m.seq.0).collect::<Vec<_>>();
    assert_eq!(seqs(store.search(find("shared")).await.unwrap()), [5, 4, 3]);
    assert_eq!(seqs(store.search(find("CHANG")).await.unwrap()), [1]);
    assert!(store.search(find("word0")).await.unwrap().is_empty());
}
