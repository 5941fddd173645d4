//! Conformance cases: full-text search within a room.

use super::{Harness, seqs};
use crate::{ChatError, Seq, Store};
use std::sync::Arc;

/// Checks that search matches word prefixes.
pub async fn search_matches_word_prefixes(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let ann = h.user("ann").await;
    let room = h.room(&ann, "room").await;
    for body in [
        "The quick brown fox",      // 1
        "jumps over the lazy dog",  // 2
        "QUICKLY now, brown bear!", // 3
        "nothing to see",           // 4
        "a quick-witted reply",     // 5
    ] {
        h.service.post(&ann, room.id, body, None).await.unwrap();
    }
    let find = |q: &'static str| {
        let (service, ann) = (h.service.clone(), ann.clone());
        async move { seqs(&service.search(&ann, room.id, q, None, 50).await.unwrap()) }
    };
    assert_eq!(
        find("quick").await,
        [5, 3, 1],
        "prefix, case-insensitive, newest first"
    );
    assert_eq!(find("Quick Brown").await, [3, 1], "every word must match");
    assert_eq!(
        find("brown quick").await,
        [3, 1],
        "word order does not matter"
    );
    assert_eq!(find("dog").await, [2]);
    assert_eq!(find("og").await, Vec::<i64>::new(), "infixes do not match");
    assert_eq!(find("witted").await, [5], "punctuation separates words");
    assert_eq!(find("zebra").await, Vec::<i64>::new());
    let err = h
        .service
        .search(&ann, room.id, "   ", None, 10)
        .await
        .unwrap_err();
    assert!(matches!(err, ChatError::Validation(_)));
    let long = "q".repeat(201);
    assert!(
        h.service
            .search(&ann, room.id, &long, None, 10)
            .await
            .is_err()
    );
    assert_eq!(
        find("\"quick*\" -(").await,
        [5, 3, 1],
        "query syntax is not interpreted"
    );
}

/// Checks that search follows edits and deletes.
pub async fn search_follows_edits_and_deletes(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let ann = h.user("ann").await;
    let room = h.room(&ann, "room").await;
    h.service
        .post(&ann, room.id, "apples and pears", None)
        .await
        .unwrap();
    h.service
        .post(&ann, room.id, "more apples", None)
        .await
        .unwrap();
    h.service
        .edit(&ann, room.id, Seq(1), "bananas and pears")
        .await
        .unwrap();
    let find = |q: &'static str| {
        let (service, ann) = (h.service.clone(), ann.clone());
        async move { seqs(&service.search(&ann, room.id, q, None, 50).await.unwrap()) }
    };
    assert_eq!(find("apples").await, [2]);
    assert_eq!(find("bananas").await, [1]);
    h.service.delete(&ann, room.id, Seq(2)).await.unwrap();
    assert_eq!(find("apples").await, Vec::<i64>::new());
    assert_eq!(find("more").await, Vec::<i64>::new());
    assert_eq!(find("pears").await, [1]);
}

/// Checks that search is paged and scoped to the room.
pub async fn search_is_paged_and_scoped_to_the_room(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let ann = h.user("ann").await;
    let here = h.room(&ann, "here").await;
    let there = h.room(&ann, "there").await;
    for i in 1..=30 {
        h.service
            .post(&ann, here.id, &format!("needle {i}"), None)
            .await
            .unwrap();
        h.service
            .post(&ann, there.id, &format!("needle elsewhere {i}"), None)
            .await
            .unwrap();
    }
    let page1 = h
        .service
        .search(&ann, here.id, "needle", None, 10)
        .await
        .unwrap();
    assert_eq!(seqs(&page1), (21..=30).rev().collect::<Vec<_>>());
    assert!(page1.iter().all(|m| m.room == here.id));
    let page2 = h
        .service
        .search(&ann, here.id, "needle", Some(Seq(21)), 10)
        .await
        .unwrap();
    assert_eq!(seqs(&page2), (11..=20).rev().collect::<Vec<_>>());
    let none = h
        .service
        .search(&ann, here.id, "elsewhere", None, 10)
        .await
        .unwrap();
    assert!(none.is_empty(), "other rooms are not searched");
    let zero = h
        .service
        .search(&ann, here.id, "needle", None, 0)
        .await
        .unwrap();
    assert!(zero.is_empty());
}
