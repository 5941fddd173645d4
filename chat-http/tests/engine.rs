//! Unit tests of the protocol engine over channels: no server, no sockets (like axum's
//! testing-websockets example). Each test drives `ChatHttp::serve_socket` with a channel
//! standing in for the WebSocket.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use chat_core::{ChatService, Config, LocalBroker, User};
use chat_http::protocol::engine::{DRAIN_FRAMES, DRAIN_LINGER};
use chat_http::{ChatHttp, HttpConfig, RateLimit, WsIn, WsOut, close_code};
use chat_store_memory::MemoryStore;
use futures::StreamExt;
use futures::channel::mpsc;
use serde_json::{Value, json};
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(5);

fn chat(config: HttpConfig) -> ChatHttp {
    let service = ChatService::new(
        Arc::new(MemoryStore::new()),
        Arc::new(LocalBroker::default()),
        Config::for_tests(),
    );
    ChatHttp::new(service, config)
}

async fn user(chat: &ChatHttp, name: &str) -> User {
    chat.service().signup(name, "password123").await.unwrap().0
}

struct Client {
    tx: mpsc::UnboundedSender<Result<WsIn, Infallible>>,
    rx: mpsc::Receiver<WsOut>,
    task: tokio::task::JoinHandle<()>,
}

impl Client {
    async fn connect(chat: &ChatHttp, user: &User) -> Client {
        Client::with_capacity(chat, user, 1024).await
    }

    async fn with_capacity(chat: &ChatHttp, user: &User, capacity: usize) -> Client {
        let (in_tx, in_rx) = mpsc::unbounded();
        let (out_tx, out_rx) = mpsc::channel(capacity);
        let (chat, user) = (chat.clone(), user.clone());
        let task = tokio::spawn(async move { chat.serve_socket(user, out_tx, in_rx).await });
        let mut client = Client {
            tx: in_tx,
            rx: out_rx,
            task,
        };
        assert_eq!(client.next().await["type"], "hello");
        client
    }

    fn send(&self, frame: Value) {
        self.raw(WsIn::Text(Bytes::from(frame.to_string())));
    }

    fn raw(&self, msg: WsIn) {
        self.tx.unbounded_send(Ok(msg)).unwrap();
    }

    /// The next frame other than a ping; panics on close or timeout.
    async fn next(&mut self) -> Value {
        loop {
            match tokio::time::timeout(WAIT, self.rx.next()).await {
                Ok(Some(WsOut::Text(b))) => return serde_json::from_slice(&b).unwrap(),
                Ok(Some(WsOut::Ping(_))) => continue,
                other => panic!("expected a frame, got {other:?}"),
            }
        }
    }

    /// The next frame of type `kind`, skipping others.
    async fn next_of(&mut self, kind: &str) -> Value {
        loop {
            let f = self.next().await;
            if f["type"] == kind {
                return f;
            }
        }
    }

    /// Reads until the close frame and answers it, as WebSocket clients do; returns its code.
    async fn close_code(&mut self) -> u16 {
        let code = self.close_code_unanswered().await;
        // The server may have stopped reading already (then the send fails).
        let _ = self.tx.unbounded_send(Ok(WsIn::Close));
        code
    }

    /// Reads until the close frame, without answering it; returns its code.
    async fn close_code_unanswered(&mut self) -> u16 {
        loop {
            match tokio::time::timeout(WAIT, self.rx.next()).await {
                Ok(Some(WsOut::Close { code, .. })) => return code,
                Ok(Some(_)) => continue,
                other => panic!("expected a close frame, got {other:?}"),
            }
        }
    }

    async fn join(&mut self, room: &str) -> Value {
        self.send(json!({"type":"join","room":room}));
        self.next_of("joined").await
    }
}

#[tokio::test]
async fn join_send_ack_and_fan_out_with_isolation() {
    let chat = chat(HttpConfig::default());
    let (ann, bob) = (user(&chat, "ann").await, user(&chat, "bob").await);
    chat.service()
        .create_room(&ann, "general", "")
        .await
        .unwrap();
    chat.service().create_room(&ann, "other", "").await.unwrap();
    let mut a = Client::connect(&chat, &ann).await;
    let mut b = Client::connect(&chat, &bob).await;
    let joined = a.join("General").await;
    assert_eq!(joined["room"], "general", "canonical name");
    assert_eq!(joined["last_seq"], 0);
    let joined = b.join("general").await;
    assert_eq!(joined["members"], json!(["ann", "bob"]));
    assert_eq!(joined["online"], json!(["ann", "bob"]));
    b.join("other").await;

    a.send(json!({"type":"send","room":"general","body":"hello","client_id":"c1"}));
    let ack = a.next_of("ack").await;
    assert_eq!(
        (ack["seq"].clone(), ack["client_id"].clone()),
        (json!(1), json!("c1"))
    );
    let m = b.next_of("message").await;
    assert_eq!(m["room"], "general");
    assert_eq!(m["body"], "hello");
    assert_eq!(m["author"], "ann");
    assert_eq!(m["seq"], 1);
    assert!(m["created_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        a.next_of("message").await["client_id"],
        "c1",
        "sender gets its own copy"
    );

    // Room isolation: a message in "other" reaches only "other" subscribers.
    b.send(json!({"type":"send","room":"other","body":"elsewhere"}));
    assert_eq!(b.next_of("message").await["room"], "other");
    a.send(json!({"type":"ping"}));
    let f = a.next().await;
    assert_eq!(f["type"], "pong", "ann saw nothing from other: {f}");
    assert_eq!(chat.metrics().messages_posted.load(Ordering::Relaxed), 2);
}

#[tokio::test]
async fn every_bad_frame_gets_an_error_and_the_connection_survives() {
    let config = HttpConfig {
        max_frame_bytes: 1024,
        rate_limit: Some(RateLimit::new(3, 0.001)),
        ..HttpConfig::default()
    };
    let chat = chat(config);
    let (ann, bob) = (user(&chat, "ann").await, user(&chat, "bob").await);
    chat.service().create_room(&ann, "mine", "").await.unwrap();
    let mut a = Client::connect(&chat, &ann).await;
    let mut b = Client::connect(&chat, &bob).await;

    let cases: Vec<(WsIn, &str)> = vec![
        (WsIn::Text(Bytes::from_static(b"{not json")), "invalid_json"),
        (
            WsIn::Text(Bytes::from_static(br#"{"type":"dance","ref":1}"#)),
            "unknown_type",
        ),
        (
            WsIn::Text(Bytes::from_static(br#"{"type":"send","room":"mine"}"#)),
            "missing_field",
        ),
        (
            WsIn::Text(Bytes::from_static(
                br#"{"type":"delete","room":"mine","seq":"x"}"#,
            )),
            "bad_field",
        ),
        (
            WsIn::Text(Bytes::from(format!(
                r#"{{"type":"send","room":"mine","body":"{}"}}"#,
                "x".repeat(2000)
            ))),
            "frame_too_large",
        ),
        (
            WsIn::Binary(Bytes::from_static(b"\x00\x01")),
            "binary_not_supported",
        ),
        (
            WsIn::Text(Bytes::from_static(br#"{"type":"join","room":"nowhere"}"#)),
            "unknown_room",
        ),
        (
            WsIn::Text(Bytes::from_static(br#"{"type":"leave","room":"mine"}"#)),
            "not_joined",
        ),
    ];
    for (frame, code) in cases {
        b.raw(frame);
        let e = b.next_of("error").await;
        assert_eq!(e["code"], code, "{e}");
        assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    // not a member
    b.send(json!({"type":"send","room":"mine","body":"hi","client_id":"x1","ref":"r9"}));
    let e = b.next_of("error").await;
    assert_eq!(
        (e["code"].clone(), e["ref"].clone(), e["client_id"].clone()),
        (json!("not_member"), json!("r9"), json!("x1"))
    );
    // forbidden: editing someone else's message
    a.join("mine").await;
    b.join("mine").await;
    a.send(json!({"type":"send","room":"mine","body":"ann's"}));
    a.next_of("ack").await;
    b.send(json!({"type":"edit","room":"mine","seq":1,"body":"hacked"}));
    assert_eq!(b.next_of("error").await["code"], "forbidden");
    // invalid body
    b.send(json!({"type":"send","room":"mine","body":"   "}));
    assert_eq!(b.next_of("error").await["code"], "invalid_body");
    // rate limited: the bucket of 3 is used up by edit + send above
    b.send(json!({"type":"send","room":"mine","body":"one more"}));
    assert_eq!(b.next_of("error").await["code"], "rate_limited");
    // history pages share the budget
    b.send(json!({"type":"history","room":"mine"}));
    assert_eq!(b.next_of("error").await["code"], "rate_limited");
    // still usable
    b.send(json!({"type":"ping"}));
    assert_eq!(b.next_of("pong").await["type"], "pong");
    assert!(!b.task.is_finished());
}

#[tokio::test]
async fn resume_after_seq_has_no_gap_and_no_duplicate() {
    let chat = chat(HttpConfig::default());
    let ann = user(&chat, "ann").await;
    let room = chat.service().create_room(&ann, "r", "").await.unwrap();
    for i in 1..=5 {
        chat.service()
            .post(&ann, room.id, &format!("m{i}"), None)
            .await
            .unwrap();
    }
    let mut a = Client::connect(&chat, &ann).await;
    a.send(json!({"type":"join","room":"r","after_seq":2}));
    assert_eq!(a.next_of("joined").await["last_seq"], 5);
    for seq in 3..=5 {
        assert_eq!(a.next_of("message").await["seq"], seq);
    }
    chat.service()
        .post(&ann, room.id, "m6", None)
        .await
        .unwrap();
    assert_eq!(a.next_of("message").await["seq"], 6);
    // idempotent resend: same client_id twice gives one message
    a.send(json!({"type":"send","room":"r","body":"once","client_id":"k"}));
    let first = a.next_of("ack").await;
    a.send(json!({"type":"send","room":"r","body":"once","client_id":"k"}));
    let second = a.next_of("ack").await;
    assert_eq!(first["seq"], second["seq"]);
    assert_eq!(second["duplicate"], true);
    let h = chat
        .service()
        .history(&ann, room.id, chat_core::HistoryPage::Latest { limit: 50 })
        .await
        .unwrap();
    assert_eq!(h.messages.len(), 7);
}

#[tokio::test]
async fn slow_consumer_is_closed_and_others_keep_receiving() {
    let config = HttpConfig {
        outbound_queue: 16,
        slow_consumer_grace: Duration::from_millis(200),
        rate_limit: None,
        ..HttpConfig::default()
    };
    let chat = chat(config);
    let (ann, bob) = (user(&chat, "ann").await, user(&chat, "bob").await);
    let room = chat.service().create_room(&ann, "r", "").await.unwrap();
    let mut fast = Client::connect(&chat, &ann).await;
    fast.join("r").await;
    // The slow client's "socket" holds one frame and is never read while messages flow.
    let mut slow = Client::with_capacity(&chat, &bob, 1).await;
    slow.send(json!({"type":"join","room":"r"}));
    tokio::time::sleep(Duration::from_millis(100)).await;
    for i in 0..100 {
        chat.service()
            .post(&ann, room.id, &format!("m{i}"), None)
            .await
            .unwrap();
        tokio::task::yield_now().await;
    }
    for i in 0..100 {
        assert_eq!(fast.next_of("message").await["body"], format!("m{i}"));
    }
    // Still stalled after the grace period: closed.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(slow.close_code().await, close_code::SLOW_CONSUMER);
    tokio::time::timeout(WAIT, &mut slow.task)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        chat.metrics().send_queue_overflows.load(Ordering::Relaxed),
        1
    );
    assert!(!fast.task.is_finished());
}

#[tokio::test]
async fn presence_counts_every_socket_of_a_user() {
    let chat = chat(HttpConfig::default());
    let (ann, bob) = (user(&chat, "ann").await, user(&chat, "bob").await);
    chat.service().create_room(&ann, "r", "").await.unwrap();
    let mut watcher = Client::connect(&chat, &ann).await;
    watcher.join("r").await;
    let mut b1 = Client::connect(&chat, &bob).await;
    b1.join("r").await;
    let p = watcher.next_of("presence").await;
    assert_eq!(
        (p["user"].clone(), p["status"].clone()),
        (json!("bob"), json!("online"))
    );
    let mut b2 = Client::connect(&chat, &bob).await;
    assert_eq!(b2.join("r").await["online"], json!(["ann", "bob"]));
    drop(b1.tx);
    b1.task.await.unwrap();
    b2.send(json!({"type":"typing","room":"r"}));
    // bob's second tab keeps him online: the next event is the typing notice, not "offline".
    let f = watcher.next().await;
    assert_eq!(
        (f["type"].clone(), f["user"].clone()),
        (json!("typing"), json!("bob")),
        "{f}"
    );
    b2.send(json!({"type":"leave","room":"r"}));
    assert_eq!(b2.next_of("left").await["room"], "r");
    let p = watcher.next_of("presence").await;
    assert_eq!(
        (p["status"].clone(), p["online"].clone()),
        (json!("offline"), json!(["ann"]))
    );
}

#[tokio::test]
async fn shutdown_closes_with_going_away_after_in_flight_work() {
    let chat = chat(HttpConfig::default());
    let ann = user(&chat, "ann").await;
    chat.service().create_room(&ann, "r", "").await.unwrap();
    let mut a = Client::connect(&chat, &ann).await;
    a.join("r").await;
    a.send(json!({"type":"send","room":"r","body":"last words","client_id":"z"}));
    a.next_of("ack").await;
    chat.shutdown();
    assert_eq!(a.close_code().await, close_code::GOING_AWAY);
    tokio::time::timeout(WAIT, chat.closed()).await.unwrap();
    assert_eq!(chat.open_connections(), 0);
    let (head, ()) = http::Request::new(()).into_parts();
    assert_eq!(
        chat.accept_upgrade(&head, None).await.unwrap_err().status,
        503
    );
}

#[tokio::test]
async fn idle_connections_are_pinged_then_closed() {
    let config = HttpConfig {
        ping_interval: Duration::from_millis(50),
        idle_timeout: Duration::from_millis(300),
        ..HttpConfig::default()
    };
    let chat = chat(config);
    let ann = user(&chat, "ann").await;
    let mut a = Client::connect(&chat, &ann).await;
    let mut pinged = false;
    let code = loop {
        match tokio::time::timeout(WAIT, a.rx.next()).await.unwrap() {
            Some(WsOut::Ping(_)) => pinged = true,
            Some(WsOut::Close { code, .. }) => break code,
            other => panic!("unexpected {other:?}"),
        }
    };
    assert!(pinged);
    assert_eq!(code, close_code::IDLE_TIMEOUT);
}

#[tokio::test]
async fn rate_limit_abuse_closes_the_connection() {
    let config = HttpConfig {
        rate_limit: Some(RateLimit::new(1, 0.001)),
        abuse_threshold: 3,
        ..HttpConfig::default()
    };
    let chat = chat(config);
    let ann = user(&chat, "ann").await;
    chat.service().create_room(&ann, "r", "").await.unwrap();
    let mut a = Client::connect(&chat, &ann).await;
    for _ in 0..4 {
        a.send(json!({"type":"send","room":"r","body":"spam"}));
    }
    assert_eq!(a.close_code().await, close_code::RATE_ABUSE);
}

#[tokio::test]
async fn room_deletion_is_announced() {
    let chat = chat(HttpConfig::default());
    let ann = user(&chat, "ann").await;
    let admin = chat
        .service()
        .create_user("root", "password123", true)
        .await
        .unwrap();
    let room = chat
        .service()
        .create_room(&ann, "doomed", "")
        .await
        .unwrap();
    let mut a = Client::connect(&chat, &ann).await;
    a.join("doomed").await;
    chat.service()
        .admin_delete_room(&admin, room.id)
        .await
        .unwrap();
    assert_eq!(a.next_of("room_deleted").await["room"], "doomed");
    a.send(json!({"type":"leave","room":"doomed"}));
    assert_eq!(a.next_of("error").await["code"], "not_joined");
}

#[tokio::test]
async fn fan_out_encodes_once_and_shares_the_bytes() {
    let chat = chat(HttpConfig::default());
    let (ann, bob) = (user(&chat, "ann").await, user(&chat, "bob").await);
    let room = chat.service().create_room(&ann, "r", "").await.unwrap();
    let mut a = Client::connect(&chat, &ann).await;
    let mut b = Client::connect(&chat, &bob).await;
    a.join("r").await;
    b.join("r").await;
    a.next_of("presence").await; // bob came online
    chat.service()
        .post(&ann, room.id, "shared", None)
        .await
        .unwrap();
    let mut raw = Vec::new();
    for client in [&mut a, &mut b] {
        loop {
            match tokio::time::timeout(WAIT, client.rx.next()).await.unwrap() {
                Some(WsOut::Text(bytes)) if bytes.starts_with(br#"{"type":"message""#) => {
                    raw.push(bytes);
                    break;
                }
                Some(_) => {}
                None => panic!("closed"),
            }
        }
    }
    assert_eq!(raw[0], raw[1]);
    assert_eq!(
        raw[0].as_ptr(),
        raw[1].as_ptr(),
        "one encoding shared by both recipients"
    );
}

#[tokio::test]
async fn edits_deletes_typing_and_history_pages() {
    let chat = chat(HttpConfig::default());
    let (ann, bob) = (user(&chat, "ann").await, user(&chat, "bob").await);
    let room = chat.service().create_room(&ann, "r", "").await.unwrap();
    for i in 1..=5 {
        chat.service()
            .post(&ann, room.id, &format!("m{i}"), None)
            .await
            .unwrap();
    }
    let mut a = Client::connect(&chat, &ann).await;
    let mut b = Client::connect(&chat, &bob).await;
    a.join("r").await;
    b.join("r").await;
    a.send(json!({"type":"edit","room":"r","seq":5,"body":"m5 (edited)"}));
    let e = b.next_of("edited").await;
    assert_eq!(
        (e["seq"].clone(), e["body"].clone()),
        (json!(5), json!("m5 (edited)"))
    );
    assert!(e["edited_at"].is_string());
    a.send(json!({"type":"delete","room":"r","seq":4}));
    let d = b.next_of("deleted").await;
    assert_eq!(
        (d["room"].clone(), d["seq"].clone()),
        (json!("r"), json!(4))
    );
    a.send(json!({"type":"typing","room":"r"}));
    assert_eq!(b.next_of("typing").await["user"], "ann");
    b.send(json!({"type":"history","room":"r","before_seq":4,"limit":2}));
    let h = b.next_of("history").await;
    let seqs: Vec<i64> = h["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, vec![2, 3]);
    assert_eq!(h["has_more"], true);
    b.send(json!({"type":"history","room":"r"}));
    let h = b.next_of("history").await;
    assert_eq!(h["messages"][3]["deleted"], true);
    assert_eq!(h["messages"][3]["body"], "");
    // ann never sees her own typing notice
    a.send(json!({"type":"ping"}));
    loop {
        let f = a.next().await;
        assert_ne!(f["type"], "typing");
        if f["type"] == "pong" {
            break;
        }
    }
}

#[tokio::test]
async fn too_many_rooms_is_refused() {
    let config = HttpConfig {
        max_rooms_per_connection: 2,
        ..HttpConfig::default()
    };
    let chat = chat(config);
    let ann = user(&chat, "ann").await;
    for name in ["a", "b", "c"] {
        chat.service().create_room(&ann, name, "").await.unwrap();
    }
    let mut a = Client::connect(&chat, &ann).await;
    a.join("a").await;
    a.join("b").await;
    a.join("b").await; // re-joining does not count twice
    a.send(json!({"type":"join","room":"c"}));
    assert_eq!(a.next_of("error").await["code"], "too_many_rooms");
    a.send(json!({"type":"leave","room":"a"}));
    a.next_of("left").await;
    assert_eq!(a.join("c").await["room"], "c");
}

#[tokio::test]
async fn deactivated_users_are_disconnected() {
    let config = HttpConfig {
        session_check_interval: Duration::from_millis(50),
        ..HttpConfig::default()
    };
    let chat = chat(config);
    let ann = user(&chat, "ann").await;
    let admin = chat
        .service()
        .create_user("root", "password123", true)
        .await
        .unwrap();
    let mut a = Client::connect(&chat, &ann).await;
    chat.service()
        .admin_set_active(&admin, ann.id, false)
        .await
        .unwrap();
    assert_eq!(a.close_code().await, close_code::SESSION_ENDED);
}

#[tokio::test]
async fn host_app_users_are_disconnected_when_the_host_signs_them_out() {
    // Long session checks: the close must come from the sign-out itself.
    let config = HttpConfig {
        session_check_interval: Duration::from_secs(3600),
        ..HttpConfig::default()
    };
    let chat = chat(config);
    let identity = chat_core::ExternalUser {
        external_id: "host-7".into(),
        name: "ann".into(),
        admin: None,
    };
    let ann = chat.service().external_user(&identity).await.unwrap();
    chat.service()
        .create_room(&ann, "general", "")
        .await
        .unwrap();
    let mut a = Client::connect(&chat, &ann).await;
    a.join("general").await;
    chat.service().logout_everywhere(&ann).await.unwrap();
    assert_eq!(a.close_code().await, close_code::SESSION_ENDED);
}

/// The writer reads the room feeds itself; the reader hands them over through the same queue
/// as its frames. So a room's messages come after its `joined` frame, none follows `left`,
/// and a re-join restarts the room's stream without a gap or a duplicate.
#[tokio::test]
async fn room_frames_follow_joined_and_stop_at_left() {
    let chat = chat(HttpConfig {
        rate_limit: None,
        ..HttpConfig::default()
    });
    let (ann, bob) = (user(&chat, "ann").await, user(&chat, "bob").await);
    let room = chat.service().create_room(&ann, "r", "").await.unwrap();
    let mut b = Client::connect(&chat, &bob).await;
    let poster = {
        let chat = chat.clone();
        tokio::spawn(async move {
            for i in 0..200 {
                chat.service()
                    .post(&ann, room.id, &format!("m{i}"), None)
                    .await
                    .unwrap();
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
    };
    let mut joins = 0;
    while !poster.is_finished() {
        for frame in ["join", "join", "leave"] {
            b.send(json!({"type":frame,"room":"r"}));
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        joins += 2;
    }
    poster.await.unwrap();
    b.send(json!({"type":"ping"}));
    let (mut joined, mut seen) = (0, 0);
    let mut next_seq: Option<i64> = None;
    loop {
        let f = b.next().await;
        match f["type"].as_str().unwrap() {
            "joined" => {
                joined += 1;
                next_seq = Some(f["last_seq"].as_i64().unwrap() + 1);
            }
            "left" => next_seq = None,
            "message" => {
                let expected = next_seq.expect("a message outside a join");
                assert_eq!(f["seq"].as_i64(), Some(expected), "no gap, no duplicate");
                next_seq = Some(expected + 1);
                seen += 1;
            }
            "pong" => break,
            "presence" => {}
            other => panic!("unexpected {other}: {f}"),
        }
    }
    assert_eq!(joined, joins);
    assert!(seen > 0, "some messages arrived while joined");
}

#[tokio::test]
async fn sends_that_arrive_together_are_posted_together_and_answered_in_order() {
    let chat = chat(HttpConfig::default());
    let ann = user(&chat, "ann").await;
    chat.service()
        .create_room(&ann, "general", "")
        .await
        .unwrap();
    let mut a = Client::connect(&chat, &ann).await;
    a.join("general").await;
    // Queued before the engine runs again (a current-thread runtime): it finds them all ready.
    let send = |body: &str, client_id: &str| json!({"type":"send","room":"general","body":body,"client_id":client_id});
    a.send(send("one", "c1"));
    a.send(send("two", "c2"));
    a.send(send("", "c-empty"));
    a.send(json!({"type":"send","room":"nowhere","body":"x","client_id":"c-lost"}));
    a.raw(WsIn::Text(Bytes::from_static(b"{not json")));
    a.send(send("three", "c3"));
    a.send(json!({"type":"ping"}));
    a.send(send("four", "c4"));
    a.send(send("one again", "c1"));
    let mut answers = Vec::new();
    while answers.len() < 9 {
        let f = a.next().await;
        if f["type"] != "message" {
            answers.push(f);
        }
    }
    let brief: Vec<(String, Value, Value)> = answers
        .iter()
        .map(|f| {
            let kind = f["type"].as_str().unwrap().to_owned();
            let what = if kind == "error" {
                f["code"].clone()
            } else {
                f["seq"].clone()
            };
            (kind, what, f["client_id"].clone())
        })
        .collect();
    let expect = |kind: &str, what: Value, client_id: Value| (kind.to_owned(), what, client_id);
    assert_eq!(
        brief,
        [
            expect("ack", json!(1), json!("c1")),
            expect("ack", json!(2), json!("c2")),
            expect("error", json!("invalid_body"), json!("c-empty")),
            expect("error", json!("unknown_room"), json!("c-lost")),
            expect("error", json!("invalid_json"), Value::Null),
            expect("ack", json!(3), json!("c3")),
            expect("pong", Value::Null, Value::Null),
            expect("ack", json!(4), json!("c4")),
            expect("ack", json!(1), json!("c1")),
        ],
        "{answers:#?}"
    );
    assert_eq!(answers[8]["duplicate"], true);
    // The runs [one, two, empty, nowhere] and [four, one again] went as batches; "three"
    // stood alone between the bad frame and the ping.
    assert_eq!(chat.metrics().sends_batched.load(Ordering::Relaxed), 6);
    assert_eq!(chat.metrics().messages_posted.load(Ordering::Relaxed), 4);
    // Everyone sees the posts in order.
    let history = chat
        .service()
        .history(
            &ann,
            chat_core::RoomId(1),
            chat_core::HistoryPage::Latest { limit: 10 },
        )
        .await
        .unwrap();
    let bodies: Vec<&str> = history.messages.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(bodies, ["one", "two", "three", "four"]);
}

#[tokio::test]
async fn transport_refusals_close_with_their_codes() {
    let chat = chat(HttpConfig::default());
    let ann = user(&chat, "ann").await;
    for (refusal, code) in [
        (WsIn::TooBig, close_code::TOO_BIG),
        (WsIn::InvalidUtf8, close_code::INVALID_PAYLOAD),
    ] {
        let mut a = Client::connect(&chat, &ann).await;
        a.raw(refusal);
        assert_eq!(a.close_code().await, code);
        tokio::time::timeout(WAIT, a.task).await.unwrap().unwrap();
    }
}

/// A connection closed by an abuse limit, its client still sending: `send` frames queued
/// after the ones that closed it.
async fn abusive_client(chat: &ChatHttp, queued: usize) -> Client {
    let ann = user(chat, "ann").await;
    chat.service().create_room(&ann, "r", "").await.unwrap();
    let mut a = Client::connect(chat, &ann).await;
    a.join("r").await;
    for i in 0..3 + queued {
        a.send(json!({"type":"send","room":"r","body":"spam","client_id":format!("c{i}")}));
    }
    assert_eq!(a.close_code_unanswered().await, close_code::RATE_ABUSE);
    a
}

fn abuse_config() -> HttpConfig {
    HttpConfig {
        rate_limit: Some(RateLimit::new(1, 0.001)),
        abuse_threshold: 2,
        ..HttpConfig::default()
    }
}

/// After its close frame the server reads (and drops) what the client still sends, until the
/// client's close frame: a socket closed with unread data would be reset, and the client
/// would lose the close frame.
#[tokio::test]
async fn after_its_close_frame_the_server_reads_until_the_clients() {
    let chat = chat(abuse_config());
    let a = abusive_client(&chat, 1000).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !a.task.is_finished(),
        "still waiting for the client's close"
    );
    assert_eq!(chat.open_connections(), 1);
    a.raw(WsIn::Close);
    tokio::time::timeout(Duration::from_secs(1), a.task)
        .await
        .expect("the client's close frame ends the connection")
        .unwrap();
    assert_eq!(chat.open_connections(), 0);
}

/// A client that never answers the close frame is dropped [`DRAIN_LINGER`] after the close
/// frame was written.
#[tokio::test]
async fn a_client_that_does_not_answer_the_close_frame_is_dropped() {
    let chat = chat(abuse_config());
    let a = abusive_client(&chat, 10).await;
    let closed = tokio::time::Instant::now();
    tokio::time::timeout(DRAIN_LINGER + WAIT, a.task)
        .await
        .unwrap()
        .unwrap();
    let waited = closed.elapsed();
    assert!(
        waited >= DRAIN_LINGER - Duration::from_millis(200),
        "{waited:?}"
    );
}

/// A client that keeps sending after the close frame is dropped once the server has read
/// [`DRAIN_FRAMES`] frames, without waiting for the linger period.
#[tokio::test]
async fn the_frames_read_after_the_close_frame_are_bounded() {
    let chat = chat(abuse_config());
    let a = abusive_client(&chat, DRAIN_FRAMES + 100).await;
    tokio::time::timeout(DRAIN_LINGER / 2, a.task)
        .await
        .expect("dropped before the linger period ended")
        .unwrap();
}
