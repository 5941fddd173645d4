//! Typed errors: what a caller did wrong ([`ValidationError`]), what a store reports
//! ([`StoreError`]), and what the service answers ([`ChatError`]), each with a stable code.

use std::fmt;
use thiserror::Error;

/// The kind of record an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Entity {
    /// A user account.
    User,
    /// A chat room.
    Room,
    /// A message.
    Message,
    /// A log-in session.
    Session,
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Entity::User => "user",
            Entity::Room => "room",
            Entity::Message => "message",
            Entity::Session => "session",
        })
    }
}

/// Which uniqueness rule a write broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Conflict {
    /// The username is taken (compared case-insensitively).
    Username,
    /// The room name is taken (compared case-insensitively).
    RoomName,
    /// Another user is linked to this external id already.
    ExternalId,
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Conflict::Username => "username is already taken",
            Conflict::RoomName => "a room with this name already exists",
            Conflict::ExternalId => "a user with this external id already exists",
        })
    }
}

/// Input that breaks a rule of [`Limits`](crate::Limits) or of the domain.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ValidationError {
    /// Username too short or too long.
    #[error("username must be between {min} and {max} characters")]
    UsernameLength {
        /// Shortest allowed.
        min: usize,
        /// Longest allowed.
        max: usize,
    },
    /// Username holds a character other than letters, digits, `_`, `-`, `.`.
    #[error("username may contain only letters, digits, '_', '-' and '.'")]
    UsernameCharacters,
    /// Password too short or too long.
    #[error("password must be between {min} and {max} characters")]
    PasswordLength {
        /// Shortest allowed.
        min: usize,
        /// Longest allowed.
        max: usize,
    },
    /// Room name empty or too long.
    #[error("room name must be between 1 and {max} characters")]
    RoomNameLength {
        /// Longest allowed.
        max: usize,
    },
    /// Room name holds a control character.
    #[error("room name must not contain control characters")]
    RoomNameCharacters,
    /// Description too long.
    #[error("description must be at most {max} characters")]
    DescriptionLength {
        /// Longest allowed.
        max: usize,
    },
    /// Message body empty after trimming.
    #[error("message must not be empty")]
    BodyEmpty,
    /// Message body too long after trimming.
    #[error("message must be at most {max} characters")]
    BodyTooLong {
        /// Longest allowed.
        max: usize,
    },
    /// Message body holds a NUL character.
    #[error("message must not contain NUL characters")]
    BodyNul,
    /// Client id empty or too long.
    #[error("client_id must be between 1 and {max} characters")]
    ClientIdLength {
        /// Longest allowed.
        max: usize,
    },
    /// Search query empty or too long.
    #[error("search query must be between 1 and {max} characters")]
    SearchQueryLength {
        /// Longest allowed.
        max: usize,
    },
}

impl ValidationError {
    /// The input field the error is about.
    pub fn field(&self) -> &'static str {
        match self {
            ValidationError::UsernameLength { .. } | ValidationError::UsernameCharacters => {
                "username"
            }
            ValidationError::PasswordLength { .. } => "password",
            ValidationError::RoomNameLength { .. } | ValidationError::RoomNameCharacters => "name",
            ValidationError::DescriptionLength { .. } => "description",
            ValidationError::BodyEmpty
            | ValidationError::BodyTooLong { .. }
            | ValidationError::BodyNul => "body",
            ValidationError::ClientIdLength { .. } => "client_id",
            ValidationError::SearchQueryLength { .. } => "q",
        }
    }
}

/// What a storage backend reports.
#[derive(Debug, Error)]
pub enum StoreError {
    /// A uniqueness rule was broken.
    #[error("{0}")]
    Conflict(Conflict),
    /// The record does not exist.
    #[error("{0} not found")]
    NotFound(Entity),
    /// The author of a post is not a member of its room.
    #[error("not a member of the room")]
    NotMember,
    /// The backend failed (I/O, driver, corrupt data...).
    #[error("storage backend failed: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
    /// The store is shut down and takes no more calls.
    #[error("storage is closed")]
    Closed,
}

impl StoreError {
    /// Wraps any backend error.
    pub fn backend(e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
        StoreError::Backend(Box::new(e))
    }
}

/// What a broker reports.
#[derive(Debug, Error)]
pub enum BrokerError {
    /// The broker failed to publish or subscribe.
    #[error("broker failed: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
    /// The broker is shut down.
    #[error("broker is closed")]
    Closed,
}

/// Every error the [`ChatService`](crate::ChatService) returns.
#[derive(Debug, Error)]
pub enum ChatError {
    /// The input breaks a validation rule.
    #[error(transparent)]
    Validation(#[from] ValidationError),
    /// Wrong username or password (never says which).
    #[error("invalid username or password")]
    InvalidCredentials,
    /// No valid session: missing, expired, revoked, or the account is deactivated.
    #[error("authentication required")]
    Unauthenticated,
    /// Authenticated, but not allowed to do this.
    #[error("not allowed: {0}")]
    Forbidden(&'static str),
    /// The user must join the room first.
    #[error("not a member of this room")]
    NotMember,
    /// The record does not exist.
    #[error("{0} not found")]
    NotFound(Entity),
    /// A uniqueness rule was broken.
    #[error("{0}")]
    Conflict(Conflict),
    /// The storage backend failed.
    #[error(transparent)]
    Store(StoreError),
    /// The broker failed.
    #[error(transparent)]
    Broker(#[from] BrokerError),
    /// A bounded resource (password hashing) is at capacity; retry shortly.
    #[error("the server is busy; try again shortly")]
    Busy,
    /// An internal task failed (for example the password hashing thread).
    #[error("internal error: {0}")]
    Internal(String),
}

impl ChatError {
    /// A stable snake_case code for clients, e.g. `not_found`, `conflict`, `invalid_body`.
    pub fn code(&self) -> &'static str {
        match self {
            ChatError::Validation(v) => match v.field() {
                "username" => "invalid_username",
                "password" => "invalid_password",
                "name" => "invalid_room_name",
                "description" => "invalid_description",
                "body" => "invalid_body",
                "client_id" => "invalid_client_id",
                _ => "invalid_query",
            },
            ChatError::InvalidCredentials => "invalid_credentials",
            ChatError::Unauthenticated => "unauthenticated",
            ChatError::Forbidden(_) => "forbidden",
            ChatError::NotMember => "not_member",
            ChatError::NotFound(Entity::Room) => "unknown_room",
            ChatError::NotFound(_) => "not_found",
            ChatError::Conflict(_) => "conflict",
            ChatError::Busy => "busy",
            ChatError::Store(_) | ChatError::Broker(_) | ChatError::Internal(_) => "internal",
        }
    }
}

impl From<StoreError> for ChatError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(c) => ChatError::Conflict(c),
            StoreError::NotFound(what) => ChatError::NotFound(what),
            StoreError::NotMember => ChatError::NotMember,
            other => ChatError::Store(other),
        }
    }
}

/// Result of a service call.
pub type ChatResult<T> = Result<T, ChatError>;
/// Result of a store call.
pub type StoreResult<T> = Result<T, StoreError>;
