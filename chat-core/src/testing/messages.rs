//! Conformance cases: posting, the gap-free seq, idempotency, edit and delete.

use super::Harness;
use crate::{
    ChatError, Clock, Entity, HistoryPage, NewMessage, PostRequest, Seq, Store, StoreError,
    ValidationError,
};
use std::collections::BTreeSet;
use std::sync::Arc;

/// Checks that posts get consecutive seqs.
pub async fn posts_get_consecutive_seqs(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let ann = h.user("ann").await;
    let room = h.room(&ann, "room").await;
    let before = h.clock.now();
    for (i, body) in ["one", " two ", "three"].into_iter().enumerate() {
        let posted = h.service.post(&ann, room.id, body, None).await.unwrap();
        let m = posted.message;
        assert!(!posted.duplicate);
        assert_eq!(m.seq, Seq(i as i64 + 1));
        assert_eq!(m.body, body.trim());
        assert_eq!(
            (m.room, m.author, m.author_name.as_str()),
            (room.id, ann.id, "ann")
        );
        assert_eq!(m.created_at, before);
        assert!(!m.deleted && m.edited_at.is_none() && m.client_id.is_none());
        assert_eq!(h.store.message(room.id, m.seq).await.unwrap(), Some(m));
    }
    assert_eq!(
        h.store.room(room.id).await.unwrap().unwrap().last_seq,
        Seq(3)
    );
    assert!(h.store.message(room.id, Seq(4)).await.unwrap().is_none());
    assert!(h.store.message(room.id, Seq(0)).await.unwrap().is_none());
    assert!(h.store.message(room.id, Seq(-1)).await.unwrap().is_none());
}

/// Checks that concurrent posts get seqs one to hundred.
pub async fn concurrent_posts_get_seqs_one_to_hundred(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let owner = h.user("owner").await;
    let room = h.room(&owner, "busy").await;
    let mut users = vec![owner];
    for i in 0..4 {
        let u = h.user(&format!("poster{i}")).await;
        h.service.join_room(&u, room.id).await.unwrap();
        users.push(u);
    }
    let mut tasks = Vec::new();
    for i in 0..100 {
        let service = h.service.clone();
        let user = users[i % users.len()].clone();
        tasks.push(tokio::spawn(async move {
            service
                .post(
                    &user,
                    room.id,
                    &format!("message {i}"),
                    Some(&format!("c{i}")),
                )
                .await
        }));
    }
    let mut seqs = Vec::new();
    let mut ids = BTreeSet::new();
    for task in tasks {
        let posted = task.await.unwrap().unwrap();
        seqs.push(posted.message.seq.0);
        ids.insert(posted.message.id);
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=100).collect::<Vec<_>>(), "gap-free, no repeats");
    assert_eq!(ids.len(), 100, "message ids are unique");
    let all = h
        .store
        .history(
            room.id,
            HistoryPage::After {
                seq: Seq::ZERO,
                limit: 1000,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        all.iter().map(|m| m.seq.0).collect::<Vec<_>>(),
        (1..=100).collect::<Vec<_>>()
    );
    let bodies: BTreeSet<_> = all.iter().map(|m| m.body.clone()).collect();
    assert_eq!(bodies.len(), 100);
    assert_eq!(
        h.store.room(room.id).await.unwrap().unwrap().last_seq,
        Seq(100)
    );
}

/// Checks that rooms have independent seqs.
pub async fn rooms_have_independent_seqs(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let ann = h.user("ann").await;
    let a = h.room(&ann, "a").await;
    let b = h.room(&ann, "b").await;
    let mut tasks = Vec::new();
    for i in 0..40 {
        let service = h.service.clone();
        let ann = ann.clone();
        let room = if i % 2 == 0 { a.id } else { b.id };
        tasks.push(tokio::spawn(async move {
            service.post(&ann, room, "x", None).await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    for room in [a.id, b.id] {
        let page = h
            .store
            .history(room, HistoryPage::Latest { limit: 100 })
            .await
            .unwrap();
        assert_eq!(
            page.iter().map(|m| m.seq.0).collect::<Vec<_>>(),
            (1..=20).collect::<Vec<_>>()
        );
        assert!(page.iter().all(|m| m.room == room));
    }
}

/// Checks that posts with client id are idempotent.
pub async fn posts_with_client_id_are_idempotent(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let ann = h.user("ann").await;
    let bob = h.user("bob").await;
    let room = h.room(&ann, "room").await;
    h.service.join_room(&bob, room.id).await.unwrap();
    let first = h
        .service
        .post(&ann, room.id, "hello", Some("abc"))
        .await
        .unwrap();
    assert!(!first.duplicate);
    assert_eq!(first.message.client_id.as_deref(), Some("abc"));
    let again = h
        .service
        .post(&ann, room.id, "hello (resent)", Some("abc"))
        .await
        .unwrap();
    assert!(again.duplicate);
    assert_eq!(
        again.message, first.message,
        "the original comes back unchanged"
    );
    let bobs = h
        .service
        .post(&bob, room.id, "mine", Some("abc"))
        .await
        .unwrap();
    assert!(!bobs.duplicate, "client ids are per user");
    assert_eq!(bobs.message.seq, Seq(2));
    let plain = h.service.post(&ann, room.id, "no id", None).await.unwrap();
    let plain2 = h.service.post(&ann, room.id, "no id", None).await.unwrap();
    assert_ne!(
        plain.message.seq, plain2.message.seq,
        "without client_id every post is new"
    );
    assert_eq!(
        h.store.room(room.id).await.unwrap().unwrap().last_seq,
        Seq(4)
    );
    let id64 = "k".repeat(64);
    assert!(
        h.service
            .post(&ann, room.id, "long id", Some(&id64))
            .await
            .is_ok()
    );
}

/// Checks that concurrent duplicate posts store one message.
pub async fn concurrent_duplicate_posts_store_one_message(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let ann = h.user("ann").await;
    let room = h.room(&ann, "room").await;
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let service = h.service.clone();
        let ann = ann.clone();
        tasks.push(tokio::spawn(async move {
            service.post(&ann, room.id, "once", Some("same-id")).await
        }));
    }
    let mut fresh = 0;
    let mut seqs = BTreeSet::new();
    for task in tasks {
        let posted = task.await.unwrap().unwrap();
        fresh += usize::from(!posted.duplicate);
        seqs.insert(posted.message.seq);
    }
    assert_eq!(fresh, 1, "exactly one post writes");
    assert_eq!(seqs.into_iter().collect::<Vec<_>>(), vec![Seq(1)]);
    assert_eq!(
        h.store.room(room.id).await.unwrap().unwrap().last_seq,
        Seq(1)
    );
}

/// Checks that authors edit their own messages.
pub async fn authors_edit_their_own_messages(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let ann = h.user("ann").await;
    let bob = h.user("bob").await;
    let admin = h.admin("root").await;
    let room = h.room(&ann, "room").await;
    h.service.join_room(&bob, room.id).await.unwrap();
    let m = h
        .service
        .post(&ann, room.id, "typo", None)
        .await
        .unwrap()
        .message;
    h.clock.advance(std::time::Duration::from_secs(5));
    let edited = h
        .service
        .edit(&ann, room.id, m.seq, " fixed ")
        .await
        .unwrap();
    assert_eq!(edited.body, "fixed");
    assert_eq!(edited.seq, m.seq);
    assert_eq!(edited.id, m.id);
    assert_eq!(edited.created_at, m.created_at);
    assert_eq!(edited.edited_at, Some(h.clock.now()));
    assert_eq!(
        h.store.message(room.id, m.seq).await.unwrap().unwrap(),
        edited
    );
    for actor in [&bob, &admin] {
        let err = h
            .service
            .edit(actor, room.id, m.seq, "hijack")
            .await
            .unwrap_err();
        assert!(matches!(err, ChatError::Forbidden(_)), "{err:?}");
    }
    assert!(matches!(
        h.service
            .edit(&ann, room.id, Seq(99), "x")
            .await
            .unwrap_err(),
        ChatError::NotFound(Entity::Message)
    ));
    assert!(matches!(
        h.service
            .edit(&ann, room.id, m.seq, "   ")
            .await
            .unwrap_err(),
        ChatError::Validation(ValidationError::BodyEmpty)
    ));
    h.service.delete(&ann, room.id, m.seq).await.unwrap();
    assert!(matches!(
        h.service
            .edit(&ann, room.id, m.seq, "resurrect")
            .await
            .unwrap_err(),
        ChatError::NotFound(Entity::Message)
    ));
    assert!(
        h.store
            .edit_message(room.id, m.seq, "x".into(), h.clock.now())
            .await
            .is_err()
    );
}

/// Checks that deletes are soft and keep seq.
pub async fn deletes_are_soft_and_keep_seq(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let ann = h.user("ann").await;
    let bob = h.user("bob").await;
    let admin = h.admin("root").await;
    let room = h.room(&ann, "room").await;
    h.service.join_room(&bob, room.id).await.unwrap();
    let a1 = h
        .service
        .post(&ann, room.id, "first", None)
        .await
        .unwrap()
        .message;
    let b2 = h
        .service
        .post(&bob, room.id, "second", None)
        .await
        .unwrap()
        .message;
    assert!(matches!(
        h.service.delete(&bob, room.id, a1.seq).await.unwrap_err(),
        ChatError::Forbidden(_)
    ));
    let gone = h.service.delete(&ann, room.id, a1.seq).await.unwrap();
    assert!(gone.deleted);
    assert!(gone.body.is_empty());
    assert_eq!((gone.seq, gone.id), (a1.seq, a1.id));
    let by_admin = h.service.delete(&admin, room.id, b2.seq).await.unwrap();
    assert!(by_admin.deleted);
    assert!(matches!(
        h.service.delete(&ann, room.id, a1.seq).await.unwrap_err(),
        ChatError::NotFound(Entity::Message)
    ));
    let again = h.store.delete_message(room.id, a1.seq).await.unwrap();
    assert!(
        again.deleted && again.body.is_empty(),
        "store delete is idempotent"
    );
    let next = h
        .service
        .post(&ann, room.id, "third", None)
        .await
        .unwrap()
        .message;
    assert_eq!(next.seq, Seq(3), "deleted messages keep their seq");
}

/// Checks that posting requires membership.
pub async fn posting_requires_membership(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let ann = h.user("ann").await;
    let stranger = h.user("stranger").await;
    let room = h.room(&ann, "private-ish").await;
    let err = h
        .service
        .post(&stranger, room.id, "hi", None)
        .await
        .unwrap_err();
    assert!(matches!(err, ChatError::NotMember), "{err:?}");
    assert_eq!(err.code(), "not_member");
    assert!(matches!(
        h.service.typing(&stranger, room.id).await.unwrap_err(),
        ChatError::NotMember
    ));
    assert_eq!(
        h.store.room(room.id).await.unwrap().unwrap().last_seq,
        Seq::ZERO
    );
    // The store itself refuses, whoever calls it.
    let direct = |client_id: Option<&str>| NewMessage {
        room: room.id,
        author: stranger.id,
        body: "direct".into(),
        client_id: client_id.map(str::to_owned),
        created_at: h.clock.now(),
    };
    let refused = h.store.post_message(direct(None)).await;
    assert!(matches!(refused, Err(StoreError::NotMember)), "{refused:?}");
    h.service.join_room(&stranger, room.id).await.unwrap();
    assert!(
        h.service
            .post(&stranger, room.id, "hi", Some("k1"))
            .await
            .is_ok()
    );
    h.service.leave_room(&stranger, room.id).await.unwrap();
    assert!(matches!(
        h.service
            .post(&stranger, room.id, "again", None)
            .await
            .unwrap_err(),
        ChatError::NotMember
    ));
    let repeat = h.store.post_message(direct(Some("k1"))).await;
    assert!(
        matches!(repeat, Err(StoreError::NotMember)),
        "a non-member is refused even for a repeated client id: {repeat:?}"
    );
    assert_eq!(
        h.store.room(room.id).await.unwrap().unwrap().last_seq,
        Seq(1),
        "only the member's post was written"
    );
}

/// Checks that a batch of posts (`post_many` / `post_messages`) is posted in order, each post
/// succeeding or failing on its own: refusals, a repeated client id and an unknown room in the
/// middle change nothing for the others.
pub async fn batched_posts_keep_order_and_fail_alone(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let ann = h.user("ann").await;
    let bob = h.user("bob").await;
    let a = h.room(&ann, "room-a").await;
    let b = h.room(&ann, "room-b").await;
    let bobs = h.room(&bob, "bobs-room").await;
    let before = h
        .service
        .post(&ann, a.id, "before", Some("k0"))
        .await
        .unwrap();
    let post = |room, body, client_id| PostRequest {
        room,
        body,
        client_id,
    };
    let requests = [
        post(a.id, "a1", Some("k1")),
        post(b.id, "b1", None),
        post(a.id, "", None),                     // invalid body
        post(bobs.id, "not mine", None),          // not a member
        post(a.id, "a1 again", Some("k1")),       // repeats k1 of this very batch
        post(crate::RoomId(i64::MAX), "x", None), // no such room
        post(a.id, "a2", Some("k0")),             // repeats an earlier post
        post(a.id, "a3", None),
        post(b.id, "b2", Some("k2")),
    ];
    let results = h.service.post_many(&ann, &requests).await;
    assert_eq!(results.len(), requests.len());
    let seq = |i: usize| match &results[i] {
        Ok(p) => (p.message.room, p.message.seq, p.duplicate),
        Err(e) => panic!("request {i} failed: {e:?}"),
    };
    assert_eq!(seq(0), (a.id, Seq(2), false));
    assert_eq!(seq(1), (b.id, Seq(1), false));
    assert!(
        matches!(&results[2], Err(e) if e.code() == "invalid_body"),
        "{:?}",
        results[2]
    );
    assert!(
        matches!(&results[3], Err(ChatError::NotMember)),
        "{:?}",
        results[3]
    );
    assert_eq!(seq(4), (a.id, Seq(2), true), "a repeat within the batch");
    assert_eq!(results[4].as_ref().unwrap().message.body, "a1");
    assert!(
        matches!(&results[5], Err(ChatError::NotFound(Entity::Room))),
        "{:?}",
        results[5]
    );
    assert_eq!(seq(6), (a.id, before.message.seq, true));
    assert_eq!(seq(7), (a.id, Seq(3), false));
    assert_eq!(seq(8), (b.id, Seq(2), false));
    let bodies = |room| {
        let h = &h;
        async move {
            h.store
                .history(room, HistoryPage::Latest { limit: 50 })
                .await
                .unwrap()
                .into_iter()
                .map(|m| m.body)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(bodies(a.id).await, ["before", "a1", "a3"]);
    assert_eq!(bodies(b.id).await, ["b1", "b2"]);
    assert!(bodies(bobs.id).await.is_empty());
    // The store call itself: one result per message, in order.
    let direct = |room, body: &str| NewMessage {
        room,
        author: ann.id,
        body: body.into(),
        client_id: None,
        created_at: h.clock.now(),
    };
    let stored = h
        .store
        .post_messages(vec![
            direct(b.id, "b3"),
            direct(bobs.id, "no"),
            direct(b.id, "b4"),
        ])
        .await;
    assert_eq!(stored.len(), 3);
    assert_eq!(stored[0].as_ref().unwrap().message.seq, Seq(3));
    assert!(
        matches!(stored[1], Err(StoreError::NotMember)),
        "{:?}",
        stored[1]
    );
    assert_eq!(stored[2].as_ref().unwrap().message.seq, Seq(4));
    assert!(h.store.post_messages(Vec::new()).await.is_empty());
    assert!(h.service.post_many(&ann, &[]).await.is_empty());
}

/// Checks that invalid message input is rejected.
pub async fn invalid_message_input_is_rejected(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let ann = h.user("ann").await;
    let room = h.room(&ann, "room").await;
    let long = "x".repeat(4001);
    let cases: [(&str, Option<&str>, &str); 5] = [
        ("", None, "invalid_body"),
        (" \n\t ", None, "invalid_body"),
        (&long, None, "invalid_body"),
        ("nul\0byte", None, "invalid_body"),
        ("fine", Some(""), "invalid_client_id"),
    ];
    for (body, client_id, code) in cases {
        let err = h
            .service
            .post(&ann, room.id, body, client_id)
            .await
            .unwrap_err();
        assert_eq!(err.code(), code, "{body:?}");
    }
    let long_id = "k".repeat(65);
    let err = h
        .service
        .post(&ann, room.id, "fine", Some(&long_id))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "invalid_client_id");
    assert_eq!(
        h.store.room(room.id).await.unwrap().unwrap().last_seq,
        Seq::ZERO,
        "nothing written"
    );
    let max = "é".repeat(4000);
    let ok = h.service.post(&ann, room.id, &max, None).await.unwrap();
    assert_eq!(ok.message.body, max, "multi-byte text round-trips");
    let unicode = "emoji 🎉 and <b>markup</b> & \"quotes\"";
    let m = h
        .service
        .post(&ann, room.id, unicode, None)
        .await
        .unwrap()
        .message;
    assert_eq!(
        h.store.message(room.id, m.seq).await.unwrap().unwrap().body,
        unicode
    );
}
