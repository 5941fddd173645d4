//! Measures cross-node delivery latency: two nodes (two pools, two brokers, two services) on
//! one fresh schema; node B posts, a feed on node A receives. Prints p50/p99 for
//!
//! - one message in flight at a time (post on B -> message out of A's feed),
//! - a paced load (several posters on B at a fixed total rate),
//! - typing events (no store write or read: NOTIFY and fan-out only).
//!
//! ```text
//! cargo run --release -p chat-store-postgres --example cross_node_latency -- \
//!     postgres://postgres@127.0.0.1:5432/test [rate_per_second] [seconds]
//! ```
//!
//! The URL defaults to `CHAT_TEST_POSTGRES_URL`. The schema is dropped at the end.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chat_core::{ChatService, Config, FeedItem, RoomEvent, RoomFeed, User};
use chat_store_postgres::{PostgresBroker, PostgresStore};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

async fn node(url: &str, schema: &str) -> (PostgresStore, PostgresBroker, ChatService) {
    let store = PostgresStore::connect_with_schema(url, schema)
        .await
        .unwrap();
    let broker = PostgresBroker::start(&store, 65_536).await.unwrap();
    let service = ChatService::new(
        Arc::new(store.clone()),
        Arc::new(broker.clone()),
        Config::for_tests(),
    );
    (store, broker, service)
}

async fn next(feed: &mut RoomFeed) -> RoomEvent {
    match tokio::time::timeout(Duration::from_secs(30), feed.next()).await {
        Ok(Ok(Some(FeedItem::Event(env)))) => env.event.clone(),
        other => panic!("expected an event, got {other:?}"),
    }
}

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort_unstable();
    let at = |p: f64| samples[((samples.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "{name:<34} n={:<6} p50 {:>9.3} ms  p99 {:>9.3} ms  max {:>9.3} ms",
        samples.len(),
        at(0.5).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        at(1.0).as_secs_f64() * 1e3,
    );
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .or_else(|| std::env::var("CHAT_TEST_POSTGRES_URL").ok())
        .expect("give a postgres:// URL or set CHAT_TEST_POSTGRES_URL");
    let rate: u64 = args.next().map_or(1000, |r| r.parse().expect("rate"));
    let seconds: u64 = args.next().map_or(3, |s| s.parse().expect("seconds"));
    let stamp = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let schema = format!("chat_t_{}_lat{}", stamp.as_secs(), std::process::id());

    let (store_a, broker_a, a) = node(&url, &schema).await;
    let (store_b, broker_b, b) = node(&url, &schema).await;
    let ann: User = b.create_user("ann", "password123", false).await.unwrap();
    let room = b.create_room(&ann, "lobby", "").await.unwrap();
    let mut feed = a.subscribe(&ann, room.id, None).await.unwrap();

    // Warm up the pools and statement caches.
    for _ in 0..50 {
        b.post(&ann, room.id, "warm up", None).await.unwrap();
        while !matches!(next(&mut feed).await, RoomEvent::MessagePosted { .. }) {}
    }

    let mut one = Vec::new();
    for i in 0..1000 {
        let start = Instant::now();
        b.post(&ann, room.id, &format!("hello {i}"), None)
            .await
            .unwrap();
        while !matches!(next(&mut feed).await, RoomEvent::MessagePosted { .. }) {}
        one.push(start.elapsed());
    }
    report("post -> delivery, 1 in flight", one);

    // Paced load: the body carries the send instant (as nanos since `origin`).
    let origin = Instant::now();
    let total = rate * seconds;
    let posters = 4;
    let mut tasks = Vec::new();
    for p in 0..posters {
        let (b, ann) = (b.clone(), ann.clone());
        tasks.push(tokio::spawn(async move {
            let interval = Duration::from_secs_f64(posters as f64 / rate as f64);
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            for _ in 0..total / posters {
                tick.tick().await;
                let sent = origin.elapsed().as_nanos();
                b.post(&ann, room.id, &format!("{sent} p{p}"), None)
                    .await
                    .unwrap();
            }
        }));
    }
    let mut paced = Vec::new();
    while paced.len() < (total / posters * posters) as usize {
        if let RoomEvent::MessagePosted { message } = next(&mut feed).await {
            let sent: u64 = message.body.split(' ').next().unwrap().parse().unwrap();
            paced.push(origin.elapsed().saturating_sub(Duration::from_nanos(sent)));
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    report(&format!("post -> delivery, {rate}/s paced"), paced);

    let mut typing = Vec::new();
    for _ in 0..1000 {
        let start = Instant::now();
        b.typing(&ann, room.id).await.unwrap();
        while !matches!(next(&mut feed).await, RoomEvent::Typing { .. }) {}
        typing.push(start.elapsed());
    }
    report("typing -> delivery, 1 in flight", typing);
    println!(
        "node A broker: {:?}\nnode B broker: {:?}",
        broker_a.stats(),
        broker_b.stats()
    );

    drop(feed);
    broker_a.shutdown().await;
    broker_b.shutdown().await;
    store_b.close().await;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP SCHEMA \"{schema}\" CASCADE"
    )))
    .execute(store_a.pool())
    .await
    .unwrap();
    store_a.close().await;
}
