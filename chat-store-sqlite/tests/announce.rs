//! Posts are published by the store's writer in commit order (chat_core::PostListener): a raw
//! broker subscription, with no reordering of its own, sees every post of concurrent posters
//! exactly once and in seq order.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chat_core::testing::announce;
use chat_store_sqlite::SqliteStore;
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_posts_are_published_in_seq_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("a.db")).await.unwrap();
    announce::concurrent_posts_are_published_in_seq_order(Arc::new(store)).await;
}

#[tokio::test]
async fn a_store_has_one_listener() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("b.db")).await.unwrap();
    announce::a_store_has_one_listener(&store);
}
