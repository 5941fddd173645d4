//! The JSON API under `/api/`, written once for every adapter: a request context ([`Ctx`]) with
//! authentication, CSRF, body and query parsing, and the route table. Handlers live in
//! [`accounts`], [`rooms`] and [`admin`]; each parses input, calls the
//! [`ChatService`](chat_core::ChatService) and renders JSON.

pub mod accounts;
pub mod admin;
pub mod rooms;

use crate::auth::{self, Via};
use crate::error::ApiError;
use crate::limits::rate::KeyedLimiter;
use crate::{ChatHttp, ClientKey, PeerAddr};
use bytes::Bytes;
use chat_core::{ChatRoom, User};
use http::{HeaderMap, Method, Response};
use percent_encoding::percent_decode_str;
use serde::de::DeserializeOwned;

/// One HTTP request as the API sees it.
#[derive(Debug)]
pub struct Ctx<'a> {
    /// The HTTP layer.
    pub chat: &'a ChatHttp,
    /// Request method.
    pub method: &'a Method,
    /// Request headers.
    pub headers: &'a HeaderMap,
    /// Raw query string.
    pub query: Option<&'a str>,
    /// Request body.
    pub body: &'a Bytes,
    /// The TCP peer, when the server loop recorded it.
    pub peer: Option<PeerAddr>,
    /// The whole request head, for the app's [`Authenticator`](crate::Authenticator).
    pub parts: &'a http::request::Parts,
}

impl Ctx<'_> {
    /// Refuses methods other than `methods` with 405.
    pub fn allow(&self, methods: &[Method]) -> Result<(), ApiError> {
        if methods.contains(self.method) {
            Ok(())
        } else {
            Err(ApiError::method_not_allowed())
        }
    }

    /// The authenticated user (the app's [`Authenticator`](crate::Authenticator) or the
    /// chat's own session), after the CSRF check of state-changing requests.
    pub async fn user(&self) -> Result<User, ApiError> {
        Ok(self.chat.caller(self.parts).await?.user)
    }

    /// Where the chat is mounted for this request (see [`ChatHttp::mount`]).
    pub fn mount(&self) -> String {
        self.chat.mount(self.parts)
    }

    /// 404 unless the chat's own accounts are served (see
    /// [`ChatHttpBuilder::own_accounts`](crate::ChatHttpBuilder::own_accounts)).
    fn own_accounts(&self) -> Result<(), ApiError> {
        if self.chat.own_accounts() {
            Ok(())
        } else {
            Err(ApiError::not_found())
        }
    }

    /// The CSRF check of a request that needs no session (sign up, log in).
    pub fn check_anonymous_write(&self) -> Result<(), ApiError> {
        let via = auth::session_token(self.headers).map(|(_, via)| via);
        auth::check_csrf(
            self.method,
            self.headers,
            via.filter(|v| *v == Via::Cookie),
            self.chat.config(),
        )
    }

    /// The client's address key for per-address limits (`None` when the peer is unknown).
    pub fn client(&self) -> Option<ClientKey> {
        self.chat.client_key(self.headers, self.peer)
    }

    /// Takes a token for the client's address from `limiter`, or 429 `rate_limited`.
    pub fn limit_address(&self, limiter: &KeyedLimiter<ClientKey>) -> Result<(), ApiError> {
        match self.client() {
            Some(key) => limiter.acquire(key).map_err(|w| self.chat.rate_limited(w)),
            None => Ok(()),
        }
    }

    /// Takes a token from `user`'s action budget (shared with the WebSocket's `send`, `edit`,
    /// `delete` and `history`), or 429 `rate_limited`.
    pub fn limit_user(&self, user: &User) -> Result<(), ApiError> {
        self.chat
            .limits()
            .actions
            .acquire(user.id)
            .map_err(|w| self.chat.rate_limited(w))
    }

    /// The body parsed as JSON: 415 `unsupported_media_type` unless the `Content-Type` is
    /// `application/json` (HTML forms cannot send that cross-site without a preflight), 400
    /// `invalid_json` when malformed, 400 `missing_field` or `bad_field` when it does not fit.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        if !is_json(self.headers) {
            return Err(ApiError::new(
                http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as application/json",
            ));
        }
        match serde_json::from_slice(self.body) {
            Ok(v) => Ok(v),
            Err(e) if e.is_data() => {
                let text = e.to_string();
                let message = text.split(" at line ").next().unwrap_or(&text).to_owned();
                let code = if message.starts_with("missing field") {
                    "missing_field"
                } else {
                    "bad_field"
                };
                Err(ApiError::bad_request(code, message))
            }
            Err(e) => Err(ApiError::bad_request(
                "invalid_json",
                format!("request body is not valid JSON: {e}"),
            )),
        }
    }

    /// The query string parsed into `T`: 400 `bad_query` when it does not fit.
    pub fn query<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        serde_urlencoded::from_str(self.query.unwrap_or(""))
            .map_err(|e| ApiError::bad_request("bad_query", format!("bad query string: {e}")))
    }

    /// The room called `name`, or 404 `unknown_room`.
    pub async fn room(&self, user: &User, name: &str) -> Result<ChatRoom, ApiError> {
        Ok(self.chat.service().room(user, name).await?)
    }
}

/// Routes `/api/{rest}`.
pub(crate) async fn route(ctx: &Ctx<'_>, rest: &str) -> Result<Response<Bytes>, ApiError> {
    let segments: Vec<String> = rest
        .trim_end_matches('/')
        .split('/')
        .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect();
    let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
    let (get, post) = (Method::GET, Method::POST);
    match segs.as_slice() {
        ["signup"] => {
            ctx.own_accounts()?;
            ctx.allow(&[post])?;
            accounts::signup(ctx).await
        }
        ["login"] => {
            ctx.own_accounts()?;
            ctx.allow(&[post])?;
            accounts::login(ctx).await
        }
        ["logout"] => {
            ctx.own_accounts()?;
            ctx.allow(&[post])?;
            accounts::logout(ctx).await
        }
        ["logout-all"] => {
            ctx.own_accounts()?;
            ctx.allow(&[post])?;
            accounts::logout_all(ctx).await
        }
        ["password"] => {
            ctx.own_accounts()?;
            ctx.allow(&[post])?;
            accounts::change_password(ctx).await
        }
        ["me"] => {
            ctx.allow(&[get])?;
            accounts::me(ctx).await
        }
        ["me", "rooms"] => {
            ctx.allow(&[get])?;
            rooms::mine(ctx).await
        }
        ["rooms"] => match *ctx.method {
            Method::GET => rooms::list(ctx).await,
            Method::POST => rooms::create(ctx).await,
            _ => Err(ApiError::method_not_allowed()),
        },
        ["rooms", name] => match *ctx.method {
            Method::GET => rooms::get(ctx, name).await,
            Method::PATCH => rooms::update(ctx, name).await,
            _ => Err(ApiError::method_not_allowed()),
        },
        ["rooms", name, "join"] => {
            ctx.allow(&[post])?;
            rooms::join(ctx, name).await
        }
        ["rooms", name, "leave"] => {
            ctx.allow(&[post])?;
            rooms::leave(ctx, name).await
        }
        ["rooms", name, "messages"] => {
            ctx.allow(&[get])?;
            rooms::messages(ctx, name, false).await
        }
        ["rooms", name, "messages", seq] => match *ctx.method {
            Method::PATCH => rooms::edit_message(ctx, name, seq).await,
            Method::DELETE => rooms::delete_message(ctx, name, seq).await,
            _ => Err(ApiError::method_not_allowed()),
        },
        ["rooms", name, "search"] => {
            ctx.allow(&[get])?;
            rooms::search(ctx, name).await
        }
        ["admin", rest @ ..] => admin::route(ctx, rest).await,
        _ => Err(ApiError::not_found()),
    }
}

/// Whether the request says its body is JSON (`application/json`, parameters allowed).
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

/// A path segment parsed as a number, or 404.
pub(crate) fn number(segment: &str) -> Result<i64, ApiError> {
    segment.parse().map_err(|_| ApiError::not_found())
}
