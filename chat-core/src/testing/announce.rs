//! Cases for stores that announce their posts ([`PostListener`](crate::PostListener)): not part of
//! [`conformance_tests!`](crate::conformance_tests) because announcing is optional; a store
//! that does runs these from its own tests, one line each.

use crate::broker::Delivery;
use crate::{Broker, ChatService, Config, LocalBroker, Message, PostListener, Store};
use std::sync::Arc;

/// Concurrent posters' messages reach a raw broker subscription (no reordering of its own)
/// exactly once each and in seq order. Needs a multi-threaded runtime to mean anything.
pub async fn concurrent_posts_are_published_in_seq_order(store: Arc<dyn Store>) {
    let broker = LocalBroker::default();
    let chat = ChatService::new(store, Arc::new(broker.clone()), Config::for_tests());
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
                seqs.extend(env.event.posted_messages().iter().map(|m| m.seq.0));
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
    fn posted(&self, _messages: Vec<Message>) {}
}

/// A store takes one listener and declines any other.
pub fn a_store_has_one_listener(store: &dyn Store) {
    assert!(store.announce_posts(Arc::new(Ignore)));
    assert!(
        !store.announce_posts(Arc::new(Ignore)),
        "a second listener is declined"
    );
}
