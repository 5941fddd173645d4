//! Posts N messages (default 20,000) with P concurrent posters (default 64) into a fresh
//! database, for profiling the write path (for example under `valgrind --tool=callgrind`):
//! `cargo run --release -p chat-store-sqlite --example post_loop -- 20000 64`. An optional
//! third argument sets the indexer's linger in milliseconds (`SqliteOptions::index_linger`):
//! under valgrind everything runs about 50 times slower, so the default 10 ms makes batches
//! about 50 times smaller than natively; 500 gives batches of about the native size. The time
//! `close` takes is mostly the indexer catching up.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use chat_core::{MessageStore, NewMessage, NewRoom, NewUser, RoomStore, Timestamp, UserStore};
use chat_store_sqlite::{SqliteOptions, SqliteStore};

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .map(|a| a.parse().unwrap())
        .unwrap_or(20_000);
    let posters: u64 = std::env::args()
        .nth(2)
        .map(|a| a.parse().unwrap())
        .unwrap_or(64);
    let mut options = SqliteOptions::default();
    if let Some(linger) = std::env::args().nth(3) {
        options.index_linger = std::time::Duration::from_millis(linger.parse().unwrap());
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    rt.block_on(async {
        let store = SqliteStore::open_with(dir.path().join("p.db"), options)
            .await
            .unwrap();
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
        let closing = std::time::Instant::now();
        store.close().await.unwrap();
        eprintln!("closed in {:.2?}", closing.elapsed());
    });
}
