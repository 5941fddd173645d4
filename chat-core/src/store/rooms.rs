//! Storage of rooms and memberships.

use crate::{ChatRoom, Member, NewRoom, RoomId, RoomQuery, StoreResult, Timestamp, UserId};
use async_trait::async_trait;

/// Stores rooms and who is a member of which. Room names are unique case-insensitively.
#[async_trait]
pub trait RoomStore: Send + Sync + 'static {
    /// Creates a room and makes its creator a member, atomically. `Conflict(RoomName)` when the
    /// name is taken in any letter case (exactly one of two racing creators wins).
    async fn create_room(&self, room: NewRoom) -> StoreResult<ChatRoom>;

    /// The room with this id.
    async fn room(&self, id: RoomId) -> StoreResult<Option<ChatRoom>>;

    /// The room with this name, compared case-insensitively.
    async fn room_by_name(&self, name: &str) -> StoreResult<Option<ChatRoom>>;

    /// A page of rooms ordered by lower-cased name, filtered by a case-insensitive substring.
    async fn list_rooms(&self, query: RoomQuery) -> StoreResult<Vec<ChatRoom>>;

    /// Replaces a room's description. `NotFound(Room)` when there is no such room.
    async fn set_room_description(&self, id: RoomId, description: String) -> StoreResult<ChatRoom>;

    /// Deletes a room with its messages and memberships. `NotFound(Room)` when absent.
    async fn delete_room(&self, id: RoomId) -> StoreResult<()>;

    /// Makes a user a member. Returns `false` when they already were. `NotFound(Room)` or
    /// `NotFound(User)` when either is missing.
    async fn add_member(&self, room: RoomId, user: UserId, at: Timestamp) -> StoreResult<bool>;

    /// Removes a membership. Returns whether there was one.
    async fn remove_member(&self, room: RoomId, user: UserId) -> StoreResult<bool>;

    /// Whether the user is a member of the room.
    async fn is_member(&self, room: RoomId, user: UserId) -> StoreResult<bool>;

    /// Members of a room, in join order. `NotFound(Room)` when absent.
    async fn members(&self, room: RoomId) -> StoreResult<Vec<Member>>;

    /// Rooms the user is a member of, ordered by lower-cased name.
    async fn rooms_of(&self, user: UserId) -> StoreResult<Vec<ChatRoom>>;
}
