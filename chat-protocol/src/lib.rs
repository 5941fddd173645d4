//! The frame types of protocol 1 (docs/PROTOCOL.md), defined once for both ends of the socket:
//! the server (`chat-http`) parses [`ClientFrame`] and encodes [`ServerFrame`] from borrowed
//! data, the Rust client (`chat-client`) encodes [`ClientFrame`] and decodes [`ServerFrame`]
//! into owned values. Only serde and serde_json: no domain types, no I/O.
//!
//! Strings in server frames are [`Cow`](std::borrow::Cow)s: the server fills them with
//! `Cow::Borrowed` views of its own data (serializing a `Cow` costs the same as a `&str`), a
//! client deserializes them owned, so `ServerFrame<'static>` is `DeserializeOwned`.

pub mod client;
/// WebSocket close codes used by protocol 1 (docs/PROTOCOL.md, close codes): the server
/// closes with them, the client decides from them whether to reconnect.
pub mod close_code {
    /// The client closed, or the server ended the connection normally.
    pub const NORMAL: u16 = 1000;
    /// The server is shutting down.
    pub const GOING_AWAY: u16 = 1001;
    /// A text frame (or a close frame's reason) that is not valid UTF-8.
    pub const INVALID_PAYLOAD: u16 = 1007;
    /// A message above the transport's hard size limit.
    pub const TOO_BIG: u16 = 1009;
    /// The server failed (for example a store error while streaming a room); resume with
    /// `after_seq`.
    pub const INTERNAL: u16 = 1011;
    /// Nothing arrived from the client within the idle timeout.
    pub const IDLE_TIMEOUT: u16 = 4000;
    /// The user was deactivated or deleted while connected.
    pub const SESSION_ENDED: u16 = 4001;
    /// Writing to the client stalled for the grace period (or its outbound queue stayed full
    /// that long): the client reads too slowly. Resume with `after_seq`.
    pub const SLOW_CONSUMER: u16 = 4008;
    /// Too many rate-limited frames in a row.
    pub const RATE_ABUSE: u16 = 4029;
}

pub mod server;
pub mod views;

pub use client::ClientFrame;
pub use server::{ServerFrame, split_batch};
pub use views::{MessageView, UserView};

/// The protocol version announced in `hello`.
pub const PROTOCOL_VERSION: u32 = 1;
