//! The shared conformance suite of `chat-core`, run against a fresh SQLite file per case.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chat_store_sqlite::SqliteStore;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

/// The directory holding this process's databases. A store may outlive the factory's scope
/// (the suite owns it), so files are not deleted when a case ends; instead each run removes
/// the directories left by earlier test processes that are no longer running.
fn root() -> &'static PathBuf {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let base = std::env::temp_dir().join("chat-store-sqlite-conformance");
        if let Ok(entries) = std::fs::read_dir(&base) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let alive = Path::new("/proc").join(&name).exists();
                if !alive && name.parse::<u32>().is_ok() {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        }
        let dir = base.join(std::process::id().to_string());
        std::fs::create_dir_all(&dir).unwrap();
        dir
    })
}

/// A fresh, empty store in its own file.
async fn store() -> Option<Arc<dyn chat_core::Store>> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let store = SqliteStore::open(root().join(format!("chat-{n}.db")))
        .await
        .unwrap();
    Some(Arc::new(store))
}

chat_core::conformance_tests!(store);
