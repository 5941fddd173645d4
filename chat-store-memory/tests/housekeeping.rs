//! The service purges expired sessions by itself, every `Config::purge_sessions_every`, once it
//! has opened a session (tokio's clock paused, the service's clock moved by hand).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chat_core::{ChatService, Clock, Config, LocalBroker, ManualClock, Store, Timestamp};
use chat_store_memory::MemoryStore;
use std::sync::Arc;
use std::time::Duration;

/// Signs a user up, lets the session expire, waits past one purge period, and returns how many
/// expired sessions were still in the store.
async fn expired_sessions_left(purge_every: Option<Duration>) -> u64 {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let clock = Arc::new(ManualClock::new(Timestamp(1_790_000_000_000)));
    let config = Config {
        session_ttl: Duration::from_secs(60),
        purge_sessions_every: purge_every,
        ..Config::for_tests()
    };
    let service = ChatService::with_clock(
        Arc::clone(&store),
        Arc::new(LocalBroker::default()),
        config,
        clock.clone(),
    );
    service.signup("ann", "ann-password-1").await.unwrap();
    clock.advance(Duration::from_secs(120));
    tokio::time::sleep(Duration::from_secs(3601)).await;
    store.purge_expired_sessions(clock.now()).await.unwrap()
}

#[tokio::test(start_paused = true)]
async fn expired_sessions_are_purged_without_being_asked() {
    assert_eq!(
        expired_sessions_left(None).await,
        1,
        "without housekeeping the expired session stays"
    );
    assert_eq!(
        expired_sessions_left(Some(Duration::from_secs(3600))).await,
        0,
        "the service purged it"
    );
}
