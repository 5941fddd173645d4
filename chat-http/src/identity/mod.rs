//! Who a request comes from. By default the chat's own accounts answer (a session token from
//! the `chat_session` cookie or a bearer header). An app that has users of its own plugs in an
//! [`Authenticator`] instead: it turns a request into an [`Identity`] (the user's id in the
//! app, a name, an admin flag), and the chat creates or updates that user in its store
//! ([`ChatService::external_user`](chat_core::ChatService::external_user)). Built in:
//! [`from_fn`] for any async closure (the app's own session), and, with feature `jwt`, JWTs
//! the app issues.
//!
//! The same resolution runs for the JSON API, the UI's admin page and the WebSocket
//! handshake, so every path sees the same user. When the app signs a user out, it closes their
//! open sockets on every node with
//! [`ChatService::logout_everywhere`](chat_core::ChatService::logout_everywhere) (the user from
//! [`ChatService::external_user`](chat_core::ChatService::external_user)).

use crate::ChatHttp;
use crate::auth::{self, Via};
use crate::error::ApiError;
use async_trait::async_trait;
use chat_core::{ExternalUser, Session, SessionToken, Timestamp, User};
use http::request::Parts;
use std::fmt;
use std::future::Future;

#[cfg(feature = "jwt")]
pub mod jwt;

/// A user as the host application vouches for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The user in the host application: id, name, admin flag.
    pub user: ExternalUser,
    /// When the credential stops being valid; a WebSocket opened with it closes then (4001).
    pub expires_at: Option<Timestamp>,
    /// How the request carried the credential: [`Via::Cookie`] (the default) makes
    /// state-changing requests pass the CSRF check, [`Via::Bearer`] does not need it.
    pub via: Via,
}

impl Identity {
    /// The user `external_id` of the host application, shown as `name`; carried by a cookie,
    /// no expiry, admin flag left as the chat has it.
    pub fn new(external_id: impl Into<String>, name: impl Into<String>) -> Identity {
        Identity {
            user: ExternalUser {
                external_id: external_id.into(),
                name: name.into(),
                admin: None,
            },
            expires_at: None,
            via: Via::Cookie,
        }
    }

    /// Grants (`true`) or revokes (`false`) the chat's admin rights.
    pub fn admin(mut self, admin: bool) -> Identity {
        self.user.admin = Some(admin);
        self
    }

    /// The credential's expiry.
    pub fn expires_at(mut self, at: Timestamp) -> Identity {
        self.expires_at = Some(at);
        self
    }

    /// How the credential was carried.
    pub fn via(mut self, via: Via) -> Identity {
        self.via = via;
        self
    }
}

/// Turns a request into the identity of its user, as the host application sees it.
#[async_trait]
pub trait Authenticator: Send + Sync + 'static {
    /// `Ok(None)` when the request carries no credential of this kind (the chat's own
    /// sessions are tried next when they are on, else 401); an error (usually 401) when it
    /// carries one that is refused.
    async fn authenticate(&self, request: &Parts) -> Result<Option<Identity>, ApiError>;
}

/// An [`Authenticator`] made from a closure: see [`from_fn`].
#[derive(Clone)]
pub struct FromFn<F>(F);

impl<F> fmt::Debug for FromFn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FromFn")
    }
}

/// An [`Authenticator`] from a closure that reads what it needs from the request's parts
/// (headers, cookies, extensions such as the app's session) and returns a future of the
/// identity, `None` for a request without a signed-in user:
///
/// ```
/// use chat_http::identity::{Identity, from_fn};
/// let auth = from_fn(|request: &http::request::Parts| {
///     let user = chat_http::auth::cookie(&request.headers, "my_app_user");
///     async move { user.map(|name| Identity::new(name.clone(), name)) }
/// });
/// # drop(auth);
/// ```
pub fn from_fn<F, Fut>(f: F) -> FromFn<F>
where
    F: Fn(&Parts) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Option<Identity>> + Send + 'static,
{
    FromFn(f)
}

#[async_trait]
impl<F, Fut> Authenticator for FromFn<F>
where
    F: Fn(&Parts) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Option<Identity>> + Send + 'static,
{
    async fn authenticate(&self, request: &Parts) -> Result<Option<Identity>, ApiError> {
        Ok((self.0)(request).await)
    }
}

/// The authenticated caller of a request.
#[derive(Debug)]
pub(crate) struct Caller {
    pub(crate) user: User,
    /// The chat session, with the chat's own accounts.
    pub(crate) session: Option<Session>,
    /// When the credential expires.
    pub(crate) expires_at: Option<Timestamp>,
}

impl ChatHttp {
    /// The caller of a request: the app's [`Authenticator`] first, when there is one, then
    /// the chat's own session (when own accounts are on). A state-changing request carried by
    /// a cookie must also pass the CSRF check. 401 without a credential, or the
    /// authenticator's refusal; 403 for a user an admin deactivated.
    pub(crate) async fn caller(&self, request: &Parts) -> Result<Caller, ApiError> {
        self.caller_with(request, false).await
    }

    /// [`caller`](Self::caller) of a WebSocket handshake: with the chat's own accounts, a
    /// session token may also come in the `token` query parameter, since browsers cannot set
    /// headers on a WebSocket (for apps on another origin, where the cookie does not go).
    pub(crate) async fn socket_caller(&self, request: &Parts) -> Result<Caller, ApiError> {
        self.caller_with(request, true).await
    }

    async fn caller_with(&self, request: &Parts, socket: bool) -> Result<Caller, ApiError> {
        let config = self.config();
        let identity = match self.authenticator() {
            Some(authenticator) => authenticator.authenticate(request).await?,
            None => None,
        };
        if let Some(identity) = identity {
            auth::check_csrf(
                &request.method,
                &request.headers,
                Some(identity.via),
                config,
            )?;
            let user = self.service().external_user(&identity.user).await?;
            return Ok(Caller {
                user,
                session: None,
                expires_at: identity.expires_at,
            });
        }
        if !self.own_accounts() {
            return Err(ApiError::unauthenticated());
        }
        let from_query = || {
            let query = request.uri.query().filter(|_| socket)?;
            let token = auth::query_parameter(query, "token")?;
            Some((SessionToken::from_client(&token), Via::Bearer))
        };
        let (token, via) = auth::session_token(&request.headers)
            .or_else(from_query)
            .ok_or_else(ApiError::unauthenticated)?;
        auth::check_csrf(&request.method, &request.headers, Some(via), config)?;
        let (session, user) = self.service().authenticate_session(&token).await?;
        Ok(Caller {
            user,
            expires_at: Some(session.expires_at),
            session: Some(session),
        })
    }
}
