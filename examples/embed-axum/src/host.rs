//! The host application as it was before the chat: two users with passwords, a login form and
//! its own session cookie (`app_session`). Nothing here knows about the chat. A real app
//! would hash its passwords and keep sessions in its database; this one keeps them in memory.

use axum::Form;
use axum::Router;
use axum::extract::State;
use axum::http::header::{COOKIE, LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The app's users: username and password.
const USERS: [(&str, &str); 2] = [("alice", "alice-password"), ("bob", "bob-password")];

/// Name of the app's own session cookie.
pub const COOKIE_NAME: &str = "app_session";

/// The app's sessions: token to username.
#[derive(Clone, Default)]
pub struct Sessions(Arc<Mutex<HashMap<String, String>>>);

impl Sessions {
    /// The user signed in with the session cookie of `headers`, if any.
    pub fn user(&self, headers: &HeaderMap) -> Option<String> {
        let token = headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, _)| *name == COOKIE_NAME)
            .map(|(_, value)| value.to_owned())?;
        self.lock().get(&token).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The app's own routes: `/` (who you are, a link to the chat) and `/login`, `/logout`.
pub fn router(sessions: Sessions) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/login", post(login))
        .route("/logout", post(logout))
        .with_state(sessions)
}

async fn home(State(sessions): State<Sessions>, headers: HeaderMap) -> Html<String> {
    Html(match sessions.user(&headers) {
        Some(name) => format!(
            "<!doctype html><title>Home</title><p>Hello {}. <a href=\"/chat\">Open the chat</a></p>\
             <form method=post action=/logout><button>Log out</button></form>",
            escape(&name)
        ),
        None => "<!doctype html><title>Home</title><form method=post action=/login>\
                 <input name=username placeholder=username> <input name=password type=password>\
                 <button>Log in</button></form>"
            .to_owned(),
    })
}

#[derive(Deserialize)]
struct Credentials {
    username: String,
    password: String,
}

async fn login(State(sessions): State<Sessions>, Form(form): Form<Credentials>) -> Response {
    let known = USERS
        .iter()
        .any(|(name, password)| *name == form.username && *password == form.password);
    if !known {
        return (StatusCode::UNAUTHORIZED, "wrong username or password").into_response();
    }
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    let token = hex::encode(bytes);
    sessions.lock().insert(token.clone(), form.username);
    let cookie = format!("{COOKIE_NAME}={token}; Path=/; HttpOnly; SameSite=Lax");
    (
        StatusCode::SEE_OTHER,
        [(LOCATION, "/".to_owned()), (SET_COOKIE, cookie)],
    )
        .into_response()
}

async fn logout(State(sessions): State<Sessions>, headers: HeaderMap) -> Response {
    // Ends every session of the user, on every device.
    if let Some(name) = sessions.user(&headers) {
        sessions.lock().retain(|_, user| *user != name);
    }
    let clear = format!("{COOKIE_NAME}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0");
    (
        StatusCode::SEE_OTHER,
        [(LOCATION, "/".to_owned()), (SET_COOKIE, clear)],
    )
        .into_response()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
