//! Conformance cases: history pages and their edges.

use super::{Harness, seqs};
use crate::{HistoryPage, Seq, Store};
use std::sync::Arc;

/// Checks that empty room has empty pages.
pub async fn empty_room_has_empty_pages(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let ann = h.user("ann").await;
    let room = h.room(&ann, "empty").await;
    for page in [
        HistoryPage::Latest { limit: 50 },
        HistoryPage::Before {
            seq: Seq(1),
            limit: 50,
        },
        HistoryPage::Before {
            seq: Seq(100),
            limit: 50,
        },
        HistoryPage::After {
            seq: Seq::ZERO,
            limit: 50,
        },
    ] {
        let slice = h.service.history(&ann, room.id, page).await.unwrap();
        assert!(slice.messages.is_empty(), "{page:?}");
        assert!(!slice.has_more, "{page:?}");
    }
}

/// Checks that latest before and after pages.
pub async fn latest_before_and_after_pages(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let ann = h.user("ann").await;
    let room = h.room(&ann, "long").await;
    for i in 1..=120 {
        h.service
            .post(&ann, room.id, &format!("m{i}"), None)
            .await
            .unwrap();
    }
    let get = |page| {
        let (service, ann) = (h.service.clone(), ann.clone());
        async move { service.history(&ann, room.id, page).await.unwrap() }
    };
    let latest = get(HistoryPage::Latest { limit: 50 }).await;
    assert_eq!(seqs(&latest.messages), (71..=120).collect::<Vec<_>>());
    assert!(latest.has_more);
    assert_eq!(latest.messages[0].body, "m71");
    let before = get(HistoryPage::Before {
        seq: Seq(71),
        limit: 50,
    })
    .await;
    assert_eq!(seqs(&before.messages), (21..=70).collect::<Vec<_>>());
    assert!(before.has_more);
    let first = get(HistoryPage::Before {
        seq: Seq(21),
        limit: 50,
    })
    .await;
    assert_eq!(seqs(&first.messages), (1..=20).collect::<Vec<_>>());
    assert!(!first.has_more, "reached seq 1");
    assert!(
        get(HistoryPage::Before {
            seq: Seq(1),
            limit: 50
        })
        .await
        .messages
        .is_empty()
    );
    assert!(
        get(HistoryPage::Before {
            seq: Seq(0),
            limit: 50
        })
        .await
        .messages
        .is_empty()
    );
    assert!(
        get(HistoryPage::Before {
            seq: Seq(-5),
            limit: 50
        })
        .await
        .messages
        .is_empty()
    );
    let beyond = get(HistoryPage::Before {
        seq: Seq(1000),
        limit: 5,
    })
    .await;
    assert_eq!(seqs(&beyond.messages), (116..=120).collect::<Vec<_>>());
    let after = get(HistoryPage::After {
        seq: Seq(100),
        limit: 10,
    })
    .await;
    assert_eq!(seqs(&after.messages), (101..=110).collect::<Vec<_>>());
    assert!(after.has_more);
    let tail = get(HistoryPage::After {
        seq: Seq(110),
        limit: 10,
    })
    .await;
    assert_eq!(seqs(&tail.messages), (111..=120).collect::<Vec<_>>());
    assert!(!tail.has_more, "exactly reached the end");
    assert!(
        get(HistoryPage::After {
            seq: Seq(120),
            limit: 10
        })
        .await
        .messages
        .is_empty()
    );
    let from_start = get(HistoryPage::After {
        seq: Seq(-3),
        limit: 3,
    })
    .await;
    assert_eq!(seqs(&from_start.messages), [1, 2, 3]);
    // The store itself, without the service's clamping.
    let raw = h
        .store
        .history(
            room.id,
            HistoryPage::Before {
                seq: Seq(3),
                limit: 10,
            },
        )
        .await
        .unwrap();
    assert_eq!(seqs(&raw), [1, 2]);
    let none = h
        .store
        .history(room.id, HistoryPage::Latest { limit: 0 })
        .await
        .unwrap();
    assert!(none.is_empty(), "limit 0 gives nothing");
}

/// Checks that a page of history stops at `Limits::page_bytes_max` of bodies, keeping the
/// messages next to where the page starts, and says there is more.
pub async fn pages_are_cut_at_the_byte_limit(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let ann = h.user("ann").await;
    let room = h.room(&ann, "long").await;
    let limits = h.service.config().limits.clone();
    let body = "x".repeat(limits.body_max);
    let fit = limits.page_bytes_max / body.len();
    let total = fit + 10;
    assert!(
        total <= limits.page_max,
        "the test needs a page limit above {total}"
    );
    for _ in 0..total {
        h.service.post(&ann, room.id, &body, None).await.unwrap();
    }
    let latest = h
        .service
        .history(&ann, room.id, HistoryPage::Latest { limit: total })
        .await
        .unwrap();
    assert_eq!(latest.messages.len(), fit);
    assert_eq!(
        latest.messages.last().map(|m| m.seq),
        Some(Seq(total as i64))
    );
    assert!(latest.has_more);
    let first = latest.messages[0].seq;
    let before = h
        .service
        .history(
            &ann,
            room.id,
            HistoryPage::Before {
                seq: first,
                limit: total,
            },
        )
        .await
        .unwrap();
    assert_eq!(before.messages.len(), total - fit);
    assert_eq!(before.messages.last().map(|m| m.seq.0 + 1), Some(first.0));
    assert!(!before.has_more);
    let after = h
        .service
        .history(
            &ann,
            room.id,
            HistoryPage::After {
                seq: Seq::ZERO,
                limit: total,
            },
        )
        .await
        .unwrap();
    assert_eq!(after.messages.len(), fit);
    assert_eq!(after.messages[0].seq, Seq(1));
    assert!(after.has_more);
}

/// Checks that pages at the ends of the seq range neither overflow nor find anything odd:
/// before `i64::MIN` and after `i64::MAX` are empty, the other two hold the whole room.
pub async fn pages_at_the_ends_of_the_seq_range(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let ann = h.user("ann").await;
    let room = h.room(&ann, "edges").await;
    for i in 1..=5 {
        h.service
            .post(&ann, room.id, &format!("m{i}"), None)
            .await
            .unwrap();
    }
    let get = |page| {
        let (service, ann) = (h.service.clone(), ann.clone());
        async move { service.history(&ann, room.id, page).await.unwrap() }
    };
    for page in [
        HistoryPage::Before {
            seq: Seq(i64::MIN),
            limit: 50,
        },
        HistoryPage::After {
            seq: Seq(i64::MAX),
            limit: 50,
        },
    ] {
        let slice = get(page).await;
        assert!(slice.messages.is_empty(), "{page:?}");
        assert!(!slice.has_more, "{page:?}");
        let raw = h.store.history(room.id, page).await.unwrap();
        assert!(raw.is_empty(), "{page:?}: the store itself");
    }
    let before_max = get(HistoryPage::Before {
        seq: Seq(i64::MAX),
        limit: 50,
    })
    .await;
    assert_eq!(seqs(&before_max.messages), [1, 2, 3, 4, 5]);
    assert!(!before_max.has_more);
    let newest = get(HistoryPage::Before {
        seq: Seq(i64::MAX),
        limit: 2,
    })
    .await;
    assert_eq!(seqs(&newest.messages), [4, 5]);
    assert!(newest.has_more);
    let after_min = get(HistoryPage::After {
        seq: Seq(i64::MIN),
        limit: 50,
    })
    .await;
    assert_eq!(seqs(&after_min.messages), [1, 2, 3, 4, 5]);
    assert!(!after_min.has_more);
}

/// Checks that page limits are clamped.
pub async fn page_limits_are_clamped(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let ann = h.user("ann").await;
    let room = h.room(&ann, "big").await;
    let max = h.service.config().limits.page_max;
    for i in 0..max + 10 {
        h.service
            .post(&ann, room.id, &format!("m{i}"), None)
            .await
            .unwrap();
    }
    let huge = h
        .service
        .history(&ann, room.id, HistoryPage::Latest { limit: usize::MAX })
        .await
        .unwrap();
    assert_eq!(huge.messages.len(), max);
    assert!(huge.has_more);
    let zero = h
        .service
        .history(&ann, room.id, HistoryPage::Latest { limit: 0 })
        .await
        .unwrap();
    assert!(zero.messages.is_empty());
    let after = h
        .service
        .history(
            &ann,
            room.id,
            HistoryPage::After {
                seq: Seq::ZERO,
                limit: max + 1,
            },
        )
        .await
        .unwrap();
    assert_eq!(after.messages.len(), max);
    assert!(after.has_more);
}

/// Checks that deleted messages stay in history.
pub async fn deleted_messages_stay_in_history(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let ann = h.user("ann").await;
    let room = h.room(&ann, "room").await;
    for i in 1..=5 {
        h.service
            .post(&ann, room.id, &format!("m{i}"), None)
            .await
            .unwrap();
    }
    h.service.delete(&ann, room.id, Seq(3)).await.unwrap();
    h.service
        .edit(&ann, room.id, Seq(4), "m4 edited")
        .await
        .unwrap();
    let page = h
        .service
        .history(&ann, room.id, HistoryPage::Latest { limit: 10 })
        .await
        .unwrap();
    assert_eq!(seqs(&page.messages), [1, 2, 3, 4, 5]);
    assert!(page.messages[2].deleted && page.messages[2].body.is_empty());
    assert_eq!(page.messages[3].body, "m4 edited");
    assert!(page.messages[3].edited_at.is_some());
    assert!(
        page.messages
            .iter()
            .filter(|m| m.seq != Seq(3))
            .all(|m| !m.deleted)
    );
}
