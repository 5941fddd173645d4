//! `ApiError`: every failure of the JSON API, with its HTTP status and stable snake_case code,
//! and the mapping from [`ChatError`] to statuses. Rendered as
//! `{"error":{"code":...,"message":...}}`.

use chat_core::ChatError;
use http::StatusCode;
use serde::Serialize;

/// A failed API request: status, stable code and human message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable snake_case code (the same codes as WebSocket error frames).
    pub code: &'static str,
    /// Human-readable explanation.
    pub message: String,
    /// Seconds after which a retry may succeed, sent as `Retry-After` (429, 503 `busy`).
    pub retry_after: Option<u64>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'a str,
    message: &'a str,
}

impl ApiError {
    /// An error with an explicit status and code.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// The same error, telling the client to retry after `seconds`.
    pub fn retry_after(self, seconds: u64) -> ApiError {
        ApiError {
            retry_after: Some(seconds),
            ..self
        }
    }

    /// 400: the body is not valid JSON or a field has the wrong type.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 401: no valid session.
    pub fn unauthenticated() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "authentication required",
        )
    }

    /// 403 with a code.
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, code, message)
    }

    /// 404 for a path this API does not serve.
    pub fn not_found() -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such resource")
    }

    /// 405.
    pub fn method_not_allowed() -> ApiError {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "method not allowed here",
        )
    }

    /// 413.
    pub fn payload_too_large(limit: usize) -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("request body larger than {limit} bytes"),
        )
    }

    /// 429.
    pub fn rate_limited() -> ApiError {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many requests; slow down",
        )
    }

    /// The JSON body `{"error":{"code":...,"message":...}}`.
    pub fn body(&self) -> Vec<u8> {
        serde_json::to_vec(&Body {
            error: Inner {
                code: self.code,
                message: &self.message,
            },
        })
        .unwrap_or_else(|_| br#"{"error":{"code":"internal","message":"internal error"}}"#.to_vec())
    }
}

/// The HTTP status for a service error.
pub fn status_of(e: &ChatError) -> StatusCode {
    match e {
        ChatError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
        ChatError::InvalidCredentials | ChatError::Unauthenticated => StatusCode::UNAUTHORIZED,
        ChatError::Forbidden(_) | ChatError::NotMember => StatusCode::FORBIDDEN,
        ChatError::NotFound(_) => StatusCode::NOT_FOUND,
        ChatError::Conflict(_) => StatusCode::CONFLICT,
        ChatError::Busy => StatusCode::SERVICE_UNAVAILABLE,
        ChatError::Store(_) | ChatError::Broker(_) | ChatError::Internal(_) => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
    }
}

/// The message shown to clients: internal details are logged, never sent.
pub fn public_message(e: &ChatError) -> String {
    match e {
        ChatError::Store(_) | ChatError::Broker(_) | ChatError::Internal(_) => {
            tracing::error!(error = %e, "internal error");
            String::from("internal error")
        }
        other => other.to_string(),
    }
}

/// Seconds a client is asked to wait after a 503 `busy`: about how long the password hashing
/// queue takes to drain.
pub const BUSY_RETRY_AFTER_SECS: u64 = 1;

impl From<ChatError> for ApiError {
    fn from(e: ChatError) -> Self {
        let retry_after = matches!(e, ChatError::Busy).then_some(BUSY_RETRY_AFTER_SECS);
        ApiError {
            status: status_of(&e),
            code: e.code(),
            message: public_message(&e),
            retry_after,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chat_core::{Conflict, Entity, ValidationError};

    #[test]
    fn maps_service_errors_to_statuses() {
        let cases = [
            (
                ChatError::Validation(ValidationError::BodyEmpty),
                422,
                "invalid_body",
            ),
            (ChatError::InvalidCredentials, 401, "invalid_credentials"),
            (ChatError::Unauthenticated, 401, "unauthenticated"),
            (ChatError::Forbidden("x"), 403, "forbidden"),
            (ChatError::NotMember, 403, "not_member"),
            (ChatError::NotFound(Entity::Room), 404, "unknown_room"),
            (ChatError::NotFound(Entity::Message), 404, "not_found"),
            (ChatError::Conflict(Conflict::Username), 409, "conflict"),
            (ChatError::Busy, 503, "busy"),
            (ChatError::Internal("secret".into()), 500, "internal"),
        ];
        for (e, status, code) in cases {
            let api = ApiError::from(e);
            assert_eq!(api.status.as_u16(), status);
            assert_eq!(api.code, code);
            assert!(!api.message.contains("secret"));
        }
    }

    #[test]
    fn renders_error_body() {
        let body = ApiError::rate_limited().body();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["error"]["code"], "rate_limited");
        assert!(v["error"]["message"].is_string());
    }
}
