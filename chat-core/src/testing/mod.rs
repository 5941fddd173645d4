//! The backend conformance suite (feature `testing`): every behaviour a store must have,
//! runnable against any backend with one line:
//!
//! ```no_run
//! // tests/conformance.rs of a store crate
//! async fn store() -> Option<std::sync::Arc<dyn chat_core::Store>> {
//!     // A real backend: `Some(std::sync::Arc::new(MyStore::new()))`.
//!     None
//! }
//! chat_core::conformance_tests!(store);
//! # fn main() {}
//! ```
//!
//! The factory returns a fresh, empty store per call, or `None` to skip (for example when a
//! database server is not configured); the test then prints why it skipped.
//!
//! Cases are grouped by concern: [`accounts`], [`external`], [`rooms`], [`messages`],
//! [`history`], [`search`], [`admin`], [`live`] (subscriptions through the service and a [`LocalBroker`]),
//! and [`model`] (a proptest model-based test against a tiny reference model).

#![allow(clippy::unwrap_used, clippy::expect_used)]

/// Cases about accounts and sessions.
pub mod accounts;
/// Cases about admin operations.
pub mod admin;
/// Cases for stores that announce their posts (run by such stores' own tests).
pub mod announce;
/// Cases about users of the host application.
pub mod external;
/// Cases about history pages.
pub mod history;
/// Cases about live subscriptions.
pub mod live;
mod macros;
/// Cases about posting, editing and deleting.
pub mod messages;
/// The model-based property test.
pub mod model;
/// Cases about rooms and members.
pub mod rooms;
/// Cases about search.
pub mod search;

use crate::{ChatRoom, ChatService, Config, LocalBroker, ManualClock, Store, Timestamp, User};
use std::future::Future;
use std::sync::Arc;

/// A store wired into a service with a manual clock and a local broker.
pub struct Harness {
    /// The store under test.
    pub store: Arc<dyn Store>,
    /// A service over the store and the broker.
    pub service: ChatService,
    /// The service's clock, moved by hand.
    pub clock: Arc<ManualClock>,
    /// The service's broker.
    pub broker: LocalBroker,
}

impl Harness {
    /// A harness with [`Config::for_tests`] and a default [`LocalBroker`].
    pub fn new(store: Arc<dyn Store>) -> Harness {
        Harness::with_config(store, Config::for_tests())
    }

    /// A harness with an explicit configuration.
    pub fn with_config(store: Arc<dyn Store>, config: Config) -> Harness {
        Harness::with_broker(store, config, LocalBroker::default())
    }

    /// A harness with an explicit configuration and broker.
    pub fn with_broker(store: Arc<dyn Store>, config: Config, broker: LocalBroker) -> Harness {
        let clock = Arc::new(ManualClock::new(Timestamp(1_790_000_000_000)));
        let service = ChatService::with_clock(
            Arc::clone(&store),
            Arc::new(broker.clone()),
            config,
            clock.clone(),
        );
        Harness {
            store,
            service,
            clock,
            broker,
        }
    }

    /// Creates a user named `name` with password `password123`.
    pub async fn user(&self, name: &str) -> User {
        self.service
            .create_user(name, "password123", false)
            .await
            .unwrap()
    }

    /// Creates an admin named `name`.
    pub async fn admin(&self, name: &str) -> User {
        self.service
            .create_user(name, "password123", true)
            .await
            .unwrap()
    }

    /// Creates a room owned by `owner`.
    pub async fn room(&self, owner: &User, name: &str) -> ChatRoom {
        self.service
            .create_room(owner, name, "a room")
            .await
            .unwrap()
    }
}

/// The seqs of a page, as plain numbers for readable assertions.
pub fn seqs(messages: &[crate::Message]) -> Vec<i64> {
    messages.iter().map(|m| m.seq.0).collect()
}

/// Runs one case: builds a runtime, asks the factory for a store, runs the case on it.
pub fn run<F, Fut, C, CFut>(name: &str, factory: F, case: C)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Option<Arc<dyn Store>>>,
    C: FnOnce(Arc<dyn Store>) -> CFut,
    CFut: Future<Output = ()>,
{
    let rt = runtime();
    rt.block_on(async {
        match factory().await {
            Some(store) => case(store).await,
            None => {
                eprintln!("skipped: conformance case `{name}`: the store factory gave no store")
            }
        }
    });
}

/// Runs the model-based property test with the factory.
pub fn run_model<F, Fut>(factory: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Option<Arc<dyn Store>>>,
{
    let rt = runtime();
    model::check(&rt, factory);
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// A message as a store would return it (id = seq, author 1 "ann", no client id, created at
/// 0), for unit tests of code that only reads messages: encoders, brokers, listeners.
pub fn sample_message(room: i64, seq: i64, body: &str) -> crate::Message {
    crate::Message {
        id: crate::MessageId(seq),
        room: crate::RoomId(room),
        seq: crate::Seq(seq),
        author: crate::UserId(1),
        author_name: "ann".into(),
        body: body.into(),
        client_id: None,
        created_at: Timestamp(0),
        edited_at: None,
        deleted: false,
    }
}
