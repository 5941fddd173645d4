//! An existing axum app (its own users, login and session cookie, in [`host`]) that adds the
//! chat under `/chat`. Everything chat-specific is in [`app`] and `main`'s two shutdown calls:
//! open a store, build the chat with an authenticator that asks the app's sessions who is
//! calling, and nest its router. The app's users appear in the chat under their own names
//! without signing up again; the chat's own sign-up and log-in are off.

pub mod host;

use axum::Router;
use chat_core::ChatService;
use chat_http::ChatHttp;
use chat_http::identity::{Identity, from_fn};
use chat_store_sqlite::SqliteStore;
use std::path::Path;

/// Any start-up error.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The app with the chat mounted at `/chat`, over the SQLite file `database`, and the chat's
/// handle (for graceful shutdown).
pub async fn app(database: &Path) -> Result<(Router, ChatHttp), BoxError> {
    let sessions = host::Sessions::default();
    let users = sessions.clone();
    let chat = ChatHttp::builder(ChatService::builder(SqliteStore::open(database).await?).build())
        .authenticator(from_fn(move |request: &http::request::Parts| {
            let name = users.user(&request.headers);
            async move { name.map(|name| Identity::new(name.clone(), name)) }
        }))
        .build();
    let app = host::router(sessions).nest("/chat", chat_http::axum::router(chat.clone()));
    Ok((app, chat))
}
