//! Storage of user accounts.

use crate::{NewUser, StoreResult, TokenHash, User, UserId, UserQuery};
use async_trait::async_trait;

/// Stores user accounts. Usernames are unique case-insensitively.
#[async_trait]
pub trait UserStore: Send + Sync + 'static {
    /// Creates a user; `Conflict(Username)` when the name is taken in any letter case.
    async fn create_user(&self, user: NewUser) -> StoreResult<User>;

    /// The user with this id.
    async fn user(&self, id: UserId) -> StoreResult<Option<User>>;

    /// The user with this username, compared case-insensitively.
    async fn user_by_name(&self, username: &str) -> StoreResult<Option<User>>;

    /// A page of users in id order, filtered by a case-insensitive substring of the name.
    async fn list_users(&self, query: UserQuery) -> StoreResult<Vec<User>>;

    /// Activates or deactivates a user. Deactivating also deletes all of the user's sessions,
    /// in the same transaction. `NotFound(User)` when there is no such user.
    async fn set_user_active(&self, id: UserId, active: bool) -> StoreResult<User>;

    /// Replaces a user's password hash and deletes every session of theirs but `keep`, in the
    /// same transaction. `NotFound(User)` when there is no such user.
    async fn set_password(
        &self,
        id: UserId,
        password_hash: String,
        keep: Option<TokenHash>,
    ) -> StoreResult<()>;

    /// Grants or revokes admin rights. `NotFound(User)` when there is no such user.
    async fn set_user_admin(&self, id: UserId, admin: bool) -> StoreResult<User>;

    /// The user linked to `external_id` (see [`create_external_user`](Self::create_external_user)),
    /// `None` when no user is.
    async fn user_by_external_id(&self, external_id: &str) -> StoreResult<Option<User>>;

    /// Creates a user linked to `external_id`, an id unique in the host application (see
    /// [`ExternalUser`](crate::ExternalUser)). `Conflict(ExternalId)` when a user is linked to
    /// `external_id` already (also when a concurrent call linked it first: one user per
    /// external id, whatever the race); `Conflict(Username)` when the name is taken in any
    /// letter case.
    async fn create_external_user(&self, external_id: &str, user: NewUser) -> StoreResult<User>;

    /// Changes a user's username; the same user may change the letter case of its own name.
    /// `NotFound(User)` when there is no such user; `Conflict(Username)` when another user has
    /// the name in any letter case.
    ///
    /// Everything read afterwards shows the new name, past messages included: a message's
    /// [`author_name`](crate::Message::author_name) and a member's
    /// [`username`](crate::Member::username) are the user's current username, not the one at
    /// posting or joining time (the SQL stores join `users` on every read anyway). Events
    /// already published keep the name they carried.
    async fn rename_user(&self, id: UserId, username: &str) -> StoreResult<User>;
}
