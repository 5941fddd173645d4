//! # chat-core
//!
//! The framework-agnostic heart of the chat library: no web framework and no database driver.
//!
//! - Domain: [`User`], [`ChatRoom`], [`Message`] with newtype ids ([`ids`]) and the per-room,
//!   gap-free [`Seq`].
//! - [`validation`] with typed errors ([`error`]) and every limit in one [`Config`].
//! - Accounts: argon2id hashing on a bounded pool of threads ([`password`]), random session
//!   tokens stored only as hashes ([`session`]), and the [`live_sessions`] to close when a
//!   session ends.
//! - [`store`]: the storage traits every backend implements, split by concern.
//! - [`broker`]: the [`Broker`] trait and the in-process [`LocalBroker`] with lag reporting.
//! - [`feed`]: [`RoomFeed`], a subscriber's ordered, exactly-once view of a room that re-reads
//!   the store by seq after a lag or a gap.
//! - [`presence`]: who is online where, across several sockets per user.
//! - [`service`]: [`ChatService`], the one facade that apps and protocol adapters call.
//! - `testing` (feature `testing`): the conformance suite every store runs with one macro.

pub mod broker;
pub mod clock;
pub mod config;
pub mod error;
pub mod event;
pub mod feed;
pub mod ids;
pub mod live_sessions;
pub mod message;
pub mod password;
pub mod presence;
pub mod room;
pub mod search;
pub mod service;
pub mod session;
pub mod store;
pub mod timestamp;
pub mod user;
pub mod validation;

#[cfg(feature = "testing")]
pub mod testing;

pub use broker::{Broker, Delivery, LocalBroker, Subscription};
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{Config, HashCost, HashingConfig, Limits};
pub use error::{
    BrokerError, ChatError, ChatResult, Conflict, Entity, StoreError, StoreResult, ValidationError,
};
pub use event::{Envelope, RoomEvent};
pub use feed::{FeedItem, RoomFeed};
pub use ids::{MessageId, RoomId, Seq, UserId};
pub use live_sessions::{Ending, LiveSessions, SessionEnd, SessionGuard};
pub use message::{HistoryPage, Message, NewMessage, Posted, SearchQuery};
pub use password::HashPool;
pub use presence::PresenceTracker;
pub use room::{ChatRoom, Member, NewRoom, RoomQuery};
pub use service::{ChatService, ChatServiceBuilder, HistorySlice, PostRequest, PresenceGuard};
pub use session::{Session, SessionToken, TokenHash};
pub use store::{MessageStore, PostListener, RoomStore, SessionStore, Store, UserStore};
pub use timestamp::Timestamp;
pub use user::{ExternalUser, NewUser, User, UserQuery};
