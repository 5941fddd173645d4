//! The WebSocket protocol (version 1), independent of any web framework: frame types
//! ([`frames`]), the per-connection engine ([`engine`], [`connection`], [`writer`] with its room
//! [`feeds`] and opt-in frame [`batch`]ing), the connection's [`options`] and the bounded outbound
//! queue ([`outbound`]).

pub mod batch;
pub mod connection;
pub mod engine;
pub mod feeds;
pub mod frames;
pub mod options;
pub mod outbound;
pub mod writer;

pub use engine::{WsIn, WsOut};
pub use options::SocketOptions;
pub use outbound::close_code;
