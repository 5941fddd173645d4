//! `/api/signup`, `/api/login`, `/api/logout`, `/api/logout-all`, `/api/password` and
//! `/api/me`: sessions as an HttpOnly, SameSite=Lax cookie for browsers and as a bearer token in
//! the body for other clients.

use super::Ctx;
use crate::auth;
use crate::dispatch::{json_response, no_content};
use crate::error::ApiError;
use crate::views::{self, UserView};
use bytes::Bytes;
use chat_core::{SessionToken, User};
use http::header::SET_COOKIE;
use http::{Response, StatusCode};
use serde::{Deserialize, Serialize};

/// Body of sign up and log in.
#[derive(Debug, Deserialize)]
pub struct Credentials {
    /// Username.
    pub username: String,
    /// Password.
    pub password: String,
}

#[derive(Serialize)]
struct SessionBody<'a> {
    user: UserView<'a>,
    token: &'a str,
}

#[derive(Serialize)]
struct MeBody<'a> {
    user: UserView<'a>,
}

fn session_response(
    ctx: &Ctx<'_>,
    status: StatusCode,
    user: &User,
    token: &SessionToken,
) -> Response<Bytes> {
    let mut response = json_response(
        status,
        &SessionBody {
            user: views::user(user),
            token: token.as_str(),
        },
    );
    let ttl = ctx.chat.service().config().session_ttl;
    if let Some(cookie) =
        auth::session_cookie(token, ttl, ctx.chat.config().secure_cookies, &ctx.mount())
    {
        response.headers_mut().insert(SET_COOKIE, cookie);
    }
    response
}

/// `POST /api/signup` `{"username","password"}` -> 201 `{"user","token"}` and the cookie.
pub async fn signup(ctx: &Ctx<'_>) -> Result<Response<Bytes>, ApiError> {
    ctx.check_anonymous_write()?;
    let body: Credentials = ctx.json()?;
    ctx.limit_address(&ctx.chat.limits().signups)?;
    let (user, token) = ctx
        .chat
        .service()
        .signup(&body.username, &body.password)
        .await?;
    Ok(session_response(ctx, StatusCode::CREATED, &user, &token))
}

/// `POST /api/login` `{"username","password"}` -> 200 `{"user","token"}` and the cookie;
/// 401 `invalid_credentials`; 429 after too many attempts for one username or from one
/// client address.
pub async fn login(ctx: &Ctx<'_>) -> Result<Response<Bytes>, ApiError> {
    ctx.check_anonymous_write()?;
    let body: Credentials = ctx.json()?;
    ctx.limit_address(&ctx.chat.limits().address_logins)?;
    // Only names that could exist get a bucket, so the limiter's keys stay small; the others
    // fail in the service without hashing (no account can have them).
    let limits = &ctx.chat.service().config().limits;
    if chat_core::validation::username(limits, body.username.trim()).is_ok() {
        let key = body.username.trim().to_lowercase();
        let logins = &ctx.chat.limits().logins;
        logins.acquire(key).map_err(|w| ctx.chat.rate_limited(w))?;
    }
    let (user, token) = ctx
        .chat
        .service()
        .login(&body.username, &body.password)
        .await?;
    Ok(session_response(ctx, StatusCode::OK, &user, &token))
}

/// `POST /api/logout` -> 204, ends the session and clears the cookie.
pub async fn logout(ctx: &Ctx<'_>) -> Result<Response<Bytes>, ApiError> {
    let (token, via) = auth::session_token(ctx.headers).ok_or_else(ApiError::unauthenticated)?;
    auth::check_csrf(ctx.method, ctx.headers, Some(via), ctx.chat.config())?;
    ctx.chat.service().logout(&token).await?;
    let mut response = no_content();
    if let Some(clear) = auth::clear_cookie(ctx.chat.config().secure_cookies, &ctx.mount()) {
        response.headers_mut().insert(SET_COOKIE, clear);
    }
    Ok(response)
}

/// `POST /api/logout-all` -> 204: ends every session of the caller (every device; their
/// sockets close with 4001) and clears the cookie.
pub async fn logout_all(ctx: &Ctx<'_>) -> Result<Response<Bytes>, ApiError> {
    let user = ctx.user().await?;
    ctx.chat.service().logout_everywhere(&user).await?;
    let mut response = no_content();
    if let Some(clear) = auth::clear_cookie(ctx.chat.config().secure_cookies, &ctx.mount()) {
        response.headers_mut().insert(SET_COOKIE, clear);
    }
    Ok(response)
}

/// Body of a password change.
#[derive(Debug, Deserialize)]
pub struct PasswordChange {
    /// The current password.
    pub old_password: String,
    /// The new password.
    pub new_password: String,
}

/// `POST /api/password` `{"old_password","new_password"}` -> 204: changes the password and
/// ends every other session of the caller (their sockets close with 4001); this one stays.
/// 401 `invalid_credentials` for a wrong current password, 422 for a bad new one, 429 after
/// too many attempts (the log-in limit of the username).
pub async fn change_password(ctx: &Ctx<'_>) -> Result<Response<Bytes>, ApiError> {
    let user = ctx.user().await?;
    let body: PasswordChange = ctx.json()?;
    let logins = &ctx.chat.limits().logins;
    logins
        .acquire(user.username.to_lowercase())
        .map_err(|w| ctx.chat.rate_limited(w))?;
    let current = auth::session_token(ctx.headers).map(|(token, _)| token);
    ctx.chat
        .service()
        .change_password(
            &user,
            current.as_ref(),
            &body.old_password,
            &body.new_password,
        )
        .await?;
    Ok(no_content())
}

/// `GET /api/me` -> `{"user"}`.
pub async fn me(ctx: &Ctx<'_>) -> Result<Response<Bytes>, ApiError> {
    let user = ctx.user().await?;
    Ok(json_response(
        StatusCode::OK,
        &MeBody {
            user: views::user(&user),
        },
    ))
}
