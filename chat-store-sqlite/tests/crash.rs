//! A real crash test: a child process (this test binary, re-invoked with an environment
//! variable) posts as fast as it can and prints every acknowledged post; the parent kills it
//! with SIGKILL mid-flight, reopens the file and checks that every acknowledged post is there,
//! seqs are contiguous from 1, nothing is duplicated, and SQLite's integrity check passes.
//! The search index (its own file, written by the indexer thread beside the writer) is checked
//! as the kill left it (consistent: no entry above its watermark, FTS integrity) and after the
//! reopened store caught up (every message indexed, acknowledged posts found by search).
//! Several rounds, each continuing the same room.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chat_core::{
    HistoryPage, MessageStore, NewMessage, NewRoom, NewUser, RoomStore, SearchQuery, Seq,
    Timestamp, UserStore,
};
use chat_store_sqlite::SqliteStore;
use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const CHILD_ENV: &str = "CHAT_SQLITE_CRASH_CHILD_DB";
const POSTERS: usize = 16;

/// The child's body. A no-op unless the parent set `CHILD_ENV`.
#[test]
fn crash_child() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let store = SqliteStore::open(&path).await.unwrap();
        let user = store.user_by_name("crash").await.unwrap().unwrap();
        let room = store.room_by_name("crash").await.unwrap().unwrap();
        // A newline first: libtest may have left "test crash_child ... " on the line.
        println!("\nREADY");
        let pid = std::process::id();
        let mut tasks = Vec::new();
        for task in 0..POSTERS {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0u64.. {
                    let client_id = format!("{pid}-{task}-{i}");
                    let posted = store
                        .post_message(NewMessage {
                            room: room.id,
                            author: user.id,
                            body: format!("crash test message {client_id}"),
                            client_id: Some(client_id.clone()),
                            created_at: Timestamp::now(),
                        })
                        .await
                        .unwrap();
                    assert!(!posted.duplicate);
                    println!("ACK {} {client_id}", posted.message.seq.0);
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
}

fn setup(path: &std::path::Path) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = SqliteStore::open(path).await.unwrap();
        let user = store
            .create_user(NewUser {
                username: "crash".into(),
                password_hash: "x".into(),
                is_admin: false,
                created_at: Timestamp(1),
            })
            .await
            .unwrap();
        store
            .create_room(NewRoom {
                name: "crash".into(),
                description: String::new(),
                created_by: user.id,
                created_at: Timestamp(1),
            })
            .await
            .unwrap();
        store.close().await.unwrap();
    });
}

/// Runs one child, kills it after `run_for` of acknowledged posts; returns (seq, client_id).
fn run_child(path: &std::path::Path, run_for: Duration) -> Vec<(i64, String)> {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, path)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let acks = Arc::new(Mutex::new(Vec::new()));
    let ready = Arc::new(Mutex::new(None::<Instant>));
    let reader = {
        let (acks, ready) = (Arc::clone(&acks), Arc::clone(&ready));
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line == "READY" {
                    *ready.lock().unwrap() = Some(Instant::now());
                } else if let Some(rest) = line.strip_prefix("ACK ") {
                    let (seq, cid) = rest.split_once(' ').unwrap();
                    acks.lock()
                        .unwrap()
                        .push((seq.parse::<i64>().unwrap(), cid.to_owned()));
                }
            }
        })
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let started = *ready.lock().unwrap();
        if started.is_some_and(|t| t.elapsed() >= run_for) {
            break;
        }
        assert!(Instant::now() < deadline, "the child did not start posting");
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the child exited by itself: {status}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert!(!status.success());
    reader.join().unwrap();
    std::mem::take(&mut *acks.lock().unwrap())
}

/// Checks the search file: FTS integrity, no entry above the `messages` watermark; returns the
/// watermark and the number of entries.
fn check_search_file(db: &std::path::Path) -> (i64, i64) {
    let conn = rusqlite::Connection::open(SqliteStore::search_index_path(db)).unwrap();
    conn.execute(
        "INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 0)",
        [],
    )
    .unwrap();
    let upto: i64 = conn
        .query_row("SELECT messages_upto FROM search_state", [], |r| r.get(0))
        .unwrap();
    let above: i64 = conn
        .query_row(
            "SELECT count(*) FROM messages_fts WHERE rowid > ?1",
            [upto],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(above, 0, "entries above the watermark {upto}");
    let entries: i64 = conn
        .query_row("SELECT count(*) FROM messages_fts", [], |r| r.get(0))
        .unwrap();
    (upto, entries)
}

fn verify(path: &std::path::Path, acknowledged: &HashMap<String, i64>) -> i64 {
    // As the kill left it (the first round has no index yet beyond the setup).
    let (upto, _) = check_search_file(path);
    println!("search index as killed: messages up to id {upto}");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let last = rt.block_on(async {
        let store = SqliteStore::open(path).await.unwrap();
        let room = store.room_by_name("crash").await.unwrap().unwrap();
        let all = store
            .history(
                room.id,
                HistoryPage::After {
                    seq: Seq::ZERO,
                    limit: usize::MAX,
                },
            )
            .await
            .unwrap();
        let seqs: Vec<i64> = all.iter().map(|m| m.seq.0).collect();
        let n = seqs.len() as i64;
        assert_eq!(seqs, (1..=n).collect::<Vec<_>>(), "seqs are contiguous");
        assert_eq!(room.last_seq, Seq(n), "rooms.last_seq matches");
        let mut seen = HashSet::new();
        let mut by_client = HashMap::new();
        for m in &all {
            let cid = m.client_id.clone().unwrap();
            assert!(seen.insert(cid.clone()), "duplicate post {cid}");
            by_client.insert(cid, m.seq.0);
        }
        for (cid, seq) in acknowledged {
            assert_eq!(
                by_client.get(cid),
                Some(seq),
                "acknowledged post {cid} at seq {seq} is missing"
            );
        }
        // Every stored post's key survived the kill: sending any of them again is answered
        // with the original.
        let user = store.user_by_name("crash").await.unwrap().unwrap();
        let again: Vec<NewMessage> = all
            .iter()
            .map(|m| NewMessage {
                room: room.id,
                author: user.id,
                body: "sent again".into(),
                client_id: m.client_id.clone(),
                created_at: Timestamp::now(),
            })
            .collect();
        let answers = store.post_messages(again).await;
        for (m, answer) in all.iter().zip(answers) {
            let answer = answer.unwrap();
            assert!(answer.duplicate, "{:?} was stored twice", m.client_id);
            assert_eq!(answer.message.seq, m.seq);
        }
        assert_eq!(
            store.room(room.id).await.unwrap().unwrap().last_seq,
            Seq(n),
            "nothing was posted again"
        );
        // Search waits for the indexer to catch up with everything committed.
        let search = |text: String| {
            let store = store.clone();
            async move {
                store
                    .search(SearchQuery {
                        room: room.id,
                        text,
                        before: None,
                        limit: usize::MAX,
                    })
                    .await
                    .unwrap()
            }
        };
        assert_eq!(
            search("crash".into()).await.len() as i64,
            n,
            "every message is found"
        );
        let mut sample: Vec<_> = acknowledged.iter().collect();
        sample.sort();
        for (cid, seq) in sample.iter().step_by((sample.len() / 25).max(1)) {
            let found = search(cid.replace('-', " ")).await;
            assert!(
                found.iter().any(|m| m.seq.0 == **seq),
                "acknowledged post {cid} at seq {seq} is not found by search"
            );
        }
        store.close().await.unwrap();
        n
    });
    let conn = rusqlite::Connection::open(path).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    let max_id: i64 = conn
        .query_row("SELECT max(id) FROM messages", [], |r| r.get(0))
        .unwrap();
    drop(conn);
    // A clean close leaves the index caught up.
    assert_eq!(check_search_file(path), (max_id, last));
    last
}

#[test]
fn sigkill_loses_no_acknowledged_post() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.db");
    setup(&path);
    let mut acknowledged = HashMap::new();
    let mut total_acks = 0;
    for round in 0..3u64 {
        let acks = run_child(&path, Duration::from_millis(300 + 350 * round));
        assert!(!acks.is_empty(), "round {round}: nothing was acknowledged");
        total_acks += acks.len();
        for (seq, cid) in acks {
            assert!(acknowledged.insert(cid, seq).is_none());
        }
        let stored = verify(&path, &acknowledged);
        println!(
            "round {round}: {total_acks} acknowledged, {stored} stored (the rest committed \
             but killed before it was printed)"
        );
        assert!(stored >= total_acks as i64);
    }
}
