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

/// Everything a chat backend stores, and how it ends: a backend implements the four concern
/// traits and this one (`impl Store for MyStore {}` when there is nothing to close).
#[async_trait::async_trait]
pub trait Store: UserStore + SessionStore + RoomStore + MessageStore {
    /// Ends the store deliberately: what is queued is made durable, then files and connections
    /// are released, and a store that held them answers later calls with
    /// [`StoreError::Closed`](crate::StoreError::Closed). Calling it again does nothing. The
    /// default, for stores with nothing to flush or release, does nothing.
    async fn close(&self) -> crate::StoreResult<()> {
        Ok(())
    }
}
