//! Helpers of the tests that run the server binary: a fresh PostgreSQL schema per run (and its
//! removal), the server URL that pins a node to that schema, and nodes: server processes
//! (`axum-server serve`, started by server-common's testing helpers) on that database.

// Each test crate uses a part of these helpers.
#![allow(dead_code, unused_imports, clippy::unwrap_used, clippy::expect_used)]

use chat_store_postgres::PostgresStore;
pub use chat_store_postgres::testing::test_url;
use chat_store_postgres::testing::{self, drop_stale_schemas, fresh_schema_name};
use server_common::testing::{Launch, ServerProcess};
use sqlx::AssertSqlSafe;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `url` with `options=-c search_path=<schema>` added: sqlx passes `options` to the server as
/// the startup `options` parameter, so every connection of a node (its pool and its `LISTEN`
/// connection) uses `schema`, and the broker's channel (named after `current_schema()`) is
/// the schema's too. This is how an unmodified server is pointed at a schema.
pub fn url_with_search_path(url: &str, schema: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-c%20search_path%3D{schema}")
}

/// One fresh schema on the test server, created and migrated; [`TestSchema::drop_schema`]
/// removes it.
pub struct TestSchema {
    /// The server URL as given.
    url: String,
    /// The schema's name.
    pub name: String,
    /// The URL the nodes get: `url` pinned to the schema.
    pub node_url: String,
}

impl TestSchema {
    /// Drops stale test schemas, then creates and migrates a new one.
    pub async fn create(url: &str) -> TestSchema {
        drop_stale_schemas(url).await;
        let name = fresh_schema_name();
        // Creating the schema up front matters: with only `search_path` set, a server would
        // have nowhere to create its tables. Migrating here is harmless (the nodes find the
        // schema at the current version).
        let store = PostgresStore::connect_with_schema(url, &name)
            .await
            .unwrap_or_else(|e| panic!("cannot create schema {name} on the test server: {e}"));
        assert_eq!(store.schema(), name);
        store.close().await;
        TestSchema {
            url: url.to_owned(),
            node_url: url_with_search_path(url, &name),
            name,
        }
    }

    /// The usernames stored in the schema (proof that the nodes really wrote there).
    pub async fn usernames(&self) -> Vec<String> {
        let pool = sqlx::PgPool::connect(&self.url).await.unwrap();
        let sql = format!(
            "SELECT username::text FROM \"{}\".users ORDER BY username",
            self.name
        );
        let names: Vec<String> = sqlx::query_scalar(AssertSqlSafe(sql))
            .fetch_all(&pool)
            .await
            .unwrap();
        pool.close().await;
        names
    }

    /// Drops the schema and everything in it.
    pub async fn drop_schema(&self) {
        testing::drop_schema(&self.url, &self.name).await;
    }
}

/// Where node `name`'s output goes for the run using `schema` (removed after a passing run,
/// kept and its tail printed after a failing one).
pub fn log_path(schema: &str, name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("multi_node_{schema}_{name}.log"))
}

/// The last `lines` lines of a file, for failure reports.
pub fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// One server process.
pub struct Node {
    /// `A` or `B`.
    pub name: String,
    /// Where it listens.
    pub addr: SocketAddr,
    server: ServerProcess,
}

impl Node {
    /// Starts `exe serve` on a free port against `database_url`, its output in `log`, and
    /// waits for `/healthz`. Rate limits are off (the test posts hundreds of messages a
    /// second); the WebSocket client sends no `Origin`, so no allow-list is needed.
    pub async fn start(exe: &str, name: &str, database_url: &str, log: PathBuf) -> Node {
        let server = ServerProcess::launch(Launch {
            exe,
            database: database_url,
            log_filter: "warn,chat_store_postgres=info",
            args: &[
                "--rate-limit",
                "off",
                "--login-rate-limit",
                "off",
                "--shutdown-timeout",
                "1",
            ],
            envs: &[],
            log: Some(&log),
        })
        .await;
        Node {
            name: name.to_owned(),
            addr: server.addr,
            server,
        }
    }

    /// SIGTERM, then waits up to `wait` for the exit (see [`ServerProcess::terminate`]).
    pub async fn terminate(&mut self, wait: Duration) -> std::process::ExitStatus {
        self.server.terminate(wait).await
    }

    /// SIGKILL and reap (see [`ServerProcess::kill`]).
    pub async fn kill(&mut self) {
        self.server.kill().await;
    }
}
