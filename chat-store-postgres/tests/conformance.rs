//! The shared chat-core conformance suite (and its model-based property test) against
//! PostgreSQL, one fresh schema per case. Skips, saying so, without `CHAT_TEST_POSTGRES_URL`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chat_store_postgres::PostgresStore;
use std::sync::Arc;

async fn store() -> Option<Arc<dyn chat_core::Store>> {
    let url = common::url("conformance")?;
    common::drop_stale_schemas(&url).await;
    let store = PostgresStore::connect_with_schema(&url, &common::fresh_schema())
        .await
        .expect("connect to the test server");
    Some(Arc::new(store))
}

chat_core::conformance_tests!(store);
