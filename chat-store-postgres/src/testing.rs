//! Test support (feature `testing`): the test server's URL from `CHAT_TEST_POSTGRES_URL`, one
//! fresh schema per test, and removal of schemas that earlier runs left behind. Shared by this
//! crate's tests and the reference servers' multi-node test, so they name and clean schemas
//! alike.

use sqlx::AssertSqlSafe;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The environment variable naming the test server.
pub const URL_VAR: &str = "CHAT_TEST_POSTGRES_URL";

/// Prefix of every test schema: `chat_t_<unix seconds>_<random hex>`.
pub const SCHEMA_PREFIX: &str = "chat_t_";

/// Test schemas older than this (seconds) are from finished runs and are dropped.
pub const STALE_SECS: u64 = 15 * 60;

/// The test server's URL, or `None` after printing why `test` is skipped. Under `CI=true` a
/// missing URL fails the test instead: CI must not pass by skipping.
pub fn test_url(test: &str) -> Option<String> {
    match std::env::var(URL_VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!(
                "{test}: CI=true but {URL_VAR} is not set: the PostgreSQL tests cannot be skipped"
            )
        }
        _ => {
            eprintln!(
                "skipped: {test}: {URL_VAR} not set (e.g. {URL_VAR}=postgres://postgres@127.0.0.1:5432/test)"
            );
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

/// A new test schema name, unique across processes.
pub fn fresh_schema_name() -> String {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    format!(
        "{SCHEMA_PREFIX}{}_{:012x}",
        now_secs(),
        h.finish() & 0xffff_ffff_ffff
    )
}

static CLEANED: AtomicBool = AtomicBool::new(false);

/// Once per process: drops test schemas older than [`STALE_SECS`] (left behind by killed runs,
/// or by the conformance suite, whose factory has no tear-down hook).
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
            .strip_prefix(SCHEMA_PREFIX)
            .and_then(|rest| rest.split('_').next())
            .and_then(|secs| secs.parse::<u64>().ok());
        if created.is_some_and(|c| c < cutoff) {
            drop_schema_with(&pool, &name).await;
        }
    }
    pool.close().await;
}

/// Drops one test schema and everything in it. Names that are not test schemas are refused.
pub async fn drop_schema(url: &str, schema: &str) {
    match sqlx::PgPool::connect(url).await {
        Ok(pool) => {
            drop_schema_with(&pool, schema).await;
            pool.close().await;
        }
        Err(e) => eprintln!("could not drop schema {schema}: {e}"),
    }
}

async fn drop_schema_with(pool: &sqlx::PgPool, schema: &str) {
    let is_test_schema = schema.starts_with(SCHEMA_PREFIX)
        && schema
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !is_test_schema {
        eprintln!("refusing to drop {schema:?}: not a test schema");
        return;
    }
    let sql = format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
    if let Err(e) = sqlx::query(AssertSqlSafe(sql)).execute(pool).await {
        eprintln!("could not drop schema {schema}: {e}");
    }
}
