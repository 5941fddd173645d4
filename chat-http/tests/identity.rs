//! Users of the host application through an `Authenticator` (here a closure reading a header
//! the host would set): every path (JSON API, WebSocket handshake, admin page) sees the same
//! user, created on first sight and renamed with the host; the chat's own account routes are
//! off unless asked for; cookie-carried identities pass the CSRF check; deactivation by a chat
//! admin wins over the host's word.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chat_core::{ChatService, Config};
use chat_http::auth::Via;
use chat_http::identity::{Identity, from_fn};
use chat_http::{ChatHttp, HttpConfig};
use chat_store_memory::MemoryStore;
use common::call;
use serde_json::json;

/// A chat whose users are named by the host in `x-host-user: id:name[:admin]`, carried the
/// way `via` says.
fn chat(own_accounts: Option<bool>, via: Via) -> ChatHttp {
    let service = ChatService::builder(MemoryStore::new())
        .config(Config::for_tests())
        .build();
    let mut builder =
        ChatHttp::builder(service).authenticator(from_fn(move |request: &http::request::Parts| {
            let header = request
                .headers
                .get("x-host-user")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            async move {
                let header = header?;
                let mut parts = header.split(':');
                let (id, name) = (parts.next()?, parts.next()?);
                let identity = Identity::new(id, name).via(via);
                Some(match parts.next() {
                    Some("admin") => identity.admin(true),
                    _ => identity,
                })
            }
        }));
    if let Some(on) = own_accounts {
        builder = builder.own_accounts(on);
    }
    builder.config(HttpConfig::default()).build()
}

const ORIGIN: (&str, &str) = ("origin", "http://chat.test");

/// The head of a WebSocket handshake as user `host_user` (`id:name`).
fn handshake(host_user: &str) -> http::request::Parts {
    let request = http::Request::builder().uri("/ws");
    let request = match host_user {
        "" => request,
        user => request.header("x-host-user", user),
    };
    request.body(()).unwrap().into_parts().0
}

#[tokio::test]
async fn host_users_are_chat_users_everywhere() {
    let chat = chat(None, Via::Bearer);
    let ann = [("x-host-user", "42:Ann Lee")];
    let (status, me) = call(&chat, "GET", "/api/me", &ann, None).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["user"]["username"], "Ann_Lee");
    let id = me["user"]["id"].clone();

    // The same host user is the same chat user, on the API and the WebSocket handshake.
    let (status, room) = call(
        &chat,
        "POST",
        "/api/rooms",
        &ann,
        Some(json!({"name": "r"})),
    )
    .await;
    assert_eq!(status, 201, "{room}");
    let accepted = chat
        .accept_upgrade(&handshake("42:Ann Lee"), None)
        .await
        .unwrap();
    assert_eq!(accepted.user().id.0, id.as_i64().unwrap());

    // A new name from the host renames the chat user.
    let renamed = [("x-host-user", "42:Ann Smith")];
    let (_, me) = call(&chat, "GET", "/api/me", &renamed, None).await;
    assert_eq!(
        (me["user"]["id"].clone(), me["user"]["username"].clone()),
        (id, json!("Ann_Smith"))
    );

    // No identity: 401, on the API and the handshake.
    assert_eq!(call(&chat, "GET", "/api/me", &[], None).await.0, 401);
    let refused = chat.accept_upgrade(&handshake(""), None).await.unwrap_err();
    assert_eq!(refused.status, 401);
}

#[tokio::test]
async fn own_account_routes_are_off_unless_asked_for() {
    let chat = chat(None, Via::Bearer);
    let signup = json!({"username": "mallory", "password": "a-long-password"});
    for path in ["/api/signup", "/api/login", "/api/logout", "/api/password"] {
        let (status, _) = call(&chat, "POST", path, &[ORIGIN], Some(signup.clone())).await;
        assert_eq!(status, 404, "{path}");
    }

    // Asked for: both work, the host's users first and the chat's own sessions after.
    let both = self::chat(Some(true), Via::Bearer);
    let (status, body) = call(&both, "POST", "/api/signup", &[ORIGIN], Some(signup)).await;
    assert_eq!(status, 201, "{body}");
    let token = body["token"].as_str().unwrap().to_owned();
    let bearer = format!("Bearer {token}");
    let (_, me) = call(&both, "GET", "/api/me", &[("authorization", &bearer)], None).await;
    assert_eq!(me["user"]["username"], "mallory");
    let (_, me) = call(&both, "GET", "/api/me", &[("x-host-user", "7:bob")], None).await;
    assert_eq!(me["user"]["username"], "bob");
}

#[tokio::test]
async fn cookie_carried_identities_pass_the_csrf_check() {
    let chat = chat(None, Via::Cookie);
    let ann = ("x-host-user", "1:ann");
    let room = Some(json!({"name": "r"}));
    let (status, body) = call(&chat, "POST", "/api/rooms", &[ann], room.clone()).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (403, json!("csrf_check_failed"))
    );
    let evil = ("origin", "http://evil.test");
    assert_eq!(
        call(&chat, "POST", "/api/rooms", &[ann, evil], room.clone())
            .await
            .0,
        403
    );
    assert_eq!(
        call(&chat, "POST", "/api/rooms", &[ann, ORIGIN], room)
            .await
            .0,
        201
    );
}

#[tokio::test]
async fn a_deactivated_user_is_refused_whatever_the_host_says() {
    let chat = chat(None, Via::Bearer);
    let admin = [("x-host-user", "1:root:admin")];
    let eve = [("x-host-user", "2:eve")];
    let (_, me) = call(&chat, "GET", "/api/me", &eve, None).await;
    let eve_id = me["user"]["id"].as_i64().unwrap();
    let (_, me) = call(&chat, "GET", "/api/me", &admin, None).await;
    assert_eq!(me["user"]["is_admin"], true);

    let path = format!("/api/admin/users/{eve_id}");
    let (status, body) = call(
        &chat,
        "PATCH",
        &path,
        &admin,
        Some(json!({"is_active": false})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = call(&chat, "GET", "/api/me", &eve, None).await;
    assert_eq!(status, 403, "{body}");
    let refused = chat
        .accept_upgrade(&handshake("2:eve"), None)
        .await
        .unwrap_err();
    assert_eq!(refused.status, 403);
}

#[tokio::test]
async fn own_session_tokens_open_sockets_from_the_query() {
    let service = ChatService::builder(MemoryStore::new())
        .config(Config::for_tests())
        .build();
    let chat = ChatHttp::new(service, HttpConfig::default());
    let (ann, token) = chat
        .service()
        .signup("ann", "ann-password-1")
        .await
        .unwrap();
    let socket = |query: String| {
        let request = http::Request::builder().uri(format!("/ws?{query}"));
        request.body(()).unwrap().into_parts().0
    };
    let accepted = chat
        .accept_upgrade(&socket(format!("batch=1&token={}", token.as_str())), None)
        .await
        .unwrap();
    assert_eq!(accepted.user().id, ann.id);
    let refused = chat
        .accept_upgrade(&socket("token=forged".into()), None)
        .await;
    assert_eq!(refused.unwrap_err().status, 401);
    // Only sockets: the JSON API does not read tokens from URLs.
    let path = format!("/api/me?token={}", token.as_str());
    assert_eq!(call(&chat, "GET", &path, &[], None).await.0, 401);
}
