//! A SIGTERM stops the reference server deliberately: every acknowledged post is kept, and
//! the SQLite files are left closed, their write-ahead logs checkpointed into the main files
//! and removed (the database's and the search index's), so the main file alone is a complete
//! copy and the next start has nothing to recover. The posts come just before the signal,
//! so the search indexer still has work queued when it arrives.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chat_client::{Auth, Client};
use common::{Node, tail};
use serde_json::json;
use server_common::testing::call;
use std::path::{Path, PathBuf};
use std::time::Duration;

const ROOM: &str = "shutdown";
const PASSWORD: &str = "graceful-password-1";
/// Posts sent before the signal, all written at once.
const POSTS: usize = 2_000;
/// How long the posts may take to be acknowledged.
const WAIT: Duration = Duration::from_secs(60);

/// A fresh directory under the system's temporary one.
fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "axum-server-graceful-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `path` with `suffix` appended to its file name (`chat.db` -> `chat.db-wal`).
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Bytes in the file, 0 when it does not exist.
fn size(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// Signs ann up or logs her in (`path`, answered with `status`); returns her token.
async fn ann(node: &Node, path: &str, status: u16) -> String {
    let response = call(
        node.addr,
        "POST",
        path,
        None,
        Some(&json!({"username": "ann", "password": PASSWORD})),
    )
    .await;
    assert_eq!(response.status, status, "{path}: {}", response.text());
    response.json()["token"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_keeps_every_post_and_leaves_the_sqlite_files_closed() {
    let dir = temp_dir();
    let db = dir.join("chat.db");
    let url = format!("sqlite:{}", db.display());
    let exe = env!("CARGO_BIN_EXE_axum-server");
    let log = dir.join("first.log");
    let mut node = Node::start(exe, "first", &url, log.clone()).await;

    let token = ann(&node, "/api/signup", 201).await;
    let created = call(
        node.addr,
        "POST",
        "/api/rooms",
        Some(&token),
        Some(&json!({"name": ROOM, "description": "stopped by a signal"})),
    )
    .await;
    assert_eq!(created.status, 201, "create room: {}", created.text());

    let socket = format!("ws://{}/ws", node.addr);
    let (client, _events) = Client::connect(&socket, Auth::bearer(&token))
        .await
        .unwrap();
    client.join(ROOM).await.unwrap();
    let posts: Vec<_> = (0..POSTS)
        .map(|i| client.send(ROOM, &format!("word_{i} posted before the signal")))
        .collect();
    let mut last_seq = 0;
    for post in posts {
        let ack = tokio::time::timeout(WAIT, post).await.unwrap().unwrap();
        last_seq = last_seq.max(ack.seq);
    }
    assert_eq!(last_seq, POSTS as i64);

    let status = node.terminate(Duration::from_secs(30)).await;
    assert!(
        status.success(),
        "exit status {status}:\n{}",
        tail(&log, 30)
    );
    for wal in [
        with_suffix(&db, "-wal"),
        with_suffix(&with_suffix(&db, "-search"), "-wal"),
    ] {
        assert_eq!(
            size(&wal),
            0,
            "{} was left behind with data in it",
            wal.display()
        );
    }

    // Started again on the same file: the last post is there and the search index has it.
    let log = dir.join("second.log");
    let mut node = Node::start(exe, "second", &url, log).await;
    let token = ann(&node, "/api/login", 200).await;
    let page = call(
        node.addr,
        "GET",
        &format!("/api/rooms/{ROOM}/messages?limit=1"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(page.status, 200, "history: {}", page.text());
    let newest = &page.json()["messages"][0];
    assert_eq!(newest["seq"], last_seq, "{newest}");
    let last_word = format!("word_{}", POSTS - 1);
    let found = call(
        node.addr,
        "GET",
        &format!("/api/rooms/{ROOM}/search?q={last_word}"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(found.status, 200, "search: {}", found.text());
    let hits = found.json()["messages"].as_array().unwrap().clone();
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert!(hits[0]["body"].as_str().unwrap().starts_with(&last_word));
    client.close().await;
    node.kill().await;
    let _ = std::fs::remove_dir_all(&dir);
}
