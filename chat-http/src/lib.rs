//! # chat-http
//!
//! The WebSocket protocol and JSON API of the chat library, written once, with thin adapters
//! for axum (feature `axum`) and warp (feature `warp`). The protocol is documented in
//! `docs/PROTOCOL.md` (protocol 1).
//!
//! Parts:
//! - [`ChatHttp`] ([`chat`]): the handle an app builds from a `ChatService` and an
//!   [`HttpConfig`] ([`config`]); `metrics()`, `shutdown()`.
//! - [`protocol`]: the framework-free WebSocket engine: frame types, per-connection state,
//!   one writer task per connection that reads its rooms' feeds and batches writes, slow-consumer
//!   close, keepalive, opt-in frame batching ([`SocketOptions`]).
//! - [`api`]: the JSON API handlers (accounts, rooms, admin) over a framework-free request
//!   context; [`dispatch`] routes every non-WebSocket path and renders errors ([`error`]).
//! - [`identity`]: who a request comes from: the chat's own accounts, or the host app's users
//!   through an [`Authenticator`].
//! - [`auth`]: session cookie / bearer token, Origin allow-list, CSRF check.
//! - [`limits`]: token buckets per user, username and client address; socket caps.
//! - [`client_addr`]: the client's address (peer, or trusted proxy headers) for per-address limits.
//! - [`views`]: the JSON shapes of users, rooms and messages.
//! - [`shutdown`]: graceful shutdown in the right order (sockets, requests, store).
//! - [`metrics`]: counters and a latency histogram in the Prometheus text format.
//! - [`ui`]: the embedded web UI.
//! - `server` (feature `server`): a bounded HTTP/1.1 accept loop for any tower service.
//! - `axum` / `warp`: the adapters: `chat_http::axum::router(chat)` and
//!   `chat_http::warp::routes(chat)`.
//!
//! ```no_run
//! use std::sync::Arc;
//! let service = chat_core::ChatService::new(
//!     Arc::new(chat_store_memory::MemoryStore::new()),
//!     Arc::new(chat_core::LocalBroker::default()),
//!     chat_core::Config::default(),
//! );
//! let chat = chat_http::ChatHttp::new(service, chat_http::HttpConfig::default());
//! // axum (feature `axum`): `axum::Router::new().merge(chat_http::axum::router(chat))`
//! // warp (feature `warp`): `chat_http::warp::routes(chat).or(my_routes)`, then
//! //   `.recover(chat_http::warp::recover)` for the chat's JSON 404 on unknown paths
//! # drop(chat);
//! ```

pub mod api;
pub mod auth;
mod body;
pub mod chat;
pub mod client_addr;
pub mod config;
pub mod dispatch;
pub mod error;
pub mod identity;
pub mod limits;
pub mod metrics;
pub mod protocol;
pub mod shutdown;
pub mod ui;
pub mod views;

#[cfg(feature = "axum")]
pub mod axum;
#[cfg(feature = "server")]
pub mod server;
#[cfg(feature = "warp")]
pub mod warp;

/// The README's Rust snippets, compiled and run as doctests.
#[cfg(all(doctest, feature = "axum"))]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;

pub use chat::{Accepted, ChatHttp, ChatHttpBuilder, MountPath};
pub use client_addr::{ClientKey, PeerAddr};
pub use config::{AddressLimits, HttpConfig, RateLimit};
pub use error::ApiError;
pub use identity::{Authenticator, Identity};
pub use metrics::Metrics;
pub use protocol::{SocketOptions, WsIn, WsOut, close_code};
pub use shutdown::{ShutdownError, shutdown_signal};
