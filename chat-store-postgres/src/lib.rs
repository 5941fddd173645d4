//! # chat-store-postgres
//!
//! PostgreSQL backend of the chat library, for running several server nodes on one database:
//! a store implementing every chat-core storage trait, and a cross-node broker over
//! `LISTEN`/`NOTIFY`.
//!
//! ```no_run
//! # async fn run() -> Result<(), chat_store_postgres::PgError> {
//! use chat_store_postgres::{PostgresBroker, PostgresStore};
//! use std::sync::Arc;
//!
//! let store = PostgresStore::connect("postgres://chat@db.internal/chat").await?;
//! let broker = PostgresBroker::start(&store, 1024).await?;
//! let service = chat_core::ChatService::new(
//!     Arc::new(store.clone()),
//!     Arc::new(broker.clone()),
//!     chat_core::Config::default(),
//! );
//! # let _ = service; Ok(()) }
//! ```
//!
//! ## Parts
//!
//! - [`error`]: [`PgError`] and the mapping of SQLSTATEs to `StoreError`s (23505 unique
//!   violation to `Conflict`, 23503 foreign-key violation to `NotFound`).
//! - [`connect`]: [`PostgresStore::connect`], [`PostgresStore::connect_with_schema`] and
//!   [`PostgresConfig`]; `store`: the [`PostgresStore`] handle.
//! - [`migrations`]: the SQL files of `migrations/`, embedded, versioned and recorded.
//! - `users`, `sessions`, `rooms`, `messages`, `search`: one chat-core storage trait (or
//!   concern) each; `sql`: the shared conversions (name folding, limits, search lexemes).
//! - [`broker`]: [`PostgresBroker`], the `NOTIFY` wire format, the listener task and the resync
//!   after a lost connection.
//!
//! ## How the contracts are kept with several writers on several nodes
//!
//! - Usernames and room names are unique case-insensitively through a `*_key` column holding
//!   the name lower-cased in Rust (the same fold as the other stores, whatever the database
//!   locale) under a unique index; the loser of a race gets SQLSTATE 23505, mapped to
//!   `Conflict`.
//! - Per-room seqs are gap-free: a post increments the room's `last_seq` counter row in the
//!   transaction that inserts the message, so the row lock serializes the room's writers on
//!   every node, and seq N commits after seq N - 1 (a seq is only visible once every lower one
//!   is). Posts are idempotent by a unique `(author, client_id)` index.
//! - Search uses a `tsvector` column with a GIN index, built from chat-core's own word rules
//!   (see the `search` module).
//! - Timestamps are `BIGINT` Unix milliseconds.
//!
//! ## Why sqlx with only the `postgres` feature (the libsqlite3-sys pitfall)
//!
//! `rusqlite` (used by `chat-store-sqlite`) and sqlx's SQLite driver both link the native
//! SQLite library through `libsqlite3-sys`, which declares `links = "sqlite3"`: Cargo allows
//! one version of it per lockfile, optional dependencies included. rusqlite 0.43 needs
//! libsqlite3-sys 0.40 while sqlx-sqlite 0.9 needs a version below 0.38, and sqlx's `macros`
//! and `migrate` features (and `json`, `uuid`, `chrono`, `time`) pull `sqlx-sqlite` in. So this
//! crate uses sqlx 0.9 with `default-features = false, features = ["runtime-tokio",
//! "postgres"]`: no `query!` or `migrate!` macros (queries are checked by the tests against a
//! real server instead), plain bound types, and migrations embedded by hand. sqlx 0.9's
//! `query()` takes `impl SqlSafeStr`: the only dynamic SQL here (the validated schema name in
//! `CREATE SCHEMA`) is wrapped in `AssertSqlSafe`; everything else is a literal with bound
//! parameters.
//!
//! ## Limits of LISTEN/NOTIFY, and the path beyond it
//!
//! - One global queue: every `NOTIFY` of the database cluster goes through one queue (8 GB by
//!   default) that all listeners must drain; a stuck listener fills it up for everyone, and a
//!   transaction's notifications are serialized with the commit of every other notifying
//!   transaction (a global lock at commit).
//! - Payloads must be shorter than 8000 bytes: the broker sends references (room, seq) and each
//!   node reads message bodies from the store; the other events are small.
//! - Delivered at commit, and only to sessions listening at that moment: nothing is buffered
//!   for a listener that reconnects. The broker resynchronizes every locally subscribed room
//!   from the store after a reconnection, and feeds recover by seq.
//! - Every node receives every notice of the channel (no per-room routing on the server), and
//!   each store read for a post costs a round trip on each node with subscribers.
//!
//! That is plenty for a few nodes and thousands of messages per second. Beyond it, a Redis
//! (pub/sub or streams) or NATS broker can implement the same [`chat_core::Broker`] trait with
//! the same design (small notices, per-node `LocalBroker`, store as the source of truth,
//! resync after a reconnection), without changing the store, the service or the adapters.

pub mod broker;
pub mod connect;
pub mod error;
mod messages;
pub mod migrations;
mod rooms;
mod search;
mod sessions;
mod sql;
mod store;
#[cfg(feature = "testing")]
pub mod testing;
mod users;

pub use broker::{BrokerStats, PostgresBroker};
pub use connect::PostgresConfig;
pub use error::PgError;
pub use migrations::SCHEMA_VERSION;
pub use store::PostgresStore;
