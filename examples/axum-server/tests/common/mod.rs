//! Helpers of the tests that run the server binary: a fresh PostgreSQL schema per run (and its
//! removal), the server URL that pins a node to that schema, and server processes
//! (`axum-server serve`) on free 127.0.0.1 ports, started, health-checked, stopped with
//! SIGTERM or killed.

// Each test crate uses a part of these helpers.
#![allow(dead_code, unused_imports, clippy::unwrap_used, clippy::expect_used)]

pub mod http;
pub mod ws;

use chat_store_postgres::PostgresStore;
pub use chat_store_postgres::testing::test_url;
use chat_store_postgres::testing::{self, drop_stale_schemas, fresh_schema_name};
use sqlx::AssertSqlSafe;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

/// How long a node may take to answer `/healthz` after it was started.
const START_TIMEOUT: Duration = Duration::from_secs(60);

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

/// A free port on 127.0.0.1 (free when asked; the node retries if another process takes it).
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// One server process.
pub struct Node {
    /// `A` or `B`.
    pub name: String,
    /// Where it listens.
    pub addr: SocketAddr,
    child: Child,
    /// Its stdout and stderr.
    pub log: PathBuf,
}

impl Node {
    /// Starts `exe serve` on a free port against `database_url` and waits for `/healthz`.
    /// Rate limits are off (the test posts hundreds of messages a second); the WebSocket
    /// client sends no `Origin`, so no allow-list is needed.
    pub async fn start(exe: &str, name: &str, database_url: &str, log: PathBuf) -> Node {
        let mut last_error = String::new();
        for _attempt in 0..3 {
            let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
            let out = std::fs::File::create(&log).unwrap();
            let err = out.try_clone().unwrap();
            let mut command = Command::new(exe);
            // Keep the caller's CHAT_* settings (CHAT_ALLOWED_ORIGINS, ...) out of the nodes.
            for (key, _) in std::env::vars_os() {
                if key.to_string_lossy().starts_with("CHAT_") {
                    command.env_remove(key);
                }
            }
            command
                .arg("--database")
                .arg(database_url)
                .args(["--log", "warn,chat_store_postgres=info"])
                .arg("serve")
                .arg("--bind")
                .arg(addr.to_string())
                .args(["--rate-limit", "off", "--login-rate-limit", "off"])
                .args(["--shutdown-timeout", "1"])
                // Plain text in the log file (tracing-subscriber honours NO_COLOR).
                .env("NO_COLOR", "1")
                .stdin(Stdio::null())
                .stdout(Stdio::from(out))
                .stderr(Stdio::from(err))
                .kill_on_drop(true);
            let child = command
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {exe}: {e}"));
            let mut node = Node {
                name: name.to_owned(),
                addr,
                child,
                log: log.clone(),
            };
            match node.wait_healthy().await {
                Ok(()) => return node,
                Err(e) => {
                    node.kill().await;
                    last_error = format!("{e}\n--- node {name} log ---\n{}", tail(&log, 40));
                    if !last_error.contains("cannot listen") {
                        break;
                    }
                }
            }
        }
        panic!("node {name} did not start: {last_error}");
    }

    async fn wait_healthy(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Err(format!("node {} exited early: {status}", self.name));
            }
            if let Ok(response) = http::request(self.addr, "GET", "/healthz", None, None).await
                && response.status == 200
                && self.child.try_wait().unwrap().is_none()
            {
                // A 200 from someone else on the port (this node failed to bind) is no proof.
                if tail(&self.log, 40).contains("cannot listen") {
                    return Err(format!("node {} could not bind {}", self.name, self.addr));
                }
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "node {} not healthy within {START_TIMEOUT:?}",
                    self.name
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// SIGTERM (the graceful shutdown an operator's `kill` or a service manager asks for),
    /// then waits up to `wait` for the process to exit; returns its exit status.
    pub async fn terminate(&mut self, wait: Duration) -> std::process::ExitStatus {
        let pid = self.child.id().expect("the node is still running");
        let sent = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .await
            .expect("cannot run `kill`");
        assert!(sent.success(), "kill -TERM {pid} failed: {sent}");
        tokio::time::timeout(wait, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("node {} still running {wait:?} after SIGTERM", self.name))
            .expect("cannot reap the node")
    }

    /// SIGKILL (no graceful shutdown: sockets and database connections just drop) and reap.
    /// Harmless when the process is already gone.
    pub async fn kill(&mut self) {
        let _ = self.child.start_kill();
        let _ = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
    }
}
