//! With `SqliteOptions::background_nice`, the indexer and checkpointer threads lower their
//! priority and the threads that serve requests keep theirs; by default none changes (see
//! `src/background.rs`). Linux only: niceness is per thread there. Its own test binary, so
//! that only this test's stores have threads in the process.

#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chat_store_sqlite::{SqliteOptions, SqliteStore};
use std::collections::BTreeMap;

/// The niceness of each of the process's threads, by name (as the kernel keeps it: at most
/// 15 bytes), each name's values in a list.
fn niceness_by_thread() -> BTreeMap<String, Vec<i32>> {
    let mut by_name: BTreeMap<String, Vec<i32>> = BTreeMap::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let Ok(stat) = std::fs::read_to_string(task.unwrap().path().join("stat")) else {
            continue; // the thread has just ended
        };
        let open = stat.find('(').unwrap();
        let close = stat.rfind(')').unwrap();
        let name = stat[open + 1..close].to_owned();
        // Fields after the name start at the third (state); niceness is the nineteenth.
        let nice: i32 = stat[close + 2..]
            .split(' ')
            .nth(19 - 3)
            .unwrap()
            .parse()
            .unwrap();
        by_name.entry(name).or_default().push(nice);
    }
    by_name
}

/// The threads once the indexer and the checkpointer have set their priority (they do when
/// they start, which may be just after the store opened): polls for at most five seconds.
async fn settled(expected: i32) -> BTreeMap<String, Vec<i32>> {
    for _ in 0..500 {
        let threads = niceness_by_thread();
        if of(&threads, "chat-sqlite-ind") == [expected]
            && of(&threads, "chat-sqlite-che") == [expected]
        {
            return threads;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    niceness_by_thread()
}

fn of(threads: &BTreeMap<String, Vec<i32>>, name: &str) -> Vec<i32> {
    threads
        .iter()
        .filter(|(n, _)| n.starts_with(name))
        .flat_map(|(_, v)| v.iter().copied())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_threads_run_at_lower_priority_and_request_threads_do_not() {
    let base = own_niceness();
    let dir = tempfile::tempdir().unwrap();

    let options = SqliteOptions {
        background_nice: 19,
        ..SqliteOptions::default()
    };
    let store = SqliteStore::open_with(dir.path().join("lowered.db"), options)
        .await
        .unwrap();
    let lowered = (base + 19).min(19);
    let threads = settled(lowered).await;
    assert_eq!(
        of(&threads, "chat-sqlite-ind"),
        vec![lowered],
        "{threads:?}"
    );
    assert_eq!(
        of(&threads, "chat-sqlite-che"),
        vec![lowered],
        "{threads:?}"
    );
    assert_eq!(of(&threads, "chat-sqlite-wri"), vec![base], "{threads:?}");
    let readers = of(&threads, "chat-sqlite-rea");
    assert_eq!(readers.len(), SqliteOptions::default().readers);
    assert!(readers.iter().all(|&n| n == base), "{threads:?}");
    store.close().await.unwrap();

    // The default leaves them alone.
    let store = SqliteStore::open(dir.path().join("default.db"))
        .await
        .unwrap();
    let threads = settled(base).await;
    assert_eq!(of(&threads, "chat-sqlite-ind"), vec![base], "{threads:?}");
    assert_eq!(of(&threads, "chat-sqlite-che"), vec![base], "{threads:?}");
    store.close().await.unwrap();
}

/// The test thread's niceness, read the same way as the others'.
fn own_niceness() -> i32 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
    let close = stat.rfind(')').unwrap();
    stat[close + 2..]
        .split(' ')
        .nth(19 - 3)
        .unwrap()
        .parse()
        .unwrap()
}
