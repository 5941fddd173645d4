//! Storage traits, split by concern, all object-safe so a backend is used as `Arc<dyn Store>`.
//!
//! Stores check uniqueness and existence; the [`ChatService`](crate::ChatService) checks
//! validation and authorization before it calls them. Every backend must pass the conformance
//! suite in [`testing`](crate::testing) (feature `testing`).

mod announce;
mod messages;
mod rooms;
mod sessions;
mod users;

pub use announce::PostListener;
pub use messages::MessageStore;
pub use rooms::RoomStore;
pub use sessions::SessionStore;
pub use users::UserStore;

/// Everything a chat backend stores. Implemented automatically for any type that implements the
/// four concern traits.
pub trait Store: UserStore + SessionStore + RoomStore + MessageStore {}

impl<T: UserStore + SessionStore + RoomStore + MessageStore + ?Sized> Store for T {}
