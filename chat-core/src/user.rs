//! User accounts.

use crate::{Timestamp, UserId};
use serde::Serialize;

/// A user account. The password hash is an argon2id PHC string and is never serialized.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    /// Id.
    pub id: UserId,
    /// Unique (case-insensitively) login and display name.
    pub username: String,
    /// argon2id PHC string.
    #[serde(skip)]
    pub password_hash: String,
    /// May use the admin operations.
    pub is_admin: bool,
    /// A deactivated user cannot log in and has no sessions.
    pub is_active: bool,
    /// When the account was created.
    pub created_at: Timestamp,
}

/// What a store needs to create a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    /// Validated username.
    pub username: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Start as an admin.
    pub is_admin: bool,
    /// Creation time.
    pub created_at: Timestamp,
}

/// A page of users for the admin list: optional case-insensitive substring filter, ordered by id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserQuery {
    /// Case-insensitive substring of the username.
    pub search: Option<String>,
    /// Only users with an id greater than this (keyset paging).
    pub after: Option<UserId>,
    /// Most users returned.
    pub limit: usize,
}

/// A user vouched for by the host application rather than by the chat's own accounts: its
/// id there, the name to show, and optionally its admin rights. See
/// [`ChatService::external_user`](crate::ChatService::external_user).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalUser {
    /// The user's id in the host application (for example a JWT's `sub`); unique there.
    pub external_id: String,
    /// The name to show. The chat's username is made from it (see
    /// [`ChatService::external_user`](crate::ChatService::external_user)).
    pub name: String,
    /// Admin rights as the host sees them; `None` leaves the chat's own flag alone.
    pub admin: Option<bool>,
}
