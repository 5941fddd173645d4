//! The PostgreSQL broker across two nodes (two stores, two brokers, two services on one
//! schema): delivery in order, events read from the store, recovery after the listener
//! connection is killed while posting continues, shutdown, and cross-node latency.
//! Skips, saying so, without `CHAT_TEST_POSTGRES_URL`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chat_core::{
    Broker, BrokerError, ChatRoom, ChatService, Config, FeedItem, MessageStore, RoomEvent,
    RoomFeed, Seq, User,
};
use chat_store_postgres::{PostgresBroker, PostgresStore};
use common::TestDb;
use std::sync::Arc;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(20);

/// One node: a store (its own pool), a broker and a service.
struct Node {
    store: PostgresStore,
    broker: PostgresBroker,
    service: ChatService,
}

impl Node {
    async fn start(store: PostgresStore) -> Node {
        let broker = PostgresBroker::start(&store, 1024).await.unwrap();
        let service = ChatService::new(
            Arc::new(store.clone()),
            Arc::new(broker.clone()),
            Config::for_tests(),
        );
        Node {
            store,
            broker,
            service,
        }
    }

    async fn stop(self) {
        self.broker.shutdown().await;
        self.store.close().await;
    }
}

async fn two_nodes(db: &TestDb) -> (Node, Node) {
    let a = Node::start(db.store.clone()).await;
    let b = Node::start(db.another_node().await).await;
    (a, b)
}

/// Two nodes, user "ann" and her room `name` created on node B, and her feed of it on node A.
async fn room_across_nodes(db: &TestDb, name: &str) -> (Node, Node, User, ChatRoom, RoomFeed) {
    let (a, b) = two_nodes(db).await;
    let ann = b
        .service
        .create_user("ann", "password123", false)
        .await
        .unwrap();
    let room = b.service.create_room(&ann, name, "").await.unwrap();
    let feed = a.service.subscribe(&ann, room.id, None).await.unwrap();
    (a, b, ann, room, feed)
}

async fn next_event(feed: &mut RoomFeed) -> RoomEvent {
    match tokio::time::timeout(WAIT, feed.next()).await {
        Ok(Ok(Some(FeedItem::Event(env)))) => env.event.clone(),
        other => panic!("expected an event, got {other:?}"),
    }
}

async fn next_post(feed: &mut RoomFeed) -> chat_core::Message {
    loop {
        if let RoomEvent::MessagePosted { message } = next_event(feed).await {
            return message;
        }
    }
}

/// Terminates the listener connection of `broker` (a connection this test's broker opened),
/// once it is another than `previous` (the broker may not have noticed the last kill yet).
async fn kill_listener(
    store: &PostgresStore,
    broker: &PostgresBroker,
    previous: Option<i32>,
) -> i32 {
    let deadline = Instant::now() + WAIT;
    let pid = loop {
        if let Some(pid) = broker.stats().listener_pid.filter(|&p| Some(p) != previous) {
            break pid;
        }
        assert!(Instant::now() < deadline, "listener never came back");
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let killed: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
        .bind(pid)
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert!(killed, "terminated listener {pid}");
    pid
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_on_node_a_receives_what_node_b_publishes_in_order() {
    let Some(db) = TestDb::new("cross_node_delivery").await else {
        return;
    };
    let (a, b) = two_nodes(&db).await;
    let ann = b
        .service
        .create_user("ann", "password123", false)
        .await
        .unwrap();
    let bob = a
        .service
        .create_user("bob", "password123", false)
        .await
        .unwrap();
    let room = b.service.create_room(&ann, "lobby", "").await.unwrap();
    a.service.join_room(&bob, room.id).await.unwrap();
    let mut feed = a.service.subscribe(&bob, room.id, None).await.unwrap();
    let body = "x".repeat(3000);
    for i in 0..50 {
        b.service
            .post(&ann, room.id, &format!("{i} {body}"), None)
            .await
            .unwrap();
    }
    for i in 0..50 {
        let m = next_post(&mut feed).await;
        assert_eq!(m.seq, Seq(i + 1));
        assert_eq!(
            m.body,
            format!("{i} {body}"),
            "bodies are read from the store"
        );
    }
    b.service.typing(&ann, room.id).await.unwrap();
    assert!(matches!(
        next_event(&mut feed).await,
        RoomEvent::Typing { username, .. } if username == "ann"
    ));
    b.service
        .edit(&ann, room.id, Seq(1), "edited")
        .await
        .unwrap();
    match next_event(&mut feed).await {
        RoomEvent::MessageEdited { message } => assert_eq!(message.body, "edited"),
        other => panic!("unexpected {other:?}"),
    }
    b.service.delete(&ann, room.id, Seq(2)).await.unwrap();
    assert!(matches!(
        next_event(&mut feed).await,
        RoomEvent::MessageDeleted { seq: Seq(2), .. }
    ));
    // Node A's own posts reach node A's subscribers too (locally, once).
    a.service.post(&bob, room.id, "from a", None).await.unwrap();
    let m = next_post(&mut feed).await;
    assert_eq!((m.seq, m.body.as_str()), (Seq(51), "from a"));
    // Deleting the room on B ends the feed on A.
    let admin = b
        .service
        .create_user("root", "password123", true)
        .await
        .unwrap();
    b.service.admin_delete_room(&admin, room.id).await.unwrap();
    match tokio::time::timeout(WAIT, feed.next()).await {
        Ok(Ok(Some(FeedItem::RoomDeleted))) => {}
        other => panic!("expected the room deletion, got {other:?}"),
    }
    assert!(a.broker.stats().notifications > 0);
    assert!(b.broker.stats().published >= 54);
    a.stop().await;
    b.stop().await;
    db.finish().await;
}

/// A run of posts published on node B as one `MessagesPosted` reaches node A's subscriber
/// whole and in order: B sends one notice per message, all in one round trip.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_published_on_one_node_reaches_the_other_in_order() {
    let Some(db) = TestDb::new("cross_node_run").await else {
        return;
    };
    let (a, b, ann, room, mut feed) = room_across_nodes(&db, "runs").await;
    // Stored first (the notices only name them), then announced as one run.
    let mut messages = Vec::new();
    for i in 1..=3 {
        let new = chat_core::NewMessage {
            room: room.id,
            author: ann.id,
            body: format!("m{i}"),
            client_id: None,
            created_at: chat_core::Timestamp(1),
        };
        messages.push(b.store.post_message(new).await.unwrap().message);
    }
    let before = b.broker.stats().published;
    let run = RoomEvent::posted(messages).unwrap();
    b.broker.publish(room.id, run).await.unwrap();
    assert_eq!(
        b.broker.stats().published - before,
        3,
        "one notice per message"
    );
    let mut got = Vec::new();
    while got.len() < 3 {
        let event = next_event(&mut feed).await;
        got.extend(
            event
                .posted_messages()
                .iter()
                .map(|m| (m.seq.0, m.body.clone())),
        );
    }
    assert_eq!(got, [(1, "m1".into()), (2, "m2".into()), (3, "m3".into())]);
    a.stop().await;
    b.stop().await;
    db.finish().await;
}

/// Node A's listener connection is killed three times while node B keeps posting: the
/// subscriber on A still gets every message exactly once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_listener_connections_lose_no_message() {
    let Some(db) = TestDb::new("killed_listener_connections").await else {
        return;
    };
    let (a, b, ann, room, mut feed) = room_across_nodes(&db, "lobby").await;
    const TOTAL: i64 = 300;
    let poster = {
        let service = b.service.clone();
        let ann = ann.clone();
        tokio::spawn(async move {
            for i in 0..TOTAL {
                service
                    .post(&ann, room.id, &format!("m{i}"), None)
                    .await
                    .unwrap();
                if i % 10 == 0 {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            }
        })
    };
    let killer = {
        let (store, broker) = (a.store.clone(), a.broker.clone());
        tokio::spawn(async move {
            let mut pids = Vec::new();
            for _ in 0..3 {
                tokio::time::sleep(Duration::from_millis(60)).await;
                let previous = pids.last().copied();
                pids.push(kill_listener(&store, &broker, previous).await);
            }
            pids
        })
    };
    let mut seqs = Vec::new();
    while seqs.len() < TOTAL as usize {
        let m = next_post(&mut feed).await;
        assert_eq!(m.body, format!("m{}", m.seq.0 - 1));
        seqs.push(m.seq.0);
    }
    poster.await.unwrap();
    let pids = killer.await.unwrap();
    assert_eq!(
        seqs,
        (1..=TOTAL).collect::<Vec<_>>(),
        "exactly once, in order"
    );
    // The last kill may be noticed after the last message arrived: wait for its reconnection.
    let deadline = Instant::now() + WAIT;
    while a.broker.stats().resyncs < 3 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let stats = a.broker.stats();
    eprintln!(
        "killed while posting: node A {stats:?}, node B {:?}",
        b.broker.stats()
    );
    assert!(stats.reconnects >= 3, "{stats:?}");
    assert!(stats.resyncs >= 3, "{stats:?}");
    assert_eq!(pids.len(), 3);
    // Nothing more arrives: no duplicate was queued behind the last message.
    b.service.post(&ann, room.id, "last", None).await.unwrap();
    assert_eq!(next_post(&mut feed).await.seq, Seq(TOTAL + 1));
    a.stop().await;
    b.stop().await;
    db.finish().await;
}

/// Messages posted while the listener is down and nothing after them: only the resync after
/// the reconnection can wake the subscriber up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_posted_while_the_listener_is_down_are_recovered() {
    let Some(db) = TestDb::new("posted_while_listener_down").await else {
        return;
    };
    let (a, b, ann, room, mut feed) = room_across_nodes(&db, "lobby").await;
    let mut previous = None;
    for round in 0..5 {
        previous = Some(kill_listener(&a.store, &a.broker, previous).await);
        for i in 0..10 {
            b.service
                .post(&ann, room.id, &format!("r{round} m{i}"), None)
                .await
                .unwrap();
        }
        for i in 0..10 {
            let m = next_post(&mut feed).await;
            assert_eq!(m.seq, Seq(round * 10 + i + 1));
        }
    }
    let stats = a.broker.stats();
    eprintln!(
        "listener down rounds: node A {stats:?}, node B {:?}",
        b.broker.stats()
    );
    assert!(stats.reconnects >= 5, "{stats:?}");
    a.stop().await;
    b.stop().await;
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_ended_on_one_node_close_sockets_on_the_other() {
    let Some(db) = TestDb::new("sessions_ended_on_one_node_close_sockets_on_the_other").await
    else {
        return;
    };
    let (a, b) = two_nodes(&db).await;
    let (ann, token) = b.service.signup("ann", "password123").await.unwrap();
    let (_, other) = b.service.login("ann", "password123").await.unwrap();
    let (tx, mut ended) = tokio::sync::mpsc::unbounded_channel();
    let _socket = a.service.watch_session(
        ann.id,
        Some(token.hash()),
        Arc::new(move || {
            let _ = tx.send(Instant::now());
        }),
    );
    let (other_tx, mut other_ended) = tokio::sync::mpsc::unbounded_channel();
    let _other_socket = a.service.watch_session(
        ann.id,
        Some(other.hash()),
        Arc::new(move || {
            let _ = other_tx.send(());
        }),
    );
    // Node A's listener subscribes as its first socket registers.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    b.service.logout(&token).await.unwrap();
    let at = tokio::time::timeout(WAIT, ended.recv())
        .await
        .unwrap()
        .unwrap();
    let took = at.duration_since(started);
    assert!(took < Duration::from_secs(1), "took {took:?}");
    assert!(
        other_ended.try_recv().is_err(),
        "the other session lives on"
    );
    b.service.logout_everywhere(&ann).await.unwrap();
    tokio::time::timeout(WAIT, other_ended.recv())
        .await
        .unwrap()
        .unwrap();
    a.stop().await;
    b.stop().await;
    db.finish().await;
}

#[tokio::test]
async fn shutdown_closes_the_broker() {
    let Some(db) = TestDb::new("shutdown_closes_the_broker").await else {
        return;
    };
    let broker = PostgresBroker::start(&db.store, 16).await.unwrap();
    assert!(broker.stats().listener_pid.is_some());
    assert!(broker.channel().starts_with("chat_events_"));
    broker.shutdown().await;
    broker.shutdown().await;
    assert!(broker.is_closed());
    assert_eq!(broker.stats().listener_pid, None);
    assert!(matches!(
        broker
            .publish(chat_core::RoomId(1), RoomEvent::RoomDeleted)
            .await,
        Err(BrokerError::Closed)
    ));
    assert!(matches!(
        broker.subscribe(chat_core::RoomId(1)).await,
        Err(BrokerError::Closed)
    ));
    db.finish().await;
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// Cross-node latency: from calling `post` on node B to the message coming out of a feed on
/// node A (commit + NOTIFY + listener + store read + local fan-out), one message at a time;
/// and the same for a typing event (no store write or read). Prints p50/p99.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_node_latency() {
    let Some(db) = TestDb::new("cross_node_latency").await else {
        return;
    };
    let (a, b, ann, room, mut feed) = room_across_nodes(&db, "lobby").await;
    const ROUNDS: usize = 500;
    let mut posts = Vec::with_capacity(ROUNDS);
    for i in 0..ROUNDS {
        let start = Instant::now();
        b.service
            .post(&ann, room.id, &format!("hello {i}"), None)
            .await
            .unwrap();
        next_post(&mut feed).await;
        posts.push(start.elapsed());
    }
    let mut typing = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let start = Instant::now();
        b.service.typing(&ann, room.id).await.unwrap();
        loop {
            if let RoomEvent::Typing { .. } = next_event(&mut feed).await {
                break;
            }
        }
        typing.push(start.elapsed());
    }
    posts.sort_unstable();
    typing.sort_unstable();
    eprintln!(
        "cross-node latency over {ROUNDS} rounds: post->delivery p50 {:?} p99 {:?} max {:?}; \
         typing->delivery p50 {:?} p99 {:?} max {:?}",
        percentile(&posts, 0.5),
        percentile(&posts, 0.99),
        posts[ROUNDS - 1],
        percentile(&typing, 0.5),
        percentile(&typing, 0.99),
        typing[ROUNDS - 1],
    );
    assert!(percentile(&posts, 0.99) < Duration::from_secs(2));
    a.stop().await;
    b.stop().await;
    db.finish().await;
}
