//! Posts are published by the store's writer in commit order (chat_core::PostListener): a raw
//! broker subscription, with no reordering of its own, sees every post of concurrent posters
//! exactly once and in seq order.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chat_core::broker::Delivery;
use chat_core::{
    Broker, ChatService, Config, LocalBroker, Message, MessageStore, PostListener, RoomEvent,
};
use chat_store_sqlite::SqliteStore;
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_posts_are_published_in_seq_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("a.db")).await.unwrap();
    let broker = LocalBroker::default();
    let chat = ChatService::new(
        Arc::new(store.clone()),
        Arc::new(broker.clone()),
        Config::for_tests(),
    );
    let (owner, _) = chat.signup("owner", "password-1").await.unwrap();
    let room = chat.create_room(&owner, "ordered", "").await.unwrap();
    let mut subscription = broker.subscribe(room.id).await.unwrap();

    const POSTERS: usize = 32;
    const EACH: usize = 20;
    let mut tasks = Vec::new();
    for p in 0..POSTERS {
        let chat = chat.clone();
        let (user, _) = chat
            .signup(&format!("poster{p}"), "password-1")
            .await
            .unwrap();
        chat.join_room(&user, room.id).await.unwrap();
        tasks.push(tokio::spawn(async move {
            for n in 0..EACH {
                chat.post(&user, room.id, &format!("{p}-{n}"), None)
                    .await
                    .unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let mut seqs = Vec::new();
    while seqs.len() < POSTERS * EACH {
        match subscription.recv().await {
            Delivery::Event(env) => {
                if let RoomEvent::MessagePosted { message } = &env.event {
                    seqs.push(message.seq.0);
                }
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    let expected: Vec<i64> = (1..=(POSTERS * EACH) as i64).collect();
    assert_eq!(seqs, expected, "published exactly once, in seq order");
    assert!(subscription.try_recv().is_none(), "nothing published twice");
}

struct Ignore;

impl PostListener for Ignore {
    fn posted(&self, _message: Message) {}
}

#[tokio::test]
async fn a_store_has_one_listener() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("b.db")).await.unwrap();
    assert!(store.announce_posts(Arc::new(Ignore)));
    assert!(
        !store.announce_posts(Arc::new(Ignore)),
        "a second listener is declined"
    );
}
