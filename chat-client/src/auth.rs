//! How the client proves who it is at every handshake (docs/PROTOCOL.md, identity modes): a
//! bearer token (chat session or JWT), a `Cookie` header (the chat's session cookie or the host
//! app's), a JWT in the `?token=` query, or a callback asked before every (re)connect so a
//! short-lived token can be refreshed.

use crate::error::ClientError;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// One credential, put on one handshake.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// `Authorization: Bearer <token>`: a chat session token or a JWT.
    Bearer(String),
    /// A whole `Cookie` header value, such as `chat_session=...`.
    Cookie(String),
    /// `?token=<jwt>` in the URL (shows in access logs: use short-lived tokens).
    QueryToken(String),
    /// Nothing (the server decides who this is from the other headers, if anything).
    None,
}

impl fmt::Debug for Credential {
    /// Names the kind only: tokens stay out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self {
            Credential::Bearer(_) => "Bearer(..)",
            Credential::Cookie(_) => "Cookie(..)",
            Credential::QueryToken(_) => "QueryToken(..)",
            Credential::None => "None",
        };
        f.write_str(kind)
    }
}

/// The future a token callback returns.
pub type CredentialFuture = Pin<Box<dyn Future<Output = Result<Credential, String>> + Send>>;

/// Where the credential of each handshake comes from.
#[derive(Clone)]
pub enum Auth {
    /// The same credential every time.
    Static(Credential),
    /// Asked before every connect and reconnect (a fresh JWT, a renewed session...).
    Callback(Arc<dyn Fn() -> CredentialFuture + Send + Sync>),
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::Static(credential) => f.debug_tuple("Static").field(credential).finish(),
            Auth::Callback(_) => f.write_str("Callback(..)"),
        }
    }
}

impl Auth {
    /// `Authorization: Bearer <token>`.
    pub fn bearer(token: impl Into<String>) -> Auth {
        Auth::Static(Credential::Bearer(token.into()))
    }

    /// A `Cookie` header value (`name=value; other=...`).
    pub fn cookie(header: impl Into<String>) -> Auth {
        Auth::Static(Credential::Cookie(header.into()))
    }

    /// A JWT in the `token` query parameter.
    pub fn query_token(token: impl Into<String>) -> Auth {
        Auth::Static(Credential::QueryToken(token.into()))
    }

    /// A callback asked for the credential before every connect and reconnect.
    pub fn callback<F, Fut>(f: F) -> Auth
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Credential, String>> + Send + 'static,
    {
        Auth::Callback(Arc::new(move || Box::pin(f())))
    }

    /// The credential for the next handshake.
    pub(crate) async fn credential(&self) -> Result<Credential, ClientError> {
        match self {
            Auth::Static(credential) => Ok(credential.clone()),
            Auth::Callback(f) => f().await.map_err(ClientError::Token),
        }
    }
}
