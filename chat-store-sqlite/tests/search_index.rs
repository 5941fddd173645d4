//! The search index file (`<db>-search`), written by the indexer thread beside the writer:
//! searches see every acknowledged post at once, entries follow edits, deletions and room
//! deletions, an index left behind by a crash is caught up on reopen, and a missing, corrupt,
//! foreign, newer or ill-fitting index file is rebuilt from the database.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chat_core::{
    ChatRoom, Message, MessageStore, NewMessage, NewRoom, NewUser, RoomId, RoomStore, SearchQuery,
    Seq, Timestamp, User, UserStore,
};
use chat_store_sqlite::SqliteStore;
use rusqlite::Connection;
use std::path::{Path, PathBuf};

struct Fixture {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chat.db");
        Fixture { _dir: dir, path }
    }

    fn search_file(&self) -> PathBuf {
        SqliteStore::search_index_path(&self.path)
    }

    /// A connection to the search file (the store must be closed).
    fn index(&self) -> Connection {
        Connection::open(self.search_file()).unwrap()
    }
}

async fn user(store: &SqliteStore) -> User {
    store
        .create_user(NewUser {
            username: "ann".into(),
            password_hash: "x".into(),
            is_admin: false,
            created_at: Timestamp(1),
        })
        .await
        .unwrap()
}

async fn room(store: &SqliteStore, user: &User, name: &str) -> ChatRoom {
    store
        .create_room(NewRoom {
            name: name.into(),
            description: String::new(),
            created_by: user.id,
            created_at: Timestamp(1),
        })
        .await
        .unwrap()
}

async fn post(store: &SqliteStore, user: &User, room: RoomId, body: &str) -> Message {
    store
        .post_message(NewMessage {
            room,
            author: user.id,
            body: body.into(),
            client_id: None,
            created_at: Timestamp(2),
        })
        .await
        .unwrap()
        .message
}

async fn find(store: &SqliteStore, room: RoomId, text: &str) -> Vec<i64> {
    store
        .search(SearchQuery {
            room,
            text: text.into(),
            before: None,
            limit: usize::MAX,
        })
        .await
        .unwrap()
        .iter()
        .map(|m| m.seq.0)
        .collect()
}

/// Rowids in the index and ids of live messages, read from the closed files.
fn indexed_and_live(fx: &Fixture) -> (Vec<i64>, Vec<i64>) {
    let ids = |conn: &Connection, sql: &str| -> Vec<i64> {
        conn.prepare(sql)
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    let index = fx.index();
    index
        .execute(
            "INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 0)",
            [],
        )
        .unwrap();
    let indexed = ids(&index, "SELECT rowid FROM messages_fts ORDER BY rowid");
    let main = Connection::open(&fx.path).unwrap();
    let live = ids(
        &main,
        "SELECT id FROM messages WHERE deleted = 0 ORDER BY id",
    );
    (indexed, live)
}

/// Seqs of the messages whose index entry (not their body: no filter) matches `word` as a
/// prefix in `room`, newest first, read from the closed files.
fn index_matches(fx: &Fixture, room: RoomId, word: &str) -> Vec<i64> {
    let index = fx.index();
    index
        .execute("ATTACH DATABASE ?1 AS main_db", [fx.path.to_str().unwrap()])
        .unwrap();
    index
        .prepare(
            "SELECT m.seq FROM messages_fts JOIN main_db.messages m ON m.id = messages_fts.rowid \
             WHERE messages_fts MATCH ?1 ORDER BY messages_fts.rowid DESC",
        )
        .unwrap()
        .query_map([format!("\"r{}_{word}\" *", room.0)], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn watermarks(fx: &Fixture) -> (i64, i64) {
    fx.index()
        .query_row(
            "SELECT messages_upto, changes_upto FROM search_state",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
}

/// A store with one room of 100 messages "common word<i>", closed; returns the room.
async fn hundred(fx: &Fixture) -> RoomId {
    hundred_of(fx, "common word").await
}

/// A store with one room of 100 messages "<text><i>", closed; returns the room.
async fn hundred_of(fx: &Fixture, text: &str) -> RoomId {
    let store = SqliteStore::open(&fx.path).await.unwrap();
    let ann = user(&store).await;
    let room = room(&store, &ann, "r").await;
    for i in 1..=100 {
        post(&store, &ann, room.id, &format!("{text}{i}")).await;
    }
    store.close().await.unwrap();
    room.id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn searches_see_every_post_acknowledged_before_them() {
    let fx = Fixture::new();
    let store = SqliteStore::open(&fx.path).await.unwrap();
    let ann = user(&store).await;
    let room = room(&store, &ann, "busy").await.id;
    let mut tasks = Vec::new();
    for t in 0..8 {
        let (store, ann) = (store.clone(), ann.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..40 {
                let word = format!("t{t}x{i}z");
                let posted = post(&store, &ann, room, &format!("busy {word}")).await;
                assert_eq!(find(&store, room, &word).await, [posted.seq.0], "{word}");
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(find(&store, room, "busy").await.len(), 320);
    store.close().await.unwrap();
    let (indexed, live) = indexed_and_live(&fx);
    assert_eq!(indexed, live);
    assert_eq!(
        watermarks(&fx).0,
        320,
        "a clean close leaves the index caught up"
    );
}

#[tokio::test]
async fn edits_deletes_and_room_deletions_reach_the_index() {
    let fx = Fixture::new();
    let store = SqliteStore::open(&fx.path).await.unwrap();
    let ann = user(&store).await;
    let kept = room(&store, &ann, "kept").await.id;
    let doomed = room(&store, &ann, "doomed").await.id;
    for i in 1..=5 {
        post(&store, &ann, kept, &format!("apples{i} pears")).await;
        post(&store, &ann, doomed, &format!("apples{i} pears")).await;
    }
    // Indexed first, then changed.
    assert_eq!(find(&store, kept, "apples").await, [5, 4, 3, 2, 1]);
    assert_eq!(find(&store, doomed, "pears").await, [5, 4, 3, 2, 1]);
    store
        .edit_message(kept, Seq(1), "bananas".into(), Timestamp(3))
        .await
        .unwrap();
    store.delete_message(kept, Seq(2)).await.unwrap();
    store.delete_room(doomed).await.unwrap();
    assert_eq!(find(&store, kept, "apples").await, [5, 4, 3]);
    assert_eq!(find(&store, kept, "bananas").await, [1]);
    assert!(find(&store, doomed, "pears").await.is_empty());
    // Changed before the indexer could have seen them (same moment as the post).
    let fresh = post(&store, &ann, kept, "cherries").await;
    store
        .edit_message(kept, fresh.seq, "plums".into(), Timestamp(3))
        .await
        .unwrap();
    let gone = post(&store, &ann, kept, "melons").await;
    store.delete_message(kept, gone.seq).await.unwrap();
    let brief = room(&store, &ann, "brief").await.id;
    post(&store, &ann, brief, "kiwis").await;
    store.delete_room(brief).await.unwrap();
    assert!(find(&store, kept, "cherries").await.is_empty());
    assert_eq!(find(&store, kept, "plums").await, [fresh.seq.0]);
    assert!(find(&store, kept, "melons").await.is_empty());
    assert!(find(&store, brief, "kiwis").await.is_empty());
    // Many edits: the applied changes are deleted from the database as the indexer goes.
    for i in 0..50 {
        store
            .edit_message(kept, Seq(3), format!("edit{i}"), Timestamp(4))
            .await
            .unwrap();
        assert_eq!(find(&store, kept, &format!("edit{i}")).await, [3]);
    }
    store.close().await.unwrap();
    let (indexed, live) = indexed_and_live(&fx);
    assert_eq!(indexed, live, "exactly the live messages are indexed");
    // The entries themselves follow (search also checks the bodies it returns).
    assert_eq!(index_matches(&fx, kept, "apples"), [5, 4]);
    assert_eq!(index_matches(&fx, kept, "bananas"), [1]);
    assert_eq!(index_matches(&fx, kept, "edit49"), [3]);
    assert!(index_matches(&fx, kept, "edit48").is_empty());
    assert_eq!(index_matches(&fx, kept, "plums"), [fresh.seq.0]);
    let main = Connection::open(&fx.path).unwrap();
    let left: i64 = main
        .query_row("SELECT count(*) FROM search_changes", [], |r| r.get(0))
        .unwrap();
    assert!(left <= 2, "{left} applied changes left in the database");
}

#[tokio::test]
async fn an_index_behind_after_a_crash_catches_up_on_open() {
    let fx = Fixture::new();
    let room = hundred(&fx).await;
    // As a crash could leave it: the last batches lost, watermark and entries together.
    {
        let index = fx.index();
        index
            .execute("DELETE FROM messages_fts WHERE rowid > 40", [])
            .unwrap();
        index
            .execute("UPDATE search_state SET messages_upto = 40", [])
            .unwrap();
    }
    let store = SqliteStore::open(&fx.path).await.unwrap();
    assert_eq!(find(&store, room, "common").await.len(), 100);
    assert_eq!(find(&store, room, "word77").await, [77]);
    store.close().await.unwrap();
    let (indexed, live) = indexed_and_live(&fx);
    assert_eq!(indexed, live);
}

#[tokio::test]
async fn changes_not_yet_applied_after_a_crash_are_applied_on_open() {
    let fx = Fixture::new();
    let room = hundred(&fx).await;
    let store = SqliteStore::open(&fx.path).await.unwrap();
    store
        .edit_message(room, Seq(5), "replaced".into(), Timestamp(3))
        .await
        .unwrap();
    store.delete_message(room, Seq(6)).await.unwrap();
    store.close().await.unwrap();
    // Roll the index back to before the two changes: the old entries, changes_upto 0.
    {
        let index = fx.index();
        index
            .execute(
                "INSERT INTO messages_fts (rowid, words) VALUES \
                 (5, 'r1_common r1_word5'), (6, 'r1_common r1_word6')",
                [],
            )
            .unwrap();
        index
            .execute("UPDATE search_state SET changes_upto = 0", [])
            .unwrap();
    }
    let store = SqliteStore::open(&fx.path).await.unwrap();
    assert_eq!(find(&store, room, "replaced").await, [5]);
    // (Prefixes: "word5" also matches word50..word59.)
    assert_eq!(
        find(&store, room, "word5").await,
        (50..=59).rev().collect::<Vec<_>>()
    );
    assert_eq!(
        find(&store, room, "word6").await,
        (60..=69).rev().collect::<Vec<_>>()
    );
    assert_eq!(find(&store, room, "common").await.len(), 98);
    store.close().await.unwrap();
    let (indexed, live) = indexed_and_live(&fx);
    assert_eq!(indexed, live);
    assert_eq!(index_matches(&fx, room, "replaced"), [5]);
    assert_eq!(index_matches(&fx, room, "common").len(), 98);
}

/// Something done to the search file of a closed store.
type Tamper = Box<dyn FnOnce(&Fixture)>;

/// Deletes the search file (and its WAL), then lets `make` put something in its place.
fn replace_search_file(fx: &Fixture, make: impl FnOnce(&Path)) {
    for suffix in ["", "-wal", "-shm"] {
        let mut file = fx.search_file().into_os_string();
        file.push(suffix);
        let _ = std::fs::remove_file(file);
    }
    make(&fx.search_file());
}

#[tokio::test]
async fn a_missing_corrupt_foreign_or_ill_fitting_index_is_rebuilt() {
    let fx = Fixture::new();
    let room = hundred(&fx).await;
    // Another database, alike in size, whose index must not be taken for this one's.
    let other = Fixture::new();
    assert_eq!(hundred_of(&other, "alien word").await, room);
    let cases: Vec<(&str, Tamper)> = vec![
        (
            "another database's",
            Box::new(move |fx| {
                replace_search_file(fx, |p| {
                    std::fs::copy(other.search_file(), p).unwrap();
                });
            }),
        ),
        ("missing", Box::new(|fx| replace_search_file(fx, |_| {}))),
        (
            "garbage",
            Box::new(|fx| {
                replace_search_file(fx, |p| std::fs::write(p, vec![0xAB; 8192]).unwrap());
            }),
        ),
        (
            "corrupt after the header",
            Box::new(|fx| {
                replace_search_file(fx, |p| {
                    let mut bytes = b"SQLite format 3\0".to_vec();
                    bytes.extend(vec![0xFF; 8192]);
                    std::fs::write(p, bytes).unwrap();
                });
            }),
        ),
        (
            "another application's",
            Box::new(|fx| {
                replace_search_file(fx, |p| {
                    Connection::open(p)
                        .unwrap()
                        .execute_batch("CREATE TABLE invoices (id INTEGER PRIMARY KEY);")
                        .unwrap();
                });
            }),
        ),
        (
            "a newer version",
            Box::new(|fx| {
                fx.index().pragma_update(None, "user_version", 99).unwrap();
            }),
        ),
        (
            "ahead of the database (it lost transactions)",
            Box::new(|fx| {
                fx.index()
                    .execute("UPDATE search_state SET messages_upto = 1000000", [])
                    .unwrap();
            }),
        ),
        (
            "missing its state",
            Box::new(|fx| {
                fx.index().execute_batch("DROP TABLE search_state").unwrap();
            }),
        ),
    ];
    for (case, tamper) in cases {
        tamper(&fx);
        let store = SqliteStore::open(&fx.path).await.unwrap();
        assert_eq!(find(&store, room, "common").await.len(), 100, "{case}");
        assert!(find(&store, room, "alien").await.is_empty(), "{case}");
        assert_eq!(find(&store, room, "word42").await, [42], "{case}");
        store.close().await.unwrap();
        let (indexed, live) = indexed_and_live(&fx);
        assert_eq!(indexed, live, "{case}");
    }
}

#[tokio::test]
async fn an_index_missing_changes_the_database_deleted_is_rebuilt() {
    let fx = Fixture::new();
    let room = hundred(&fx).await;
    let old_index = fx.path.with_file_name("old-index");
    std::fs::copy(fx.search_file(), &old_index).unwrap();
    let store = SqliteStore::open(&fx.path).await.unwrap();
    for i in 0..5 {
        store
            .edit_message(room, Seq(10), format!("later{i}"), Timestamp(3))
            .await
            .unwrap();
        find(&store, room, "later").await; // let the indexer apply it
    }
    store.close().await.unwrap();
    // An old copy of the index: it needs changes 1.. which the writer deleted since.
    replace_search_file(&fx, |p| {
        std::fs::copy(&old_index, p).unwrap();
    });
    let store = SqliteStore::open(&fx.path).await.unwrap();
    assert_eq!(find(&store, room, "later4").await, [10]);
    assert_eq!(find(&store, room, "word10").await, [100], "not 10 any more");
    assert_eq!(find(&store, room, "common").await.len(), 99);
    store.close().await.unwrap();
    let (indexed, live) = indexed_and_live(&fx);
    assert_eq!(indexed, live);
}

#[tokio::test]
async fn a_version_1_database_gets_its_index_moved_out() {
    let fx = Fixture::new();
    let room = hundred(&fx).await;
    // Back to schema version 1: the index inside the database, no change log, no index file
    // (and the idempotency keys in a unique index that is not partial, and users without
    // external ids).
    {
        let main = Connection::open(&fx.path).unwrap();
        main.execute_batch(
            "DROP INDEX users_external_id;
             ALTER TABLE users DROP COLUMN external_id;
             DROP INDEX messages_author_client;
             CREATE UNIQUE INDEX messages_author_client ON messages (author_id, client_id);
             DROP TABLE search_changes;
             DROP TABLE search_link;
             CREATE VIRTUAL TABLE messages_fts USING fts5 (
                 words, content = '', contentless_delete = 1,
                 tokenize = \"ascii tokenchars '_'\", detail = column);
             PRAGMA user_version = 1;",
        )
        .unwrap();
    }
    replace_search_file(&fx, |_| {});
    let store = SqliteStore::open(&fx.path).await.unwrap();
    assert_eq!(find(&store, room, "common").await.len(), 100);
    store.close().await.unwrap();
    let main = Connection::open(&fx.path).unwrap();
    let tables: Vec<String> = main
        .prepare(
            "SELECT name FROM sqlite_schema WHERE name LIKE 'messages_fts%' \
             OR name IN ('search_changes', 'search_link') ORDER BY name",
        )
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(tables, ["search_changes", "search_link"]);
    let version: i64 = main
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, chat_store_sqlite::SCHEMA_VERSION);
}

/// Segments of the index, read beside the running store.
fn segments(fx: &Fixture) -> i64 {
    fx.index()
        .query_row(
            "SELECT count(DISTINCT segid) FROM messages_fts_idx",
            [],
            |r| r.get(0),
        )
        .unwrap()
}

/// Every batch adds an index segment; an idle indexer merges them (queries over many
/// segments are several times slower), and stops once nothing is left to merge.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_indexer_merges_the_index_segments() {
    let fx = Fixture::new();
    let store = SqliteStore::open(&fx.path).await.unwrap();
    let ann = user(&store).await;
    let lobby = room(&store, &ann, "lobby").await;
    // Searching after each post makes each post a batch, so a segment, of its own.
    for n in 0..40 {
        post(
            &store,
            &ann,
            lobby.id,
            &format!("note number{n} about merging"),
        )
        .await;
        assert_eq!(find(&store, lobby.id, &format!("number{n}")).await.len(), 1);
    }
    let mut merged = segments(&fx);
    for _ in 0..100 {
        if merged <= 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        merged = segments(&fx);
    }
    assert_eq!(merged, 1, "the idle indexer merged every segment");
    assert_eq!(find(&store, lobby.id, "about merging").await.len(), 40);
    store.close().await.unwrap();
    let (indexed, live) = indexed_and_live(&fx);
    assert_eq!(indexed, live, "the merged index holds every message once");
}

#[tokio::test]
async fn bodies_beyond_one_batchs_byte_budget_are_all_indexed() {
    let fx = Fixture::new();
    let store = SqliteStore::open(&fx.path).await.unwrap();
    let ann = user(&store).await;
    let room = room(&store, &ann, "big").await.id;
    // 80 bodies of 64 KiB: 5 MiB, more than a batch reads (4 MiB), so the indexer's first
    // batch stops short of them and the next one carries on from there.
    let filler = "lorem ".repeat(64 * 1024 / 6);
    let mut seqs = Vec::new();
    for i in 0..80 {
        let body = format!("{filler}big{i}end");
        seqs.push(post(&store, &ann, room, &body).await.seq.0);
    }
    assert_eq!(find(&store, room, "big79end").await, [seqs[79]]);
    assert_eq!(find(&store, room, "big0end").await, [seqs[0]]);
    store.close().await.unwrap();
    let (indexed, live) = indexed_and_live(&fx);
    assert_eq!(indexed.len(), 80);
    assert_eq!(indexed, live);
}
