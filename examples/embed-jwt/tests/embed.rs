//! The JWT-embedded chat end to end on axum and on warp: users get a token from the app's
//! auth service, open `/chat/`, and talk over `/chat/ws?token=...`; the auth service answers
//! beside the chat; expired and forged tokens are refused.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chat_client::{Auth, Client};
use embed_jwt::auth_service;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::time::timeout;

/// How long the chat may take to deliver a message.
const WAIT: Duration = Duration::from_secs(20);

const SECRET: &[u8] = b"a test secret of at least thirty-two bytes";

#[derive(Clone, Copy, Debug)]
enum Framework {
    Axum,
    Warp,
}

struct App {
    addr: SocketAddr,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl App {
    async fn start(framework: Framework) -> App {
        let dir = tempfile::tempdir().unwrap();
        let chat = embed_jwt::chat(&dir.path().join("chat.db"), SECRET)
            .await
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        match framework {
            Framework::Axum => {
                let app = embed_jwt::axum_app(chat, SECRET.to_vec());
                tokio::spawn(async move { axum::serve(listener, app).await });
            }
            Framework::Warp => {
                let app = embed_jwt::warp_app(chat, SECRET.to_vec());
                tokio::spawn(warp::serve(app).incoming(listener).run());
            }
        }
        App {
            addr,
            http: reqwest::Client::new(),
            _dir: dir,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Logs in at the auth service: the token and the cookie it set.
    async fn token(&self, user: &str) -> (String, String) {
        let body = json!({"username": user, "password": format!("{user}-password")});
        let response = self
            .http
            .post(self.url("/auth/token"))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let cookie = response.headers()["set-cookie"].to_str().unwrap();
        let cookie = cookie.split(';').next().unwrap().to_owned();
        let body: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
        (body["token"].as_str().unwrap().to_owned(), cookie)
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        auth: &[(&str, &str)],
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .request(method.parse().unwrap(), self.url(path))
            .header("origin", self.url(""));
        for (name, value) in auth {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
}

async fn talk_over_the_chat(framework: Framework) {
    let app = App::start(framework).await;
    let (alice, alice_cookie) = app.token("alice").await;
    let (bob, _) = app.token("bob").await;
    let bearer = format!("Bearer {alice}");

    // The token's claims make the chat user: name, admin flag.
    let (status, me) = app
        .call("GET", "/chat/api/me", &[("authorization", &bearer)], None)
        .await;
    assert_eq!(status, 200, "{framework:?}: {me}");
    assert_eq!(me["user"]["username"], "Alice");
    assert_eq!(me["user"]["is_admin"], true);

    // The browser way: the auth service's cookie opens the page and the API.
    let (status, page) = app
        .call("GET", "/chat", &[("cookie", &alice_cookie)], None)
        .await;
    assert_eq!(status, 200);
    assert!(
        page.as_str().unwrap().contains("<base href=\"/chat/\">"),
        "{framework:?}"
    );
    let room = Some(json!({"name": "general"}));
    let (status, body) = app
        .call(
            "POST",
            "/chat/api/rooms",
            &[("cookie", &alice_cookie)],
            room,
        )
        .await;
    assert_eq!(status, 201, "{framework:?}: {body}");

    // Refused: expired, forged, none; the chat's own log-in is off.
    let claims = |sub: &str, name: &str, exp_offset: i64| auth_service::Claims {
        sub: sub.into(),
        name: name.into(),
        admin: false,
        exp: auth_service::epoch_seconds(exp_offset).unwrap(),
    };
    // Expired beyond the chat's 30 s leeway; signed with another secret.
    let expired = auth_service::sign(SECRET, &claims("u-2", "Bob", -120)).unwrap();
    let other = b"another secret of thirty-two bytes!!";
    let forged = auth_service::sign(other, &claims("u-1", "Alice", 60)).unwrap();
    for token in [expired, forged] {
        let auth = format!("Bearer {token}");
        let (status, body) = app
            .call("GET", "/chat/api/me", &[("authorization", &auth)], None)
            .await;
        assert_eq!(
            (status, body["error"]["code"].clone()),
            (401, json!("invalid_token")),
            "{framework:?}"
        );
    }
    assert_eq!(app.call("GET", "/chat/api/me", &[], None).await.0, 401);
    let login = Some(json!({"username": "alice", "password": "alice-password"}));
    assert_eq!(app.call("POST", "/chat/api/login", &[], login).await.0, 404);

    // Talk: the WebSocket takes the token in the query, as browsers must.
    let url = format!("ws://{}/chat/ws", app.addr);
    let (a, _) = Client::connect(&url, Auth::query_token(alice))
        .await
        .unwrap();
    let (b, mut b_events) = Client::connect(&url, Auth::query_token(bob)).await.unwrap();
    a.join("general").await.unwrap();
    b.join("general").await.unwrap();
    a.send("general", "hello").await.unwrap();
    let seen = timeout(WAIT, b_events.next_message())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((&*seen.body, &*seen.author), ("hello", "Alice"));
    a.close().await;
    b.close().await;
}

#[tokio::test]
async fn axum_app_talks_with_jwt_users() {
    talk_over_the_chat(Framework::Axum).await;
}

#[tokio::test]
async fn warp_app_talks_with_jwt_users() {
    talk_over_the_chat(Framework::Warp).await;
}
