//! Connecting: parse the URL, optionally pin every pooled connection to one schema, open the
//! pool and run the embedded migrations before the store is handed out.

use crate::store::Shared;
use crate::{PgError, PostgresStore, migrations};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// How to connect a [`PostgresStore`]. [`PostgresStore::connect`] and
/// [`PostgresStore::connect_with_schema`] cover the common cases.
#[derive(Debug, Clone)]
pub struct PostgresConfig {
    url: String,
    schema: Option<String>,
    max_connections: u32,
    acquire_timeout: Duration,
}

impl PostgresConfig {
    /// Connects to `url` (`postgres://user:password@host:port/database?...`), using the
    /// connection's default `search_path`, with up to 10 pooled connections.
    pub fn new(url: impl Into<String>) -> PostgresConfig {
        PostgresConfig {
            url: url.into(),
            schema: None,
            max_connections: 10,
            acquire_timeout: Duration::from_secs(30),
        }
    }

    /// Keeps every table in `schema` (created if missing; `search_path` is set on every pooled
    /// connection). The name must match `[a-z_][a-z0-9_]*` and be at most 63 bytes.
    pub fn schema(mut self, schema: impl Into<String>) -> PostgresConfig {
        self.schema = Some(schema.into());
        self
    }

    /// The most connections the pool opens (at least 1).
    pub fn max_connections(mut self, max: u32) -> PostgresConfig {
        self.max_connections = max.max(1);
        self
    }

    /// How long a call waits for a free pooled connection before it fails.
    pub fn acquire_timeout(mut self, timeout: Duration) -> PostgresConfig {
        self.acquire_timeout = timeout;
        self
    }
}

/// Whether `schema` is a plain lower-case identifier, safe to quote into DDL and `search_path`.
fn valid_schema(schema: &str) -> bool {
    let mut chars = schema.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
    first_ok
        && schema.len() <= 63
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

impl PostgresStore {
    /// Connects to `url` and migrates the database's default schema (usually `public`; since
    /// PostgreSQL 15 only its owner may create tables there by default, so either connect as
    /// the database owner for the first start or use
    /// [`connect_with_schema`](PostgresStore::connect_with_schema) with a schema the role owns).
    pub async fn connect(url: &str) -> Result<PostgresStore, PgError> {
        PostgresStore::connect_with(PostgresConfig::new(url)).await
    }

    /// Connects to `url` and keeps every table in `schema`, created if missing. Tests use one
    /// fresh schema each; deployments can use it to share a database with other applications.
    pub async fn connect_with_schema(url: &str, schema: &str) -> Result<PostgresStore, PgError> {
        PostgresStore::connect_with(PostgresConfig::new(url).schema(schema)).await
    }

    /// Connects as `config` says and migrates.
    pub async fn connect_with(config: PostgresConfig) -> Result<PostgresStore, PgError> {
        let mut options =
            PgConnectOptions::from_str(&config.url)?.application_name("chat-store-postgres");
        if let Some(schema) = &config.schema {
            if !valid_schema(schema) {
                return Err(PgError::InvalidSchema(schema.clone()));
            }
            options = options.options([("search_path", schema.as_str())]);
        }
        let pool = PgPoolOptions::new()
            .max_connections(config.max_connections)
            .acquire_timeout(config.acquire_timeout)
            .connect_with(options.clone())
            .await?;
        migrations::migrate(&pool, config.schema.as_deref()).await?;
        let schema: Option<String> = sqlx::query_scalar("SELECT current_schema()")
            .fetch_one(&pool)
            .await?;
        Ok(PostgresStore {
            pool,
            shared: Arc::new(Shared {
                options,
                schema: schema.unwrap_or_default(),
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names_are_plain_identifiers() {
        assert!(valid_schema("chat_test_1"));
        assert!(valid_schema("_x"));
        assert!(!valid_schema(""));
        assert!(!valid_schema("1abc"));
        assert!(!valid_schema("Chat"));
        assert!(!valid_schema("a\"; DROP TABLE users; --"));
        assert!(!valid_schema(&"a".repeat(64)));
    }
}
