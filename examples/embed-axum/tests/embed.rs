//! The embedded chat end to end: a user of the host app logs in with the app's own form,
//! opens `/chat/`, creates and joins a room, and talks over `/chat/ws` with another host user;
//! the host's own routes still answer beside the chat, and the chat's own accounts are off.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chat_client::{Auth, Client, Config, Events};
use serde_json::{Value, json};
use std::net::SocketAddr;

struct App {
    addr: SocketAddr,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl App {
    async fn start() -> App {
        let dir = tempfile::tempdir().unwrap();
        let (app, _chat) = embed_axum::app(&dir.path().join("chat.db")).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        App {
            addr,
            http,
            _dir: dir,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Logs in with the host app's form and returns its session cookie (`name=value`).
    async fn login(&self, user: &str) -> String {
        let response = self
            .http
            .post(self.url("/login"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("username={user}&password={user}-password"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303);
        let cookie = response.headers()["set-cookie"].to_str().unwrap();
        cookie.split(';').next().unwrap().to_owned()
    }

    async fn get(&self, path: &str, cookie: &str) -> (u16, String) {
        let response = self
            .http
            .get(self.url(path))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    async fn post(&self, path: &str, cookie: &str, body: Value) -> (u16, Value) {
        let response = self
            .http
            .post(self.url(path))
            .header("cookie", cookie)
            .header("origin", self.url(""))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// A chat client with the host's session cookie (and an Origin, as browsers send).
    async fn client(&self, cookie: &str) -> (Client, Events) {
        let config = Config {
            headers: vec![("origin".into(), self.url(""))],
            ..Config::default()
        };
        let url = format!("ws://{}/chat/ws", self.addr);
        Client::connect_with(&url, Auth::cookie(cookie), config)
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn host_users_chat_under_chat_path() {
    let app = App::start().await;
    let alice = app.login("alice").await;
    let bob = app.login("bob").await;

    // The host's own page still answers, and knows its user.
    let (status, home) = app.get("/", &alice).await;
    assert_eq!(status, 200);
    assert!(home.contains("Hello alice"), "{home}");

    // The chat's page, mounted under /chat, with URLs relative to it.
    let (status, page) = app.get("/chat", &alice).await;
    assert_eq!(status, 200);
    assert!(page.contains("<base href=\"/chat/\">"), "{page}");

    // The chat knows the host's user by the host's name; no chat account was made by hand.
    let (status, me) = app.get("/chat/api/me", &alice).await;
    assert_eq!(status, 200, "{me}");
    let me: Value = serde_json::from_str(&me).unwrap();
    assert_eq!(me["user"]["username"], "alice", "{me}");

    // Without the host's session there is no chat user; the chat's own log-in is not served.
    let (status, _) = app.get("/chat/api/me", "app_session=forged").await;
    assert_eq!(status, 401);
    let (status, _) = app
        .post(
            "/chat/api/login",
            "",
            json!({"username": "alice", "password": "x"}),
        )
        .await;
    assert_eq!(status, 404);

    let (status, room) = app
        .post("/chat/api/rooms", &alice, json!({"name": "general"}))
        .await;
    assert_eq!(status, 201, "{room}");

    let (a, _) = app.client(&alice).await;
    let (b, mut b_events) = app.client(&bob).await;
    a.join("general").await.unwrap();
    b.join("general").await.unwrap();
    a.send("general", "hi bob").await.unwrap();
    let wait = std::time::Duration::from_secs(20);
    let seen = tokio::time::timeout(wait, b_events.next_message())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((&*seen.body, &*seen.author), ("hi bob", "alice"));
    a.close().await;
    b.close().await;
}
