//! JWTs issued by the host app, through `ChatHttp`: tokens of each algorithm and each source
//! (header, cookie, query) let the user in; every kind of bad token is a 401 `invalid_token`
//! saying why; the name claim renames the user; a deactivated user is refused; the chat's own
//! account routes are off unless asked for; a WebSocket opened with a token closes at its
//! expiry. The keys under `tests/keys/` are test-only.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chat_core::{ChatService, Config, LocalBroker, ManualClock, Timestamp};
use chat_http::identity::jwt::{Jwt, JwtKey};
use chat_http::{ChatHttp, ChatHttpBuilder, HttpConfig, WsIn, WsOut, close_code};
use chat_store_memory::MemoryStore;
use common::HOST;
use futures::StreamExt;
use futures::channel::mpsc;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

const SECRET: &[u8] = b"integration-test-secret-32-bytes";
const RSA_PRIVATE: &str = include_str!("keys/rsa-private.pem");
const RSA_PUBLIC: &str = include_str!("keys/rsa-public.pem");
const ED_PRIVATE: &str = include_str!("keys/ed25519-private.pem");
const ED_PUBLIC: &str = include_str!("keys/ed25519-public.pem");
/// The test clock's start, in seconds since the epoch.
const NOW: i64 = 1_800_000_000;
const ORIGIN: &str = "http://chat.test";
const WAIT: Duration = Duration::from_secs(5);

struct Chat {
    http: ChatHttp,
    clock: Arc<ManualClock>,
}

/// A chat on a memory store whose service and [`Jwt`] share a manual clock; `build` finishes
/// the builder (own accounts and the like).
fn chat_with(build: impl FnOnce(ChatHttpBuilder) -> ChatHttpBuilder) -> Chat {
    let clock = Arc::new(ManualClock::new(Timestamp(NOW * 1000)));
    let service = ChatService::with_clock(
        Arc::new(MemoryStore::new()),
        Arc::new(LocalBroker::default()),
        Config::for_tests(),
        clock.clone(),
    );
    let jwt = Jwt::new()
        .default_key(JwtKey::hs256(SECRET).unwrap())
        .key("rsa", JwtKey::rs256_pem(RSA_PUBLIC).unwrap())
        .key("ed", JwtKey::ed25519_pem(ED_PUBLIC).unwrap())
        .cookie("app_jwt")
        .clock(clock.clone());
    let config = HttpConfig {
        session_check_interval: Duration::from_millis(50),
        ..HttpConfig::default()
    };
    let builder = ChatHttp::builder(service).config(config).authenticator(jwt);
    Chat {
        http: build(builder).build(),
        clock,
    }
}

fn chat() -> Chat {
    chat_with(|b| b)
}

/// Claims of user `sub` named `name`, valid for a minute.
fn claims(sub: &str, name: &str) -> Value {
    json!({"sub": sub, "name": name, "exp": NOW + 60})
}

/// A token signed with the HS256 secret, no `kid`.
fn hs256(claims: &Value) -> String {
    sign(Header::new(Algorithm::HS256), claims, SECRET)
}

fn sign(header: Header, claims: &Value, secret: &[u8]) -> String {
    encode(&header, claims, &EncodingKey::from_secret(secret).unwrap()).unwrap()
}

fn with_kid(alg: Algorithm, kid: &str) -> Header {
    let mut header = Header::new(alg);
    header.kid = Some(kid.to_owned());
    header
}

fn rs256(claims: &Value) -> String {
    let key = EncodingKey::from_rsa_pem(RSA_PRIVATE.as_bytes()).unwrap();
    encode(&with_kid(Algorithm::RS256, "rsa"), claims, &key).unwrap()
}

fn eddsa(claims: &Value) -> String {
    let key = EncodingKey::from_ed_pem(ED_PRIVATE.as_bytes()).unwrap();
    encode(&with_kid(Algorithm::EdDSA, "ed"), claims, &key).unwrap()
}

/// An unsigned token (`alg: none`), built by hand.
fn unsigned(claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{payload}.")
}

fn bearer(token: &str) -> (&'static str, String) {
    ("authorization", format!("Bearer {token}"))
}

/// [`common::call`] with owned header values.
async fn call(
    chat: &ChatHttp,
    method: &str,
    uri: &str,
    headers: &[(&'static str, String)],
    body: Option<Value>,
) -> (u16, Value) {
    let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    common::call(chat, method, uri, &headers, body).await
}

/// `GET /api/me` with the token as a bearer.
async fn me(chat: &ChatHttp, token: &str) -> (u16, Value) {
    call(chat, "GET", "/api/me", &[bearer(token)], None).await
}

/// Asserts a 401 `invalid_token` whose message says `reason`.
fn assert_refused((status, body): (u16, Value), reason: &str) {
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], "invalid_token", "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(reason),
        "{message:?} should say {reason:?}"
    );
}

#[tokio::test]
async fn tokens_of_each_algorithm_let_the_user_in() {
    let chat = chat();
    for (token, name) in [
        (hs256(&claims("u-hs", "Hanna")), "Hanna"),
        (rs256(&claims("u-rs", "Rasmus")), "Rasmus"),
        (eddsa(&claims("u-ed", "Edda")), "Edda"),
    ] {
        let (status, body) = me(&chat.http, &token).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["user"]["username"], name);
        assert_eq!(body["user"]["is_admin"], false);
    }
    let admin = json!({"sub": "boss", "name": "Boss", "exp": NOW + 60, "admin": true});
    assert_eq!(
        me(&chat.http, &hs256(&admin)).await.1["user"]["is_admin"],
        true
    );
}

#[tokio::test]
async fn bad_tokens_are_refused_with_their_reason() {
    let chat = chat();
    let http = &chat.http;
    let user = |extra: Value| {
        let mut c = claims("u1", "Ann");
        c.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        c
    };
    assert_refused(
        me(http, &hs256(&user(json!({"exp": NOW - 100})))).await,
        "expired",
    );
    assert_refused(
        me(http, &hs256(&user(json!({"nbf": NOW + 100})))).await,
        "not yet valid",
    );
    let forged = sign(
        Header::new(Algorithm::HS256),
        &claims("u1", "Ann"),
        b"not-the-secret-but-as-long-as-it",
    );
    assert_refused(me(http, &forged).await, "bad signature");
    // An RS256 token with its payload swapped for another's.
    let genuine = rs256(&claims("u1", "Ann"));
    let other = rs256(&claims("root", "Root"));
    let parts: Vec<&str> = genuine.split('.').collect();
    let swapped = format!(
        "{}.{}.{}",
        parts[0],
        other.split('.').nth(1).unwrap(),
        parts[2]
    );
    assert_refused(me(http, &swapped).await, "bad signature");
    assert_refused(
        me(http, &unsigned(&claims("u1", "Ann"))).await,
        "wrong algorithm",
    );
    // HS256 "signed" with the RSA public key, sent to the RS256 key: the classic confusion.
    let confused = sign(
        with_kid(Algorithm::HS256, "rsa"),
        &claims("u1", "Ann"),
        RSA_PUBLIC.as_bytes(),
    );
    assert_refused(me(http, &confused).await, "wrong algorithm");
    let unknown = sign(
        with_kid(Algorithm::HS256, "nope"),
        &claims("u1", "Ann"),
        SECRET,
    );
    assert_refused(me(http, &unknown).await, "unknown key id");
    let no_exp = hs256(&json!({"sub": "u1", "name": "Ann"}));
    assert_refused(me(http, &no_exp).await, "missing claim exp");
    let huge = hs256(&user(json!({"name": "x".repeat(9000)})));
    assert_refused(me(http, &huge).await, "too long");
    assert_refused(me(http, "a.b.c").await, "malformed");
    // No token at all: the usual 401.
    let (status, body) = call(http, "GET", "/api/me", &[], None).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (401, json!("unauthenticated"))
    );
}

#[tokio::test]
async fn the_name_claim_renames_the_user() {
    let chat = chat();
    let (_, first) = me(&chat.http, &hs256(&claims("u1", "Ann"))).await;
    assert_eq!(first["user"]["username"], "Ann");
    let (_, second) = me(&chat.http, &hs256(&claims("u1", "Annie"))).await;
    assert_eq!(second["user"]["username"], "Annie");
    assert_eq!(first["user"]["id"], second["user"]["id"], "the same user");
}

#[tokio::test]
async fn a_deactivated_user_is_refused_with_403() {
    let chat = chat();
    let ann = hs256(&claims("u1", "Ann"));
    let (_, body) = me(&chat.http, &ann).await;
    let id = body["user"]["id"].as_i64().unwrap();
    let admin = hs256(&json!({"sub": "boss", "name": "Boss", "exp": NOW + 60, "admin": true}));
    let (status, body) = call(
        &chat.http,
        "PATCH",
        &format!("/api/admin/users/{id}"),
        &[bearer(&admin)],
        Some(json!({"is_active": false})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = me(&chat.http, &ann).await;
    assert_eq!(status, 403, "{body}");
}

#[tokio::test]
async fn own_accounts_are_off_unless_asked_for() {
    let credentials = json!({"username": "local", "password": "password123"});
    let origin = [("origin", ORIGIN.to_owned())];
    let chat = chat();
    for path in ["/api/login", "/api/signup", "/api/logout", "/api/password"] {
        let (status, _) = call(&chat.http, "POST", path, &origin, Some(credentials.clone())).await;
        assert_eq!(status, 404, "{path}");
    }

    let chat = chat_with(|b| b.own_accounts(true));
    let (status, body) = call(
        &chat.http,
        "POST",
        "/api/signup",
        &origin,
        Some(credentials.clone()),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    // The chat's own session token is no JWT: it reaches the chat's sessions.
    let session = body["token"].as_str().unwrap();
    let (status, body) = me(&chat.http, session).await;
    assert_eq!(
        (status, body["user"]["username"].clone()),
        (200, json!("local"))
    );
    // And JWTs still work beside it.
    assert_eq!(me(&chat.http, &hs256(&claims("u1", "Ann"))).await.0, 200);
}

#[tokio::test]
async fn tokens_in_a_cookie_or_the_query() {
    let chat = chat();
    let token = hs256(&claims("u1", "Ann"));
    let cookie = [("cookie", format!("other=1; app_jwt={token}"))];
    let (status, body) = call(&chat.http, "GET", "/api/me", &cookie, None).await;
    assert_eq!(
        (status, body["user"]["username"].clone()),
        (200, json!("Ann"))
    );
    let uri = format!("/api/me?token={token}");
    let (status, body) = call(&chat.http, "GET", &uri, &[], None).await;
    assert_eq!(
        (status, body["user"]["username"].clone()),
        (200, json!("Ann"))
    );
    let expired = hs256(&json!({"sub": "u1", "exp": NOW - 100}));
    let cookie = [("cookie", format!("app_jwt={expired}"))];
    assert_refused(
        call(&chat.http, "GET", "/api/me", &cookie, None).await,
        "expired",
    );
}

#[tokio::test]
async fn cookie_carried_writes_need_the_sites_origin() {
    let chat = chat();
    let cookie = ("cookie", format!("app_jwt={}", hs256(&claims("u1", "Ann"))));
    let room = json!({"name": "general", "description": ""});
    let (status, body) = call(
        &chat.http,
        "POST",
        "/api/rooms",
        std::slice::from_ref(&cookie),
        Some(room.clone()),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "csrf_check_failed");
    let headers = [cookie, ("origin", ORIGIN.to_owned())];
    let (status, body) = call(&chat.http, "POST", "/api/rooms", &headers, Some(room)).await;
    assert_eq!(status, 201, "{body}");
}

/// The head of a WebSocket handshake to `uri`.
fn handshake(uri: &str) -> http::request::Parts {
    let request = http::Request::builder()
        .uri(uri)
        .header("host", HOST)
        .body(())
        .unwrap();
    request.into_parts().0
}

#[tokio::test]
async fn websocket_with_a_query_token_closes_at_its_expiry() {
    let chat = chat();
    let expired = hs256(&json!({"sub": "u1", "name": "Ann", "exp": NOW - 100}));
    let refused = chat
        .http
        .accept_upgrade(&handshake(&format!("/ws?token={expired}")), None)
        .await
        .unwrap_err();
    assert_eq!(
        (refused.status.as_u16(), refused.code),
        (401, "invalid_token")
    );

    let token = hs256(&claims("u1", "Ann"));
    let accepted = chat
        .http
        .accept_upgrade(&handshake(&format!("/ws?batch=0&token={token}")), None)
        .await
        .unwrap();
    assert_eq!(accepted.user().username, "Ann");
    let (in_tx, in_rx) = mpsc::unbounded::<Result<WsIn, Infallible>>();
    let (out_tx, mut out_rx) = mpsc::channel::<WsOut>(64);
    let serve = chat.http.serve_accepted(accepted, out_tx, in_rx);
    let task = tokio::spawn(serve);
    let first = tokio::time::timeout(WAIT, out_rx.next()).await.unwrap();
    assert!(matches!(first, Some(WsOut::Text(_))), "hello: {first:?}");

    // Past `exp` and the leeway.
    chat.clock.advance(Duration::from_secs(60 + 30));
    let code = loop {
        match tokio::time::timeout(WAIT, out_rx.next()).await.unwrap() {
            Some(WsOut::Close { code, .. }) => break code,
            Some(_) => continue,
            None => panic!("closed without a close frame"),
        }
    };
    assert_eq!(code, close_code::SESSION_ENDED);
    let _ = in_tx.unbounded_send(Ok(WsIn::Close));
    tokio::time::timeout(WAIT, task).await.unwrap().unwrap();
}
