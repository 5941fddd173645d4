//! The host's auth service, as it was before the chat: it checks a user's password and signs
//! a short-lived JWT (HS256) with the user's id, name and admin flag. It also sets the token
//! as an HttpOnly cookie, so the browser's pages and WebSocket carry it by themselves. Nothing
//! here knows about the chat; the chat only verifies what this signs. A real service would
//! keep hashed passwords in its database.

use jsonwebtoken::{EncodingKey, Header};
use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The users: id, name, password, admin.
const USERS: [(&str, &str, &str, bool); 2] = [
    ("u-1", "Alice", "alice-password", true),
    ("u-2", "Bob", "bob-password", false),
];

/// How long a token is valid.
pub const TOKEN_TTL: Duration = Duration::from_secs(15 * 60);

/// Name of the cookie the token is set in.
pub const COOKIE_NAME: &str = "app_token";

/// What the service signs.
#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    /// The user's id.
    pub sub: String,
    /// The user's display name.
    pub name: String,
    /// Admin rights.
    pub admin: bool,
    /// Expiry, seconds since the epoch.
    pub exp: u64,
}

/// A log-in request.
#[derive(Debug, Deserialize)]
pub struct Login {
    /// The user's name, as in [`Claims::name`], any letter case.
    pub username: String,
    /// The password.
    pub password: String,
}

/// What a successful log-in answers: the token, and the `Set-Cookie` value carrying it.
#[derive(Debug)]
pub struct Issued {
    /// The signed JWT.
    pub token: String,
    /// `Set-Cookie` header value.
    pub cookie: String,
}

/// Signs `claims` with `secret` (HS256).
pub fn sign(secret: &[u8], claims: &Claims) -> Option<String> {
    let key = EncodingKey::from_secret(secret).ok()?;
    jsonwebtoken::encode(&Header::default(), claims, &key).ok()
}

/// Seconds since the epoch, `offset` seconds from now.
pub fn epoch_seconds(offset: i64) -> Option<u64> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_secs();
    now.checked_add_signed(offset)
}

/// Checks a JSON log-in body; `None` for a malformed body or wrong credentials.
pub fn login(secret: &[u8], body: &[u8]) -> Option<Issued> {
    let login: Login = serde_json::from_slice(body).ok()?;
    let (sub, name, _, admin) = USERS.into_iter().find(|(_, name, password, _)| {
        name.eq_ignore_ascii_case(&login.username) && *password == login.password
    })?;
    let claims = Claims {
        sub: sub.to_owned(),
        name: name.to_owned(),
        admin,
        exp: epoch_seconds(i64::try_from(TOKEN_TTL.as_secs()).ok()?)?,
    };
    let token = sign(secret, &claims)?;
    let cookie = format!(
        "{COOKIE_NAME}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}",
        TOKEN_TTL.as_secs()
    );
    Some(Issued { token, cookie })
}
