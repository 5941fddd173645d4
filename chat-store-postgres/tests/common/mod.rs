//! Shared helpers of the integration tests: the server URL from `CHAT_TEST_POSTGRES_URL`, one
//! fresh schema per test, and clean-up of schemas earlier runs left behind.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use chat_store_postgres::PostgresStore;
pub use chat_store_postgres::testing::{
    drop_schema, drop_stale_schemas, fresh_schema_name as fresh_schema, test_url as url,
};

/// A fresh schema and a store on it; call [`TestDb::finish`] at the end to drop the schema.
pub struct TestDb {
    pub url: String,
    pub schema: String,
    pub store: PostgresStore,
}

impl TestDb {
    /// `None` (after saying so) when no server is configured.
    pub async fn new(test: &str) -> Option<TestDb> {
        let url = url(test)?;
        drop_stale_schemas(&url).await;
        let schema = fresh_schema();
        let store = PostgresStore::connect_with_schema(&url, &schema)
            .await
            .expect("connect to the test server");
        Some(TestDb { url, schema, store })
    }

    /// Another store (another pool: another "node") on the same schema.
    pub async fn another_node(&self) -> PostgresStore {
        PostgresStore::connect_with_schema(&self.url, &self.schema)
            .await
            .expect("connect a second node")
    }

    /// Closes the store and drops the schema.
    pub async fn finish(self) {
        self.store.close().await;
        drop_schema(&self.url, &self.schema).await;
    }
}
