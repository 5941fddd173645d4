//! An app whose auth service ([`auth_service`]) issues JWTs, with the chat mounted under
//! `/chat`, on axum ([`axum_app`]) and on warp ([`warp_app`]). The chat verifies the tokens
//! with the shared secret; it never sees a password. Everything chat-specific is [`chat`],
//! one mount line per framework and the binaries' two shutdown calls.

pub mod auth_service;

mod axum_app;
mod warp_app;

pub use axum_app::axum_app;
pub use warp_app::warp_app;

use chat_core::ChatService;
use chat_http::ChatHttp;
use chat_http::identity::jwt::{Jwt, JwtKey};
use chat_store_sqlite::SqliteStore;
use std::path::Path;

/// Any start-up error.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The chat over the SQLite file `database`, trusting tokens signed with `secret` in a bearer
/// header, the auth service's cookie or `/chat/ws?token=`.
pub async fn chat(database: &Path, secret: &[u8]) -> Result<ChatHttp, BoxError> {
    let jwt = Jwt::new()
        .default_key(JwtKey::hs256(secret)?)
        .cookie(auth_service::COOKIE_NAME);
    let service = ChatService::builder(SqliteStore::open(database).await?).build();
    Ok(ChatHttp::builder(service).authenticator(jwt).build())
}

/// The auth service's signing secret: `APP_JWT_SECRET`, or a fixed development secret.
pub fn secret_from_env() -> Vec<u8> {
    std::env::var("APP_JWT_SECRET")
        .map(String::into_bytes)
        .unwrap_or_else(|_| b"development secret, not for production use!".to_vec())
}
