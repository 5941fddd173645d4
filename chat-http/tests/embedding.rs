//! The adapters inside a host app: the chat's routes sit beside the app's own, the axum router
//! takes the app's state type, and the warp filter leaves paths it does not serve to the routes
//! after it and to the app's own `recover`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::extract::State;
use chat_core::{ChatService, Config, LocalBroker};
use chat_http::{ChatHttp, HttpConfig};
use chat_store_memory::MemoryStore;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use warp::Filter;

fn chat() -> ChatHttp {
    let service = ChatService::new(
        Arc::new(MemoryStore::new()),
        Arc::new(LocalBroker::default()),
        Config::for_tests(),
    );
    ChatHttp::new(service, HttpConfig::default())
}

/// GET `path`: status and body.
async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let response = reqwest::get(format!("http://{addr}{path}"))
        .await
        .expect("the server answers");
    let status = response.status().as_u16();
    (status, response.text().await.expect("a body"))
}

#[derive(Clone)]
struct AppState {
    greeting: &'static str,
}

#[tokio::test]
async fn axum_router_merges_into_an_app_with_its_own_state() {
    let app = axum::Router::new()
        .route(
            "/hello",
            axum::routing::get(|State(app): State<AppState>| async move { app.greeting }),
        )
        .merge(chat_http::axum::router(chat()))
        .with_state(AppState {
            greeting: "hello from the host",
        });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    assert_eq!(
        get(addr, "/hello").await,
        (200, "hello from the host".into())
    );
    assert_eq!(get(addr, "/healthz").await, (200, "ok\n".into()));
    let (status, body) = get(addr, "/api/me").await;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("\"error\""), "a JSON error: {body}");
}

#[tokio::test]
async fn warp_routes_leave_other_paths_to_the_app() {
    let host = warp::path("hello").map(|| "hello from the host");
    let routes = chat_http::warp::routes(chat())
        .or(host)
        .recover(|_: warp::Rejection| async {
            Ok::<_, std::convert::Infallible>("the host's 404")
        });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(warp::serve(routes).incoming(listener).run());

    assert_eq!(
        get(addr, "/hello").await,
        (200, "hello from the host".into())
    );
    assert_eq!(get(addr, "/healthz").await, (200, "ok\n".into()));
    assert_eq!(
        get(addr, "/no-such-page").await,
        (200, "the host's 404".into())
    );
    // Under /api/ the chat answers itself, with its JSON 404.
    let (status, body) = get(addr, "/api/no-such-thing").await;
    assert_eq!(status, 404);
    assert!(body.contains("not_found"), "{body}");
}

#[tokio::test]
async fn warp_recover_answers_unknown_paths_with_the_json_404() {
    let routes = chat_http::warp::routes(chat()).recover(chat_http::warp::recover);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(warp::serve(routes).incoming(listener).run());

    let (status, body) = get(addr, "/no-such-page").await;
    assert_eq!(status, 404);
    assert!(body.contains("not_found"), "{body}");
    assert_eq!(get(addr, "/login").await.0, 200, "the UI is served");
}

/// Signs up through a chat mounted at `/chat` on `addr`: the `Set-Cookie` of the session.
async fn signup_cookie(addr: SocketAddr) -> String {
    let response = reqwest::Client::new()
        .post(format!("http://{addr}/chat/api/signup"))
        .header("origin", format!("http://{addr}"))
        .header("content-type", "application/json")
        .body(r#"{"username":"ann","password":"ann-password-1"}"#)
        .send()
        .await
        .expect("the server answers");
    assert_eq!(response.status(), 201);
    response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned()
}

/// The UI page and the session cookie follow a mount the adapter finds by itself.
async fn check_mounted_at_chat(addr: SocketAddr) {
    let (status, page) = get(addr, "/chat").await;
    assert_eq!(status, 200);
    assert!(page.contains("<base href=\"/chat/\">"), "{page}");
    let (status, page) = get(addr, "/chat/rooms/general").await;
    assert_eq!(status, 200);
    assert!(page.contains("<base href=\"/chat/\">"));
    assert_eq!(get(addr, "/chat/healthz").await, (200, "ok\n".into()));
    assert_eq!(
        get(addr, "/hello").await,
        (200, "hello from the host".into())
    );
    let cookie = signup_cookie(addr).await;
    assert!(cookie.contains("; Path=/chat/;"), "{cookie}");
}

#[tokio::test]
async fn axum_router_nested_under_a_path() {
    let app = axum::Router::new()
        .route(
            "/hello",
            axum::routing::get(|| async { "hello from the host" }),
        )
        .nest("/chat", chat_http::axum::router(chat()));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    check_mounted_at_chat(addr).await;
}

#[tokio::test]
async fn warp_routes_under_a_path() {
    let host = warp::path("hello").map(|| "hello from the host");
    let routes = warp::path("chat")
        .and(chat_http::warp::routes(chat()))
        .or(host)
        .recover(chat_http::warp::recover);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(warp::serve(routes).incoming(listener).run());
    check_mounted_at_chat(addr).await;
    // Paths of the chat outside its mount are the host's (here: nobody's).
    assert_eq!(get(addr, "/api/me").await.0, 404);
}
