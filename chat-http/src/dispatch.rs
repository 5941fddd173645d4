//! The framework-free HTTP front door: picks the handler for a path (`/api/*`, UI pages,
//! `/static/*`, `/healthz`, `/metrics`) and turns handler errors into JSON error responses, so
//! the axum and warp adapters only convert requests and responses.

use crate::api::{self, Ctx};
use crate::error::ApiError;
use crate::{ChatHttp, PeerAddr};
use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderValue, Method, Request, Response, StatusCode};

/// Routes a request to its handler.
pub(crate) async fn dispatch(chat: &ChatHttp, request: Request<Bytes>) -> Response<Bytes> {
    let (parts, body) = request.into_parts();
    let ctx = Ctx {
        chat,
        method: &parts.method,
        headers: &parts.headers,
        query: parts.uri.query(),
        body: &body,
        peer: parts.extensions.get::<PeerAddr>().copied(),
        parts: &parts,
    };
    match route(&ctx, parts.uri.path()).await {
        Ok(response) => response,
        Err(e) => error_response(&e),
    }
}

async fn route(ctx: &Ctx<'_>, path: &str) -> Result<Response<Bytes>, ApiError> {
    if let Some(rest) = path.strip_prefix("/api/") {
        return api::route(ctx, rest).await;
    }
    match path {
        "/healthz" => {
            ctx.allow(&[Method::GET, Method::HEAD])?;
            Ok(text_response(
                StatusCode::OK,
                "text/plain; charset=utf-8",
                "ok\n",
            ))
        }
        "/metrics" if ctx.chat.config().serve_metrics => {
            ctx.allow(&[Method::GET, Method::HEAD])?;
            let fan_out = ctx.chat.service().broker().fan_out_stats();
            let body = ctx.chat.metrics().render_with(fan_out);
            Ok(text_response(
                StatusCode::OK,
                "text/plain; version=0.0.4; charset=utf-8",
                body,
            ))
        }
        _ if ctx.chat.config().serve_ui => crate::ui::page(ctx, path).await,
        _ => Err(ApiError::not_found()),
    }
}

/// A response with a body and content type, not cached.
pub(crate) fn text_response(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Bytes> {
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A JSON response.
pub(crate) fn json_response<T: serde::Serialize>(status: StatusCode, value: &T) -> Response<Bytes> {
    match serde_json::to_vec(value) {
        Ok(body) => text_response(status, "application/json", body),
        Err(e) => {
            tracing::error!(error = %e, "encoding a response failed");
            error_response(&ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "internal error",
            ))
        }
    }
}

/// The JSON response of an error: `{"error":{"code":...,"message":...}}`.
pub(crate) fn error_response(error: &ApiError) -> Response<Bytes> {
    let mut response = text_response(error.status, "application/json", error.body());
    if error.status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            http::header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer"),
        );
    }
    if let Some(seconds) = error.retry_after {
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

/// An empty 204 response.
pub(crate) fn no_content() -> Response<Bytes> {
    let mut response = Response::new(Bytes::new());
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
}
