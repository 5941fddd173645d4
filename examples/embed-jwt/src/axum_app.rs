//! The app on axum: the auth service's `POST /auth/token` beside the chat nested at `/chat`.

use crate::auth_service;
use axum::Router;
use axum::http::StatusCode;
use axum::http::header::SET_COOKIE;
use axum::response::IntoResponse;
use bytes::Bytes;
use chat_http::ChatHttp;
use std::sync::Arc;

/// The app on axum: `POST /auth/token` and the chat under `/chat`.
pub fn axum_app(chat: ChatHttp, secret: Vec<u8>) -> Router {
    let secret = Arc::new(secret);
    let token = move |body: Bytes| async move {
        match auth_service::login(&secret, &body) {
            Some(issued) => {
                let body = serde_json::json!({ "token": issued.token }).to_string();
                ([(SET_COOKIE, issued.cookie)], body).into_response()
            }
            None => StatusCode::UNAUTHORIZED.into_response(),
        }
    };
    Router::new()
        .route("/auth/token", axum::routing::post(token))
        .nest("/chat", chat_http::axum::router(chat))
}
