//! The app on warp: the auth service's `POST /auth/token` beside the chat under `/chat`, and
//! the chat's `recover` for the JSON 404 of paths nobody serves.

use crate::auth_service;
use bytes::Bytes;
use chat_http::ChatHttp;
use std::sync::Arc;
use warp::{Filter, Rejection, Reply};

/// The same app on warp.
pub fn warp_app(
    chat: ChatHttp,
    secret: Vec<u8>,
) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    let secret = Arc::new(secret);
    let token = warp::path!("auth" / "token")
        .and(warp::post())
        .and(warp::body::content_length_limit(4096))
        .and(warp::body::bytes())
        .map(
            move |body: Bytes| match auth_service::login(&secret, &body) {
                Some(issued) => {
                    let body = serde_json::json!({ "token": issued.token }).to_string();
                    warp::reply::with_header(body, "set-cookie", issued.cookie).into_response()
                }
                None => warp::reply::with_status("", warp::http::StatusCode::UNAUTHORIZED)
                    .into_response(),
            },
        );
    token
        .or(warp::path("chat").and(chat_http::warp::routes(chat)))
        .recover(chat_http::warp::recover)
}
