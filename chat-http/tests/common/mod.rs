//! What the identity tests share: one request through `ChatHttp::handle` with the `Host`
//! header they all use.

#![allow(clippy::unwrap_used, dead_code)]

use bytes::Bytes;
use chat_http::ChatHttp;
use serde_json::Value;

/// The `Host` of every request.
pub const HOST: &str = "chat.test";

/// Sends a request (with `Host`, and the JSON body if any): status and JSON body (`Null` when
/// the body is not JSON).
pub async fn call(
    chat: &ChatHttp,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = http::Request::builder()
        .method(method)
        .uri(uri)
        .header("host", HOST);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let body = match body {
        Some(body) => {
            request = request.header("content-type", "application/json");
            Bytes::from(body.to_string())
        }
        None => Bytes::new(),
    };
    let response = chat.handle(request.body(body).unwrap()).await;
    let status = response.status().as_u16();
    let json = serde_json::from_slice(response.body()).unwrap_or(Value::Null);
    (status, json)
}
