//! A full password hashing pool: signups and logins (of known and unknown names alike) get
//! 503 `busy` with `Retry-After` at once, through `ChatHttp::handle`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use chat_core::password::hash_password_blocking;
use chat_core::{ChatService, Config, HashCost, HashingConfig, LocalBroker, NewUser};
use chat_http::{ChatHttp, HttpConfig};
use chat_store_memory::MemoryStore;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A hash that takes a second or more, so the pool stays full while the test asks for more.
const SLOW: HashCost = HashCost {
    memory_kib: 8 * 1024,
    iterations: 400,
    parallelism: 1,
};

fn chat() -> ChatHttp {
    let config = Config {
        hash_cost: SLOW,
        hashing: HashingConfig {
            threads: 1,
            queue: 0,
            release_after: Duration::from_secs(1),
        },
        ..Config::for_tests()
    };
    let service = ChatService::new(
        Arc::new(MemoryStore::new()),
        Arc::new(LocalBroker::default()),
        config,
    );
    ChatHttp::new(service, HttpConfig::default())
}

async fn post(chat: &ChatHttp, path: &str, username: &str) -> http::Response<Bytes> {
    let body = json!({"username": username, "password": "password123"}).to_string();
    let request = http::Request::post(path)
        .header("content-type", "application/json")
        .body(Bytes::from(body))
        .unwrap();
    chat.handle(request).await
}

fn json_body(response: &http::Response<Bytes>) -> Value {
    serde_json::from_slice(response.body()).unwrap()
}

#[tokio::test]
async fn a_full_hashing_pool_answers_503_busy_with_retry_after() {
    let chat = chat();
    let service = chat.service().clone();
    // A known user, stored with a cheap hash (its own parameters are what a login verifies).
    service
        .store()
        .create_user(NewUser {
            username: "known".into(),
            password_hash: hash_password_blocking("password123", HashCost::FAST_INSECURE_FOR_TESTS)
                .unwrap(),
            is_admin: false,
            created_at: service.clock().now(),
        })
        .await
        .unwrap();

    // A slow signup takes the pool's only thread; there is no queue.
    let slow = tokio::spawn({
        let chat = chat.clone();
        async move { post(&chat, "/api/signup", "slowpoke").await }
    });
    let deadline = Instant::now() + Duration::from_secs(5);
    while service.hash_pool().in_flight() == 0 {
        assert!(
            Instant::now() < deadline,
            "the slow signup never started hashing"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }

    let started = Instant::now();
    let mut bodies = Vec::new();
    for (path, username) in [
        ("/api/signup", "newcomer"),
        ("/api/login", "known"),
        ("/api/login", "nobody"),
    ] {
        let response = post(&chat, path, username).await;
        assert_eq!(response.status(), 503, "{path} {username}");
        assert_eq!(response.headers()["retry-after"], "1", "{path} {username}");
        assert_eq!(response.headers()["content-type"], "application/json");
        let body = json_body(&response);
        assert_eq!(body["error"]["code"], "busy", "{body}");
        assert!(body["error"]["message"].is_string(), "{body}");
        bodies.push(body);
    }
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "refused at once, not after waiting: {:?}",
        started.elapsed()
    );
    assert!(!slow.is_finished(), "the pool was full all along");
    // Known and unknown names are refused alike.
    assert_eq!(bodies[1], bodies[2]);
    assert!(
        service
            .store()
            .user_by_name("newcomer")
            .await
            .unwrap()
            .is_none()
    );

    let slow = slow.await.unwrap();
    assert_eq!(slow.status(), 201, "{}", json_body(&slow));
    assert!(slow.headers().get("retry-after").is_none());
    // With the thread free again the known user logs in.
    let login = post(&chat, "/api/login", "known").await;
    assert_eq!(login.status(), 200, "{}", json_body(&login));
}
