//! Stores: posting a message and reading history pages, for the in-memory store and the SQLite
//! store (a temporary file, WAL). Posting to SQLite is also measured 64 at a time, concurrently,
//! which is what the store's writer thread batches into one transaction (group commit).

use chat_core::{ChatRoom, HistoryPage, NewMessage, NewRoom, NewUser, Seq, Store, Timestamp, User};
use chat_store_memory::MemoryStore;
use chat_store_sqlite::SqliteStore;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Messages in the room whose history pages are read.
const HISTORY: i64 = 10_000;
const PAGE: usize = 50;

fn runtime() -> Option<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .ok()
}

async fn seed(store: &dyn Store) -> Result<(User, ChatRoom, ChatRoom), chat_core::StoreError> {
    let user = store
        .create_user(NewUser {
            username: "bench".into(),
            password_hash: "x".into(),
            is_admin: false,
            created_at: Timestamp::now(),
        })
        .await?;
    let mut rooms = Vec::new();
    for name in ["posts", "history"] {
        rooms.push(
            store
                .create_room(NewRoom {
                    name: name.into(),
                    description: String::new(),
                    created_by: user.id,
                    created_at: Timestamp::now(),
                })
                .await?,
        );
    }
    let history = rooms
        .pop()
        .ok_or(chat_core::StoreError::Backend("no room".into()))?;
    let posts = rooms
        .pop()
        .ok_or(chat_core::StoreError::Backend("no room".into()))?;
    // In chunks of concurrent posts: SQLite's writer thread commits each chunk together.
    for chunk in 0..HISTORY / 100 {
        let posts = (0..100)
            .map(|i| store.post_message(message(&user, &history, (chunk * 100 + i) as u64)));
        for posted in futures::future::join_all(posts).await {
            posted?;
        }
    }
    Ok((user, posts, history))
}

fn message(user: &User, room: &ChatRoom, n: u64) -> NewMessage {
    NewMessage {
        room: room.id,
        author: user.id,
        body: format!("message number {n}: a body of typical chat length"),
        client_id: None,
        created_at: Timestamp::now(),
    }
}

fn bench_store(c: &mut Criterion, name: &str, rt: &tokio::runtime::Runtime, store: Arc<dyn Store>) {
    let (user, posts, history) = match rt.block_on(seed(store.as_ref())) {
        Ok(seeded) => seeded,
        Err(e) => {
            eprintln!("store bench {name}: seeding failed ({e}); skipped");
            return;
        }
    };
    let mut group = c.benchmark_group(format!("store_{name}"));
    let counter = AtomicU64::new(0);
    group.throughput(Throughput::Elements(1));
    group.bench_function("post", |b| {
        b.to_async(rt).iter(|| {
            let m = message(&user, &posts, counter.fetch_add(1, Ordering::Relaxed));
            let store = Arc::clone(&store);
            async move { black_box(store.post_message(m).await) }
        });
    });
    group.throughput(Throughput::Elements(64));
    group.bench_function("post_64_concurrent", |b| {
        b.to_async(rt).iter(|| {
            let batch: Vec<_> = (0..64)
                .map(|_| message(&user, &posts, counter.fetch_add(1, Ordering::Relaxed)))
                .collect();
            let store = Arc::clone(&store);
            async move {
                let posts = batch.into_iter().map(|m| {
                    let store = Arc::clone(&store);
                    async move { store.post_message(m).await }
                });
                black_box(futures::future::join_all(posts).await)
            }
        });
    });
    group.throughput(Throughput::Elements(PAGE as u64));
    let pages = [
        ("latest", HistoryPage::Latest { limit: PAGE }),
        (
            "before_middle",
            HistoryPage::Before {
                seq: Seq(HISTORY / 2),
                limit: PAGE,
            },
        ),
        (
            "after_middle",
            HistoryPage::After {
                seq: Seq(HISTORY / 2),
                limit: PAGE,
            },
        ),
    ];
    for (label, page) in pages {
        group.bench_with_input(
            BenchmarkId::new("history_page_50", label),
            &page,
            |b, &page| {
                b.to_async(rt)
                    .iter(|| async { black_box(store.history(history.id, page).await) });
            },
        );
    }
    group.finish();
}

fn memory(c: &mut Criterion) {
    let Some(rt) = runtime() else {
        eprintln!("store bench: no tokio runtime; skipped");
        return;
    };
    bench_store(c, "memory", &rt, Arc::new(MemoryStore::new()));
}

fn sqlite(c: &mut Criterion) {
    let Some(rt) = runtime() else {
        eprintln!("store bench: no tokio runtime; skipped");
        return;
    };
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("store bench sqlite: no temporary directory ({e}); skipped");
            return;
        }
    };
    let store = match rt.block_on(SqliteStore::open(dir.path().join("bench.db"))) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("store bench sqlite: open failed ({e}); skipped");
            return;
        }
    };
    bench_store(c, "sqlite", &rt, Arc::new(store));
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20);
    targets = memory, sqlite
}
criterion_main!(benches);
