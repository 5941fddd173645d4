//! The memory store announces its posts under the lock that assigns their seqs
//! (chat_core::PostListener): concurrent posters' messages reach a raw broker subscription
//! exactly once and in seq order.

use chat_core::testing::announce;
use chat_store_memory::MemoryStore;
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_posts_are_published_in_seq_order() {
    announce::concurrent_posts_are_published_in_seq_order(Arc::new(MemoryStore::new())).await;
}

#[test]
fn a_store_has_one_listener() {
    announce::a_store_has_one_listener(&MemoryStore::new());
}
