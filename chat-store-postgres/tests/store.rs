//! The essentials of the PostgreSQL store under several nodes (several pools on one schema):
//! gap-free seqs and atomic uniqueness under concurrent writers, seq visibility, migrations.
//! Skips, saying so, without `CHAT_TEST_POSTGRES_URL`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chat_core::{
    Conflict, HistoryPage, MessageStore, NewMessage, NewRoom, NewUser, RoomStore, SearchQuery, Seq,
    Session, SessionStore, StoreError, Timestamp, TokenHash, User, UserStore,
};
use chat_store_postgres::{PgError, PostgresStore, SCHEMA_VERSION};
use common::TestDb;
use std::collections::BTreeSet;

async fn user(store: &PostgresStore, name: &str) -> User {
    store
        .create_user(NewUser {
            username: name.into(),
            password_hash: "$argon2id$fake".into(),
            is_admin: false,
            created_at: Timestamp(1),
        })
        .await
        .unwrap()
}

fn new_room(name: &str, by: &User) -> NewRoom {
    NewRoom {
        name: name.into(),
        description: String::new(),
        created_by: by.id,
        created_at: Timestamp(2),
    }
}

fn post(room: chat_core::RoomId, by: &User, body: &str, client_id: Option<&str>) -> NewMessage {
    NewMessage {
        room,
        author: by.id,
        body: body.into(),
        client_id: client_id.map(Into::into),
        created_at: Timestamp(3),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_concurrent_posts_on_two_nodes_get_seqs_one_to_hundred() {
    let Some(db) = TestDb::new("hundred_concurrent_posts").await else {
        return;
    };
    let node_b = db.another_node().await;
    let ann = user(&db.store, "ann").await;
    let room = db.store.create_room(new_room("busy", &ann)).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..100 {
        let store = if i % 2 == 0 {
            db.store.clone()
        } else {
            node_b.clone()
        };
        let message = post(room.id, &ann, &format!("m{i}"), None);
        tasks.push(tokio::spawn(
            async move { store.post_message(message).await },
        ));
    }
    let mut seqs = Vec::new();
    for task in tasks {
        seqs.push(task.await.unwrap().unwrap().message.seq.0);
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=100).collect::<Vec<_>>());
    let history = node_b
        .history(
            room.id,
            HistoryPage::After {
                seq: Seq::ZERO,
                limit: 500,
            },
        )
        .await
        .unwrap();
    let read: Vec<i64> = history.iter().map(|m| m.seq.0).collect();
    assert_eq!(read, (1..=100).collect::<Vec<_>>());
    assert_eq!(
        db.store.room(room.id).await.unwrap().unwrap().last_seq,
        Seq(100)
    );
    node_b.close().await;
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_room_name_race_across_nodes_creates_one_room() {
    let Some(db) = TestDb::new("duplicate_room_name_race").await else {
        return;
    };
    let node_b = db.another_node().await;
    let ann = user(&db.store, "ann").await;
    let mut tasks = Vec::new();
    for i in 0..20 {
        let store = if i % 2 == 0 {
            db.store.clone()
        } else {
            node_b.clone()
        };
        let name = ["Lobby", "LOBBY", "lobby", "lObBy"][i % 4];
        let room = new_room(name, &ann);
        tasks.push(tokio::spawn(async move { store.create_room(room).await }));
    }
    let (mut created, mut conflicts) = (0, 0);
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => created += 1,
            Err(StoreError::Conflict(Conflict::RoomName)) => conflicts += 1,
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!((created, conflicts), (1, 19));
    let rooms = db.store.rooms_of(ann.id).await.unwrap();
    assert_eq!(rooms.len(), 1, "the creator is a member of the one room");
    assert!(matches!(
        node_b
            .create_user(NewUser {
                username: "ANN".into(),
                password_hash: "x".into(),
                is_admin: false,
                created_at: Timestamp(1),
            })
            .await,
        Err(StoreError::Conflict(Conflict::Username))
    ));
    node_b.close().await;
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_duplicate_posts_across_nodes_store_one_message() {
    let Some(db) = TestDb::new("concurrent_duplicate_posts").await else {
        return;
    };
    let node_b = db.another_node().await;
    let ann = user(&db.store, "ann").await;
    let room = db.store.create_room(new_room("r", &ann)).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..20 {
        let store = if i % 2 == 0 {
            db.store.clone()
        } else {
            node_b.clone()
        };
        let message = post(room.id, &ann, "once", Some("same-id"));
        tasks.push(tokio::spawn(
            async move { store.post_message(message).await },
        ));
    }
    let mut fresh = 0;
    let mut ids = BTreeSet::new();
    for task in tasks {
        let posted = task.await.unwrap().unwrap();
        fresh += usize::from(!posted.duplicate);
        ids.insert(posted.message.id);
        assert_eq!(posted.message.seq, Seq(1));
    }
    assert_eq!((fresh, ids.len()), (1, 1));
    assert_eq!(
        db.store.room(room.id).await.unwrap().unwrap().last_seq,
        Seq(1)
    );
    let next = node_b
        .post_message(post(room.id, &ann, "two", None))
        .await
        .unwrap();
    assert_eq!(
        next.message.seq,
        Seq(2),
        "the rolled-back increments left no gap"
    );
    node_b.close().await;
    db.finish().await;
}

/// Readers polling by seq while two nodes write never see a gap: seq N is visible only once
/// every lower seq is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_never_see_a_gap_while_two_nodes_write() {
    let Some(db) = TestDb::new("readers_never_see_a_gap").await else {
        return;
    };
    let node_b = db.another_node().await;
    let ann = user(&db.store, "ann").await;
    let room = db.store.create_room(new_room("r", &ann)).await.unwrap();
    const TOTAL: i64 = 200;
    let mut writers = Vec::new();
    for w in 0..4 {
        let store = if w % 2 == 0 {
            db.store.clone()
        } else {
            node_b.clone()
        };
        let ann = ann.clone();
        writers.push(tokio::spawn(async move {
            for i in 0..TOTAL / 4 {
                store
                    .post_message(post(room.id, &ann, &format!("w{w} {i}"), None))
                    .await
                    .unwrap();
            }
        }));
    }
    let reader = db.store.clone();
    let mut last = 0;
    let mut reads = 0;
    while last < TOTAL {
        let page = reader
            .history(
                room.id,
                HistoryPage::After {
                    seq: Seq(last),
                    limit: 1000,
                },
            )
            .await
            .unwrap();
        for m in page {
            assert_eq!(m.seq.0, last + 1, "gap after {last}");
            last = m.seq.0;
        }
        reads += 1;
    }
    for w in writers {
        w.await.unwrap();
    }
    assert!(reads > 1);
    node_b.close().await;
    db.finish().await;
}

#[tokio::test]
async fn search_follows_chat_core_word_rules() {
    let Some(db) = TestDb::new("search_follows_chat_core_word_rules").await else {
        return;
    };
    let ann = user(&db.store, "ann").await;
    let room = db.store.create_room(new_room("r", &ann)).await.unwrap();
    for body in [
        "Ünïcode Straße",
        "pi is 3.14",
        "snake_case_words",
        "mail ann@example.org",
        "it's a quote",
    ] {
        db.store
            .post_message(post(room.id, &ann, body, None))
            .await
            .unwrap();
    }
    let search = |text: &str| {
        let store = db.store.clone();
        let text = text.to_owned();
        async move {
            store
                .search(SearchQuery {
                    room: room.id,
                    text,
                    before: None,
                    limit: 10,
                })
                .await
                .unwrap()
                .into_iter()
                .map(|m| m.seq.0)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(search("ünï STRA").await, vec![1]);
    assert_eq!(search("14").await, vec![2]);
    assert_eq!(search("case word").await, vec![3]);
    assert_eq!(search("example ann").await, vec![4]);
    assert_eq!(search("it's").await, vec![5]);
    assert_eq!(
        search("'; DROP TABLE messages; --").await,
        Vec::<i64>::new()
    );
    assert_eq!(search("!!!").await, Vec::<i64>::new());
    assert_eq!(search("s").await, vec![5, 3, 1], "newest first");
    db.finish().await;
}

#[tokio::test]
async fn deactivation_deletes_sessions() {
    let Some(db) = TestDb::new("deactivation_deletes_sessions").await else {
        return;
    };
    let ann = user(&db.store, "ann").await;
    for i in 0..3 {
        db.store
            .create_session(Session {
                token_hash: TokenHash(format!("h{i}")),
                user_id: ann.id,
                created_at: Timestamp(0),
                expires_at: Timestamp(i64::MAX),
            })
            .await
            .unwrap();
    }
    let off = db.store.set_user_active(ann.id, false).await.unwrap();
    assert!(!off.is_active);
    assert_eq!(db.store.delete_user_sessions(ann.id).await.unwrap(), 0);
    db.finish().await;
}

/// Several nodes starting at once on a new schema: the advisory lock serializes the migrations.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_starting_at_once_migrate_once() {
    let Some(url) = common::url("nodes_starting_at_once_migrate_once") else {
        return;
    };
    let schema = common::fresh_schema();
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (url, schema) = (url.clone(), schema.clone());
        tasks.push(tokio::spawn(async move {
            PostgresStore::connect_with_schema(&url, &schema).await
        }));
    }
    let mut stores = Vec::new();
    for task in tasks {
        stores.push(task.await.unwrap().unwrap());
    }
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM chat_schema_migrations")
        .fetch_one(stores[0].pool())
        .await
        .unwrap();
    assert_eq!(applied, SCHEMA_VERSION);
    for store in stores {
        store.close().await;
    }
    common::drop_schema(&url, &schema).await;
}

#[tokio::test]
async fn migrations_are_recorded_and_a_newer_schema_is_refused() {
    let Some(db) = TestDb::new("migrations_are_recorded").await else {
        return;
    };
    assert_eq!(db.store.schema_version().await.unwrap(), SCHEMA_VERSION);
    assert_eq!(db.store.schema(), db.schema);
    // Connecting again is a no-op migration.
    let again = db.another_node().await;
    assert_eq!(again.schema_version().await.unwrap(), SCHEMA_VERSION);
    again.close().await;
    sqlx::query(
        "INSERT INTO chat_schema_migrations (version, description, checksum, applied_at)
         VALUES (99, 'from the future', 0, 0)",
    )
    .execute(db.store.pool())
    .await
    .unwrap();
    match PostgresStore::connect_with_schema(&db.url, &db.schema).await {
        Err(PgError::SchemaTooNew { found, supported }) => {
            assert_eq!((found, supported), (99, SCHEMA_VERSION));
        }
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
    assert!(matches!(
        PostgresStore::connect_with_schema(&db.url, "Bad-Name").await,
        Err(PgError::InvalidSchema(_))
    ));
    db.finish().await;
}

/// A schema at version 1 (users without external ids) is brought to version 2: its users stay,
/// and users can be linked to external ids.
#[tokio::test]
async fn a_version_1_schema_gets_external_ids() {
    let Some(db) = TestDb::new("a_version_1_schema_gets_external_ids").await else {
        return;
    };
    let ann = user(&db.store, "ann").await;
    sqlx::raw_sql(
        "DROP INDEX users_external_id_unique;
         ALTER TABLE users DROP COLUMN external_id;
         DELETE FROM chat_schema_migrations WHERE version = 2;",
    )
    .execute(db.store.pool())
    .await
    .unwrap();
    assert_eq!(db.store.schema_version().await.unwrap(), 1);
    let node = db.another_node().await;
    assert_eq!(node.schema_version().await.unwrap(), SCHEMA_VERSION);
    assert_eq!(node.user_by_name("ANN").await.unwrap(), Some(ann));
    let bea = node
        .create_external_user(
            "ext-1",
            NewUser {
                username: "bea".into(),
                password_hash: String::new(),
                is_admin: false,
                created_at: Timestamp(1),
            },
        )
        .await
        .unwrap();
    let found = db.store.user_by_external_id("ext-1").await.unwrap();
    assert_eq!(found.map(|u| u.id), Some(bea.id));
    node.close().await;
    db.finish().await;
}
