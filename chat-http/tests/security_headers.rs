//! Browser security headers, checked over `ChatHttp::handle`: every UI response (pages, assets,
//! the admin redirect and refusal, UI errors) carries the Content-Security-Policy,
//! `X-Content-Type-Options`, `X-Frame-Options` and `Referrer-Policy`; every response, API
//! included, carries `Strict-Transport-Security` exactly when cookies are `Secure`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use chat_core::{ChatService, Config, LocalBroker};
use chat_http::{ChatHttp, HttpConfig};
use chat_store_memory::MemoryStore;
use http::{Method, Request, Response};
use std::sync::Arc;

const CSP: &str = "default-src 'self'; frame-ancestors 'none'; object-src 'none'; \
                   base-uri 'self'; form-action 'self'";
const PASSWORD: &str = "security-headers-1";

fn chat(secure_cookies: bool) -> ChatHttp {
    let service = ChatService::new(
        Arc::new(MemoryStore::new()),
        Arc::new(LocalBroker::default()),
        Config::for_tests(),
    );
    ChatHttp::new(
        service,
        HttpConfig {
            secure_cookies,
            ..HttpConfig::default()
        },
    )
}

async fn request(
    chat: &ChatHttp,
    method: Method,
    path: &str,
    token: Option<&str>,
) -> Response<Bytes> {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "chat.test");
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    chat.handle(request.body(Bytes::new()).unwrap()).await
}

/// A session token of a new user.
async fn token(chat: &ChatHttp, name: &str, admin: bool) -> String {
    chat.service()
        .create_user(name, PASSWORD, admin)
        .await
        .unwrap();
    let (_, token) = chat.service().login(name, PASSWORD).await.unwrap();
    token.as_str().to_owned()
}

fn header<'a>(response: &'a Response<Bytes>, name: &str) -> Option<&'a str> {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap_or("<not text>"))
}

fn assert_ui_headers(what: &str, response: &Response<Bytes>) {
    assert_eq!(
        header(response, "content-security-policy"),
        Some(CSP),
        "{what}"
    );
    assert_eq!(
        header(response, "x-content-type-options"),
        Some("nosniff"),
        "{what}"
    );
    assert_eq!(header(response, "x-frame-options"), Some("DENY"), "{what}");
    assert_eq!(
        header(response, "referrer-policy"),
        Some("same-origin"),
        "{what}"
    );
}

#[tokio::test]
async fn every_ui_response_carries_the_security_headers() {
    let chat = chat(false);
    assert_eq!(chat_http::ui::CONTENT_SECURITY_POLICY, CSP);
    let member = token(&chat, "member", false).await;
    let admin = token(&chat, "root", true).await;

    let mut cases: Vec<(String, Method, Option<&str>, u16)> = Vec::new();
    for path in ["/", "/login", "/signup", "/rooms/lobby"] {
        cases.push((path.to_owned(), Method::GET, None, 200));
        cases.push((path.to_owned(), Method::HEAD, None, 200));
    }
    for (file, _, _) in chat_http::ui::ASSETS {
        cases.push((format!("/static/{file}"), Method::GET, None, 200));
    }
    cases.extend([
        ("/admin".to_owned(), Method::GET, None, 303),
        ("/admin".to_owned(), Method::GET, Some(member.as_str()), 403),
        ("/admin".to_owned(), Method::GET, Some(admin.as_str()), 200),
        ("/static/nope.js".to_owned(), Method::GET, None, 404),
        ("/".to_owned(), Method::POST, None, 405),
    ]);
    for (path, method, token, status) in cases {
        let what = format!("{method} {path} (token: {})", token.is_some());
        let response = request(&chat, method, &path, token).await;
        assert_eq!(response.status().as_u16(), status, "{what}");
        assert_ui_headers(&what, &response);
        assert_eq!(
            header(&response, "strict-transport-security"),
            None,
            "{what}: HSTS without secure cookies"
        );
    }
    let redirect = request(&chat, Method::GET, "/admin", None).await;
    assert_eq!(header(&redirect, "location"), Some("/login"));
}

#[tokio::test]
async fn hsts_is_on_every_response_with_secure_cookies() {
    let chat = chat(true);
    let user = token(&chat, "ann", false).await;
    for (method, path, token, status) in [
        (Method::GET, "/", None, 200),
        (Method::GET, "/static/app.js", None, 200),
        (Method::GET, "/admin", None, 303),
        (Method::GET, "/healthz", None, 200),
        (Method::GET, "/metrics", None, 200),
        (Method::GET, "/api/me", Some(user.as_str()), 200),
        (Method::GET, "/api/me", None, 401),
        (Method::GET, "/api/nothing-here", None, 404),
    ] {
        let response = request(&chat, method.clone(), path, token).await;
        assert_eq!(response.status().as_u16(), status, "{method} {path}");
        assert_eq!(
            header(&response, "strict-transport-security"),
            Some("max-age=31536000"),
            "{method} {path}"
        );
    }
}

#[tokio::test]
async fn api_responses_have_no_hsts_without_secure_cookies() {
    let chat = chat(false);
    let user = token(&chat, "bob", false).await;
    for (path, token) in [
        ("/api/me", Some(user.as_str())),
        ("/api/me", None),
        ("/healthz", None),
    ] {
        let response = request(&chat, Method::GET, path, token).await;
        assert_eq!(
            header(&response, "strict-transport-security"),
            None,
            "{path}"
        );
    }
}
