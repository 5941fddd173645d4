//! The Rust client of the chat's WebSocket protocol 1 (docs/PROTOCOL.md).
//!
//! [`Client::connect`] opens a socket with an [`Auth`] (bearer token, cookie, `?token=` JWT
//! or a callback asked at every reconnect) and hands back the [`Client`] handle and its
//! [`Events`]. The client keeps the connection up: it reconnects with exponential backoff and
//! full jitter following the close-code policy (4001 stops, unless a token callback can
//! supply a fresh credential; 4008/4029 wait longer), joins
//! every room again after the last seq it delivered, so the app sees each message exactly once
//! and in order, and resends unacknowledged sends with their `client_id`, which the server
//! never stores twice. Frames are chat-protocol's types, the same the server encodes.
//!
//! ```no_run
//! # async fn demo() -> Result<(), chat_client::ClientError> {
//! use chat_client::{Auth, Client, Event};
//! let (client, mut events) = Client::connect("ws://127.0.0.1:8080/ws", Auth::bearer("token")).await?;
//! client.join("general").await?;
//! let ack = client.send("general", "hello").await?;
//! println!("stored as seq {}", ack.seq);
//! while let Some(event) = events.next().await {
//!     if let Event::Message(m) = event {
//!         println!("{}: {}", m.author, m.body);
//!     }
//! }
//! # Ok(()) }
//! ```

mod auth;
mod backoff;
mod client;
mod close;
mod driver;
mod error;
mod events;
mod outbox;
mod rooms;
mod socket;

pub use auth::{Auth, Credential, CredentialFuture};
pub use backoff::BackoffConfig;
pub use chat_protocol::{self as protocol, MessageView, ServerFrame, UserView, close_code};
pub use client::{Client, Config, Reply};
pub use error::ClientError;
pub use events::{Event, Events, HistoryPage, Joined};
pub use outbox::{Ack, new_client_id};
