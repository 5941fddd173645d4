//! Conformance cases: live subscriptions over the store (through the service and a local
//! broker): order, resume by seq without gap or duplicate, recovery from lag, presence.

use super::Harness;
use crate::broker::Subscription;
use crate::{
    ChatRoom, Clock, Config, FeedItem, LocalBroker, RoomEvent, RoomFeed, Seq, Store, User,
};
use std::sync::Arc;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

async fn next_event(feed: &mut RoomFeed) -> RoomEvent {
    match tokio::time::timeout(WAIT, feed.next()).await {
        Ok(Ok(Some(FeedItem::Event(env)))) => env.event.clone(),
        other => panic!("expected an event, got {other:?}"),
    }
}

/// The seqs of the next event that announces posts (one or several messages).
async fn next_seqs(feed: &mut RoomFeed) -> Vec<i64> {
    loop {
        let event = next_event(feed).await;
        let seqs: Vec<i64> = event.posted_messages().iter().map(|m| m.seq.0).collect();
        if !seqs.is_empty() {
            return seqs;
        }
    }
}

/// Posts `count` messages ("m1", "m2", ...) by `author` straight to the store, past the
/// service (which would publish them itself when the store does not announce its posts).
async fn post_to_store(
    h: &Harness,
    author: &User,
    room: &ChatRoom,
    count: usize,
) -> Vec<crate::Message> {
    let mut messages = Vec::new();
    for i in 1..=count {
        let new = crate::NewMessage {
            room: room.id,
            author: author.id,
            body: format!("m{i}"),
            client_id: None,
            created_at: h.clock.now(),
        };
        messages.push(h.store.post_message(new).await.unwrap().message);
    }
    messages
}

/// Checks that subscribers receive posts in order.
pub async fn subscribers_receive_posts_in_order(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let ann = h.user("ann").await;
    let room = h.room(&ann, "live").await;
    let quiet = h.room(&ann, "quiet").await;
    h.service.post(&ann, room.id, "before", None).await.unwrap();
    let mut feed = h.service.subscribe(&ann, room.id, None).await.unwrap();
    let mut other = h.service.subscribe(&ann, quiet.id, None).await.unwrap();
    assert_eq!(feed.last_seq(), Seq(1), "starts after what already exists");
    for i in 0..20 {
        h.service
            .post(&ann, room.id, &format!("m{i}"), None)
            .await
            .unwrap();
    }
    for expected in 2..=21 {
        match next_event(&mut feed).await {
            RoomEvent::MessagePosted { message } => {
                assert_eq!(message.seq.0, expected);
                assert_eq!(message.body, format!("m{}", expected - 2));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    h.service.edit(&ann, room.id, Seq(2), "m0!").await.unwrap();
    h.service.delete(&ann, room.id, Seq(3)).await.unwrap();
    match next_event(&mut feed).await {
        RoomEvent::MessageEdited { message } => assert_eq!(message.body, "m0!"),
        other => panic!("unexpected {other:?}"),
    }
    assert!(matches!(
        next_event(&mut feed).await,
        RoomEvent::MessageDeleted { seq: Seq(3), .. }
    ));
    let nothing = tokio::time::timeout(Duration::from_millis(100), other.next()).await;
    assert!(nothing.is_err(), "rooms are isolated: {nothing:?}");
}

/// Checks that resume after seq has no gap and no duplicate.
pub async fn resume_after_seq_has_no_gap_and_no_duplicate(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let ann = h.user("ann").await;
    let room = h.room(&ann, "resume").await;
    for i in 1..=300 {
        h.service
            .post(&ann, room.id, &format!("old {i}"), None)
            .await
            .unwrap();
    }
    let mut feed = h
        .service
        .subscribe(&ann, room.id, Some(Seq(20)))
        .await
        .unwrap();
    // Keep posting while the feed catches up across more than one store page.
    let writer = {
        let (service, ann) = (h.service.clone(), ann.clone());
        tokio::spawn(async move {
            for i in 0..100 {
                service
                    .post(&ann, room.id, &format!("new {i}"), None)
                    .await
                    .unwrap();
            }
        })
    };
    let mut got = Vec::new();
    while got.len() < 380 {
        got.extend(next_seqs(&mut feed).await);
    }
    writer.await.unwrap();
    assert_eq!(
        got,
        (21..=400).collect::<Vec<_>>(),
        "every message once, in order"
    );
    let extra = tokio::time::timeout(Duration::from_millis(100), feed.next()).await;
    assert!(extra.is_err(), "no duplicate after the seam: {extra:?}");
    let up_to_date = h
        .service
        .subscribe(&ann, room.id, Some(Seq(400)))
        .await
        .unwrap();
    assert_eq!(up_to_date.last_seq(), Seq(400));
}

/// A harness whose subscribers lag after 4 events, with user "ann" and her room "flood".
async fn flood(store: Arc<dyn Store>) -> (Harness, User, ChatRoom) {
    let h = Harness::with_broker(store, Config::for_tests(), LocalBroker::new(4));
    let ann = h.user("ann").await;
    let room = h.room(&ann, "flood").await;
    (h, ann, room)
}

/// Checks that lagging subscribers recover from the store.
pub async fn lagging_subscribers_recover_from_the_store(store: Arc<dyn Store>) {
    let (h, ann, room) = flood(store).await;
    let mut slow = h.service.subscribe(&ann, room.id, None).await.unwrap();
    for i in 0..50 {
        h.service
            .post(&ann, room.id, &format!("m{i}"), None)
            .await
            .unwrap();
    }
    let mut got = Vec::new();
    while got.len() < 50 {
        got.extend(next_seqs(&mut slow).await);
    }
    assert_eq!(
        got,
        (1..=50).collect::<Vec<_>>(),
        "lag is repaired from the store"
    );
}

/// Checks that a lagging subscriber re-reads from the store only what the broker dropped: the
/// messages still in the broker's buffer come from the broker (the same shared envelope a
/// subscriber that kept up got), not from a second store read.
pub async fn lag_recovery_reads_only_what_the_broker_dropped(store: Arc<dyn Store>) {
    let (h, ann, room) = flood(store).await;
    let mut fast = h.service.subscribe(&ann, room.id, None).await.unwrap();
    let mut slow = h.service.subscribe(&ann, room.id, None).await.unwrap();
    let mut shared = Vec::new();
    for i in 0..30 {
        h.service
            .post(&ann, room.id, &format!("m{i}"), None)
            .await
            .unwrap();
        loop {
            match tokio::time::timeout(WAIT, fast.next()).await {
                Ok(Ok(Some(FeedItem::Event(env)))) => {
                    if matches!(env.event, RoomEvent::MessagePosted { .. }) {
                        shared.push(env);
                        break;
                    }
                }
                other => panic!("expected an event, got {other:?}"),
            }
        }
    }
    let mut seqs = Vec::new();
    let mut from_broker = Vec::new();
    while seqs.len() < 30 {
        match tokio::time::timeout(WAIT, slow.next()).await {
            Ok(Ok(Some(FeedItem::Event(env)))) => {
                if let RoomEvent::MessagePosted { message } = &env.event {
                    let seq = message.seq.0;
                    seqs.push(seq);
                    let index = usize::try_from(seq - 1).unwrap();
                    if Arc::ptr_eq(&env, &shared[index]) {
                        from_broker.push(seq);
                    }
                }
            }
            other => panic!("expected an event, got {other:?}"),
        }
    }
    assert_eq!(seqs, (1..=30).collect::<Vec<_>>(), "in order, none lost");
    assert_eq!(
        from_broker,
        [27, 28, 29, 30],
        "only what the 4-event buffer lost is read from the store"
    );
}

/// Checks that presence and typing reach the room.
pub async fn presence_and_typing_reach_the_room(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let ann = h.user("ann").await;
    let bob = h.user("bob").await;
    let room = h.room(&ann, "presence").await;
    h.service.join_room(&bob, room.id).await.unwrap();
    let mut feed = h.service.subscribe(&ann, room.id, None).await.unwrap();
    let tab1 = h.service.enter_presence(&bob, room.id).await;
    let tab2 = h.service.enter_presence(&bob, room.id).await;
    assert_eq!(h.service.online(room.id), ["bob"]);
    assert_eq!(
        next_event(&mut feed).await,
        RoomEvent::PresenceChanged {
            user: bob.id,
            username: "bob".into(),
            online: true
        }
    );
    h.service.typing(&bob, room.id).await.unwrap();
    assert_eq!(
        next_event(&mut feed).await,
        RoomEvent::Typing {
            user: bob.id,
            username: "bob".into()
        },
        "a second tab does not announce presence again"
    );
    tab1.leave().await;
    assert_eq!(h.service.online(room.id), ["bob"], "still one tab open");
    drop(tab2);
    assert_eq!(
        next_event(&mut feed).await,
        RoomEvent::PresenceChanged {
            user: bob.id,
            username: "bob".into(),
            online: false
        }
    );
    assert!(h.service.online(room.id).is_empty());
    let carl = h.user("carl").await;
    h.service.join_room(&carl, room.id).await.unwrap();
    assert_eq!(
        next_event(&mut feed).await,
        RoomEvent::MemberJoined {
            user: carl.id,
            username: "carl".into()
        }
    );
    h.service.leave_room(&carl, room.id).await.unwrap();
    assert_eq!(
        next_event(&mut feed).await,
        RoomEvent::MemberLeft {
            user: carl.id,
            username: "carl".into()
        }
    );
}

/// Checks that room deletion ends feeds.
pub async fn room_deletion_ends_feeds(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let root = h.admin("root").await;
    let room = h.room(&root, "doomed").await;
    let mut feed = h.service.subscribe(&root, room.id, None).await.unwrap();
    h.service.admin_delete_room(&root, room.id).await.unwrap();
    let item = tokio::time::timeout(WAIT, feed.next())
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(item, Some(FeedItem::RoomDeleted)), "{item:?}");
    assert!(feed.next().await.unwrap().is_none(), "the feed is over");
    assert!(h.service.subscribe(&root, room.id, None).await.is_err());
}

/// Checks that messages published out of seq order reach a feed in seq order, whether the gap
/// closes through the broker or has to be filled from the store.
pub async fn out_of_order_publishes_are_delivered_in_seq_order(store: Arc<dyn Store>) {
    use crate::Broker;
    let h = Harness::new(store);
    let ann = h.user("ann").await;
    let room = h.room(&ann, "shuffled").await;
    let mut feed = h.service.subscribe(&ann, room.id, None).await.unwrap();
    let posted = post_to_store(&h, &ann, &room, 5).await;
    let publish = |i: usize| {
        let (broker, message) = (h.broker.clone(), posted[i].clone());
        async move {
            broker
                .publish(room.id, RoomEvent::MessagePosted { message })
                .await
                .unwrap()
        }
    };
    // Seqs 3, 1, 2 arrive shuffled: the gap closes through the broker.
    publish(2).await;
    publish(0).await;
    publish(1).await;
    // Seq 5 arrives but seq 4 is never published: the feed fills the gap from the store.
    publish(4).await;
    let mut got = Vec::new();
    while got.len() < 5 {
        got.extend(next_seqs(&mut feed).await);
    }
    assert_eq!(got, [1, 2, 3, 4, 5]);
    publish(3).await;
    let late = tokio::time::timeout(Duration::from_millis(100), feed.next()).await;
    assert!(late.is_err(), "a late duplicate is dropped: {late:?}");
}

/// Checks that runs of messages published as one event (`MessagesPosted`) reach a feed whole
/// when they continue it, held when a gap comes first, cut to what is new when they overlap
/// what it already handed out, and dropped when they hold nothing new.
pub async fn runs_of_posts_reach_feeds_in_seq_order(store: Arc<dyn Store>) {
    use crate::Envelope;
    let h = Harness::new(Arc::clone(&store));
    let ann = h.user("ann").await;
    let room = h.room(&ann, "runs").await;
    // A channel of its own: what the store announces as it posts does not reach the feed.
    let (tx, rx) = tokio::sync::broadcast::channel(16);
    let mut feed = RoomFeed::new(room.id, Subscription::new(rx, None), store, Seq(0), false);
    let messages = post_to_store(&h, &ann, &room, 8).await;
    let run = |from: usize, to: usize| {
        RoomEvent::posted(messages[from - 1..to].to_vec()).expect("not empty")
    };
    let publish = |event: RoomEvent| {
        tx.send(Arc::new(Envelope::new(room.id, event)))
            .expect("the feed listens");
    };
    // 3-4 comes before 1-2: held until 1-2 arrives, then both go out whole.
    publish(run(3, 4));
    publish(run(1, 2));
    let first = next_event(&mut feed).await;
    assert!(
        matches!(&first, RoomEvent::MessagesPosted { messages } if messages.len() == 2),
        "a run goes out as one event: {first:?}"
    );
    assert_eq!(first.posted_messages()[0].body, "m1");
    assert_eq!(next_seqs(&mut feed).await, [3, 4]);
    // 2-5 overlaps: only 5 is new.
    publish(run(2, 5));
    let rest = next_event(&mut feed).await;
    assert!(
        matches!(&rest, RoomEvent::MessagePosted { message } if message.seq.0 == 5),
        "only what is new: {rest:?}"
    );
    // 7-8 after a gap that the broker never fills: 6 comes from the store, then 7-8.
    publish(run(7, 8));
    let mut got = Vec::new();
    while got.len() < 3 {
        got.extend(next_seqs(&mut feed).await);
    }
    assert_eq!(got, [6, 7, 8]);
    // Nothing new: dropped.
    publish(run(1, 8));
    let late = tokio::time::timeout(Duration::from_millis(100), feed.next()).await;
    assert!(late.is_err(), "a run of duplicates is dropped: {late:?}");
}
