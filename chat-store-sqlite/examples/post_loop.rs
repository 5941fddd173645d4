//! Posts N messages (default 20,000) with P concurrent posters (default 64) into a fresh
//! database, for profiling the write path (for example under `valgrind --tool=callgrind`):
//! `cargo run --release -p chat-store-sqlite --example post_loop -- 20000 64`.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use chat_core::{MessageStore, NewMessage, NewRoom, NewUser, RoomStore, Timestamp, UserStore};
use chat_store_sqlite::SqliteStore;

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .map(|a| a.parse().unwrap())
        .unwrap_or(20_000);
    let posters: u64 = std::env::args()
        .nth(2)
        .map(|a| a.parse().unwrap())
        .unwrap_or(64);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    rt.block_on(async {
        let store = SqliteStore::open(dir.path().join("p.db")).await.unwrap();
        let user = store
            .create_user(NewUser {
                username: "p".into(),
                password_hash: "x".into(),
                is_admin: false,
                created_at: Timestamp::now(),
            })
            .await
            .unwrap();
        let room = store
            .create_room(NewRoom {
                name: "p".into(),
                description: String::new(),
                created_by: user.id,
                created_at: Timestamp::now(),
            })
            .await
            .unwrap();
        let started = std::time::Instant::now();
        let mut tasks = Vec::new();
        for p in 0..posters {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let mut i = p;
                while i < n {
                    store
                        .post_message(NewMessage {
                            room: room.id,
                            author: user.id,
                            body: format!("message {i} about topic {}, nothing special", i % 8),
                            client_id: Some(format!("c{i}")),
                            created_at: Timestamp::now(),
                        })
                        .await
                        .unwrap();
                    i += posters;
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let took = started.elapsed();
        eprintln!(
            "{n} posts in {took:.2?}: {:.0} posts/s",
            n as f64 / took.as_secs_f64()
        );
        store.close().await.unwrap();
    });
}
