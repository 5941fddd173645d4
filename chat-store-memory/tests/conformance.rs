//! Runs chat-core's whole conformance suite and the model-based property test against the
//! memory store.

use std::sync::Arc;

async fn store() -> Option<Arc<dyn chat_core::Store>> {
    Some(Arc::new(chat_store_memory::MemoryStore::new()))
}

chat_core::conformance_tests!(store);
