//! Criterion benchmarks of the SQLite store: posts per second with 1 and with 64 concurrent
//! posters (one author in one room, and 64 authors in 8 rooms, as a chat server sees them: every
//! group commit then holds posts of many authors in several rooms), the latest-50 history page and a page 500k messages back in a room of 1M messages,
//! and full-text search in that room. The 1M-message database is built once (through the
//! store itself, by concurrent posters) and cached in the system temp dir.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use chat_core::{
    ChatRoom, HistoryPage, MessageStore, NewMessage, NewRoom, NewUser, RoomStore, SearchQuery, Seq,
    Timestamp, User, UserStore,
};
use chat_store_sqlite::SqliteStore;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

const BIG_ROOM: i64 = 1_000_000;
const TOPICS: [&str; 8] = [
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
];
static CLIENT_IDS: AtomicU64 = AtomicU64::new(0);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

async fn user_and_room(store: &SqliteStore, name: &str) -> (User, ChatRoom) {
    if let (Some(u), Some(r)) = (
        store.user_by_name(name).await.unwrap(),
        store.room_by_name(name).await.unwrap(),
    ) {
        return (u, r);
    }
    let user = store
        .create_user(NewUser {
            username: name.into(),
            password_hash: "x".into(),
            is_admin: false,
            created_at: Timestamp::now(),
        })
        .await
        .unwrap();
    let room = store
        .create_room(NewRoom {
            name: name.into(),
            description: String::new(),
            created_by: user.id,
            created_at: Timestamp::now(),
        })
        .await
        .unwrap();
    (user, room)
}

fn body(i: u64) -> String {
    let topic = TOPICS[(i % TOPICS.len() as u64) as usize];
    if i % 1000 == 7 {
        format!("message {i} about {topic} with a rare needle in it")
    } else {
        format!("message {i} about {topic}, nothing special here")
    }
}

async fn post(store: &SqliteStore, user: &User, room: &ChatRoom, i: u64) {
    let cid = CLIENT_IDS.fetch_add(1, Ordering::Relaxed);
    store
        .post_message(NewMessage {
            room: room.id,
            author: user.id,
            body: body(i),
            client_id: Some(format!("c{cid}")),
            created_at: Timestamp::now(),
        })
        .await
        .unwrap();
}

/// `posters` tasks posting `each` messages concurrently.
async fn post_concurrently(
    store: &SqliteStore,
    user: &User,
    room: &ChatRoom,
    posters: u64,
    each: u64,
) {
    let mut tasks = Vec::with_capacity(posters as usize);
    for p in 0..posters {
        let (store, user, room) = (store.clone(), user.clone(), room.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..each {
                post(&store, &user, &room, p * each + i).await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

/// `authors` users spread over `rooms` rooms, each a member of its own; each with its room.
async fn authors_in_rooms(
    store: &SqliteStore,
    authors: usize,
    rooms: usize,
) -> Vec<(User, ChatRoom)> {
    let (owner, _) = user_and_room(store, "owner").await;
    let mut made = Vec::new();
    for r in 0..rooms {
        let name = format!("room{r}");
        let room = match store.room_by_name(&name).await.unwrap() {
            Some(room) => room,
            None => store
                .create_room(NewRoom {
                    name,
                    description: String::new(),
                    created_by: owner.id,
                    created_at: Timestamp::now(),
                })
                .await
                .unwrap(),
        };
        made.push(room);
    }
    let mut pairs = Vec::new();
    for a in 0..authors {
        let user = store
            .create_user(NewUser {
                username: format!("author{a}"),
                password_hash: "x".into(),
                is_admin: false,
                created_at: Timestamp::now(),
            })
            .await
            .unwrap();
        let room = made[a % rooms].clone();
        store
            .add_member(room.id, user.id, Timestamp::now())
            .await
            .unwrap();
        pairs.push((user, room));
    }
    pairs
}

/// Every (author, room) of `pairs` posting `each` messages, all concurrently.
async fn post_as_many(store: &SqliteStore, pairs: &[(User, ChatRoom)], each: u64) {
    let mut tasks = Vec::with_capacity(pairs.len());
    for (p, (user, room)) in pairs.iter().enumerate() {
        let (store, user, room) = (store.clone(), user.clone(), room.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..each {
                post(&store, &user, &room, p as u64 * each + i).await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

/// The cached database with one room of `BIG_ROOM` messages.
fn big_database(rt: &tokio::runtime::Runtime) -> (SqliteStore, ChatRoom) {
    let path = std::env::temp_dir().join("chat-store-sqlite-bench-1m-v3.db");
    rt.block_on(async {
        let store = open_or_rebuild(&path).await;
        let (user, room) = user_and_room(&store, "big").await;
        if room.last_seq.0 < BIG_ROOM {
            let missing = (BIG_ROOM - room.last_seq.0) as u64;
            eprintln!("building the 1M-message database at {} ...", path.display());
            let started = std::time::Instant::now();
            let posters = 128;
            post_concurrently(&store, &user, &room, posters, missing / posters).await;
            let rest = missing % posters;
            post_concurrently(&store, &user, &room, rest, 1).await;
            eprintln!("built in {:.1?}", started.elapsed());
        }
        let room = store.room(room.id).await.unwrap().unwrap();
        assert_eq!(room.last_seq.0, BIG_ROOM);
        (store, room)
    })
}

async fn open_or_rebuild(path: &Path) -> SqliteStore {
    match SqliteStore::open(path).await {
        Ok(store) => store,
        Err(e) => {
            eprintln!("rebuilding the cached bench database: {e}");
            for suffix in ["", "-wal", "-shm"] {
                let mut p = path.as_os_str().to_owned();
                p.push(suffix);
                let _ = std::fs::remove_file(p);
            }
            SqliteStore::open(path).await.unwrap()
        }
    }
}

fn posts(c: &mut Criterion) {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let store = rt
        .block_on(SqliteStore::open(dir.path().join("posts.db")))
        .unwrap();
    let (user, room) = rt.block_on(user_and_room(&store, "posts"));
    let mut group = c.benchmark_group("post");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(3));
    group.throughput(Throughput::Elements(1));
    group.bench_function("1 poster", |b| {
        b.to_async(&rt).iter(|| post(&store, &user, &room, 1));
    });
    let (posters, each) = (64, 200);
    group.throughput(Throughput::Elements(posters * each));
    group.bench_function("64 posters", |b| {
        b.to_async(&rt)
            .iter(|| post_concurrently(&store, &user, &room, posters, each));
    });
    let pairs = rt.block_on(authors_in_rooms(&store, posters as usize, 8));
    group.bench_function("64 authors in 8 rooms", |b| {
        b.to_async(&rt).iter(|| post_as_many(&store, &pairs, each));
    });
    group.finish();
    rt.block_on(store.close()).unwrap();
}

fn reads(c: &mut Criterion) {
    let rt = runtime();
    let (store, room) = big_database(&rt);
    let mut group = c.benchmark_group("1M-message room");
    group.sample_size(20);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(2));
    group.bench_function("latest 50", |b| {
        b.to_async(&rt).iter(|| async {
            let page = store
                .history(room.id, HistoryPage::Latest { limit: 50 })
                .await
                .unwrap();
            black_box(page)
        });
    });
    group.bench_function("50 at 500k back", |b| {
        b.to_async(&rt).iter(|| async {
            let page = store
                .history(
                    room.id,
                    HistoryPage::Before {
                        seq: Seq(BIG_ROOM - 500_000),
                        limit: 50,
                    },
                )
                .await
                .unwrap();
            black_box(page)
        });
    });
    for (name, text) in [
        ("search rare word", "needle"),
        ("search common prefix", "fox"),
        ("search two words", "rare nee"),
    ] {
        group.bench_function(name, |b| {
            b.to_async(&rt).iter(|| async {
                let found = store
                    .search(SearchQuery {
                        room: room.id,
                        text: text.into(),
                        before: None,
                        limit: 20,
                    })
                    .await
                    .unwrap();
                assert_eq!(found.len(), 20);
                black_box(found)
            });
        });
    }
    group.bench_function("search rare word 500k back", |b| {
        b.to_async(&rt).iter(|| async {
            let found = store
                .search(SearchQuery {
                    room: room.id,
                    text: "needle".into(),
                    before: Some(Seq(BIG_ROOM - 500_000)),
                    limit: 20,
                })
                .await
                .unwrap();
            assert_eq!(found.len(), 20);
            black_box(found)
        });
    });
    group.finish();
    rt.block_on(store.close()).unwrap();
}

criterion_group!(benches, posts, reads);
criterion_main!(benches);
