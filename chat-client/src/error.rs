//! The client's typed errors. One enum for every call, cloneable because one cause (the session
//! ended, the client closed) is handed to every call waiting at the time.

use thiserror::Error;

/// Why a call, or the whole client, failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ClientError {
    /// The URL or a header could not be used.
    #[error("bad request setup: {0}")]
    BadRequest(String),
    /// The server refused the WebSocket handshake with this HTTP status.
    #[error("the server refused the connection with HTTP {status}: {body}")]
    Refused {
        /// HTTP status (400 `bad_query`, 403 `forbidden_origin`, 429, 503, ...).
        status: u16,
        /// The response body, usually a JSON error.
        body: String,
    },
    /// The connection could not be made or was lost (transport error, timeout, no `hello`).
    #[error("connection failed: {0}")]
    Connection(String),
    /// The session or token is no longer valid (close code 4001, or HTTP 401 at the
    /// handshake): the client stopped reconnecting; sign in again.
    #[error("the session ended: sign in again")]
    SessionEnded,
    /// The server refused the frame with an `error` frame.
    #[error("the server refused the frame: {code}: {message}")]
    Server {
        /// Stable snake_case code (`unknown_room`, `not_member`, `rate_limited`, ...).
        code: String,
        /// Human-readable explanation.
        message: String,
    },
    /// The connection dropped before the answer came; calls other than `send` and `join` are
    /// not repeated after a reconnect (a `send` is, from the outbox).
    #[error("disconnected before the answer came")]
    Disconnected,
    /// The token callback failed.
    #[error("the token callback failed: {0}")]
    Token(String),
    /// The client was closed (or every handle dropped).
    #[error("the client is closed")]
    Closed,
}
