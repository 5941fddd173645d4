//! Shared helpers of the integration tests: the server URL from `CHAT_TEST_POSTGRES_URL`, one
//! fresh schema per test, and clean-up of schemas earlier runs left behind.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use chat_store_postgres::PostgresStore;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The environment variable naming the test server.
pub const URL_VAR: &str = "CHAT_TEST_POSTGRES_URL";

/// Prefix of every schema the tests create: `chat_t_<unix seconds>_<random>`.
const PREFIX: &str = "chat_t_";

/// Schemas older than this are from finished runs and are dropped.
const STALE_SECS: u64 = 15 * 60;

/// The test server's URL, or `None` after printing why the test is skipped.
pub fn url(test: &str) -> Option<String> {
    match std::env::var(URL_VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!("skipped: {test}: CHAT_TEST_POSTGRES_URL not set");
            None
        }
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A new schema name, unique across processes.
pub fn fresh_schema() -> String {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    format!(
        "{PREFIX}{}_{:012x}",
        now_secs(),
        h.finish() & 0xffff_ffff_ffff
    )
}

static CLEANED: AtomicBool = AtomicBool::new(false);

/// Once per process: drops test schemas older than [`STALE_SECS`] (left behind by earlier runs,
/// for example by the conformance suite, whose factory has no tear-down hook).
pub async fn drop_stale_schemas(url: &str) {
    if CLEANED.swap(true, Ordering::SeqCst) {
        return;
    }
    let Ok(pool) = sqlx::PgPool::connect(url).await else {
        return;
    };
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'chat\\_t\\_%'",
    )
    .fetch_all(&pool)
    .await
    .unwrap_or_default();
    let cutoff = now_secs().saturating_sub(STALE_SECS);
    for name in names {
        let created = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split('_').next())
            .and_then(|secs| secs.parse::<u64>().ok());
        if created.is_some_and(|c| c < cutoff) {
            drop_schema_with(&pool, &name).await;
        }
    }
    pool.close().await;
}

async fn drop_schema_with(pool: &sqlx::PgPool, schema: &str) {
    assert!(schema.starts_with(PREFIX));
    assert!(
        schema
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
    );
    let sql = format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
    if let Err(e) = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(pool).await {
        eprintln!("could not drop schema {schema}: {e}");
    }
}

/// Drops one test schema.
pub async fn drop_schema(url: &str, schema: &str) {
    if let Ok(pool) = sqlx::PgPool::connect(url).await {
        drop_schema_with(&pool, schema).await;
        pool.close().await;
    }
}

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
