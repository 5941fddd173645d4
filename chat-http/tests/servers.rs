//! The integration suite, written once and run against both an axum and a warp server on
//! 127.0.0.1 (random port) with real tokio-tungstenite and reqwest clients.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chat_core::{ChatService, Config, LocalBroker};
use chat_http::{ChatHttp, HttpConfig, close_code};
use chat_store_memory::MemoryStore;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Bytes, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

const WAIT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy)]
enum Kind {
    Axum,
    Warp,
}

struct Server {
    addr: SocketAddr,
    chat: ChatHttp,
}

async fn start(kind: Kind, config: HttpConfig) -> Server {
    start_with(kind, config, Config::for_tests()).await
}

/// A server whose service has `core` as its configuration. Both servers know the peer
/// address of each request (axum through `ConnectInfo`, warp by itself).
async fn start_with(kind: Kind, config: HttpConfig, core: Config) -> Server {
    let service = ChatService::new(
        Arc::new(MemoryStore::new()),
        Arc::new(LocalBroker::default()),
        core,
    );
    let chat = ChatHttp::new(service, config);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    match kind {
        Kind::Axum => {
            let app = chat_http::axum::router(chat.clone())
                .into_make_service_with_connect_info::<SocketAddr>();
            tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        }
        Kind::Warp => {
            use warp::Filter;
            let routes = chat_http::warp::routes(chat.clone()).recover(chat_http::warp::recover);
            tokio::spawn(warp::serve(routes).incoming(listener).run());
        }
    }
    Server { addr, chat }
}

// ---------------------------------------------------------------- HTTP requests

/// One request per connection (no pool: tests count and close connections), redirects not
/// followed (their status and `Location` are checked), bounded by [`WAIT`].
fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(WAIT)
        .build()
        .unwrap()
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn code(&self) -> Value {
        self.json()["error"]["code"].clone()
    }
}

impl Server {
    fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    async fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = http_client()
            .request(method, format!("http://{}{path}", self.addr))
            .body(body.to_vec());
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap().to_owned()))
            .collect();
        let body = response.bytes().await.unwrap().to_vec();
        Reply {
            status,
            headers,
            body,
        }
    }

    /// A JSON call with a bearer token (no CSRF concerns).
    async fn api(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut headers = vec![("Content-Type", "application/json")];
        if let Some(a) = &auth {
            headers.push(("Authorization", a));
        }
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        self.request(method, path, &headers, body.as_bytes()).await
    }

    /// Signs up; returns (token, cookie header value).
    async fn signup(&self, name: &str) -> (String, String) {
        let r = self
            .api(
                "POST",
                "/api/signup",
                None,
                Some(json!({"username": name, "password": "password123"})),
            )
            .await;
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        let token = r.json()["token"].as_str().unwrap().to_owned();
        let cookie = r.header("set-cookie").unwrap();
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
            "{cookie}"
        );
        let cookie = cookie.split(';').next().unwrap().to_owned();
        assert_eq!(cookie, format!("chat_session={token}"));
        (token, cookie)
    }

    async fn create_room(&self, token: &str, name: &str) {
        let r = self
            .api(
                "POST",
                "/api/rooms",
                Some(token),
                Some(json!({"name": name, "description": "d"})),
            )
            .await;
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    }
}

// ---------------------------------------------------------------- a WebSocket client

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

struct Ws {
    socket: Socket,
    /// Frames read but not yet taken (a batched text frame holds several, one per line).
    pending: std::collections::VecDeque<Value>,
    /// Text frames read that held more than one frame.
    batched: usize,
}

impl Ws {
    fn new(socket: Socket) -> Ws {
        Ws {
            socket,
            pending: Default::default(),
            batched: 0,
        }
    }
}

enum Auth<'a> {
    Bearer(&'a str),
    Cookie(&'a str),
}

impl Server {
    async fn try_ws(&self, headers: &[(&str, &str)]) -> Result<Socket, u16> {
        self.try_ws_at("/ws", headers).await
    }

    async fn try_ws_at(&self, path: &str, headers: &[(&str, &str)]) -> Result<Socket, u16> {
        let mut request = format!("ws://{}{path}", self.addr)
            .into_client_request()
            .unwrap();
        for (k, v) in headers {
            request.headers_mut().insert(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        match tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(request))
            .await
            .unwrap()
        {
            Ok((socket, _)) => Ok(socket),
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                Err(response.status().as_u16())
            }
            Err(e) => panic!("handshake failed: {e}"),
        }
    }

    async fn ws(&self, auth: Auth<'_>) -> Ws {
        let origin = self.origin();
        let header;
        let headers: Vec<(&str, &str)> = match auth {
            Auth::Bearer(t) => {
                header = format!("Bearer {t}");
                vec![("Authorization", header.as_str())]
            }
            Auth::Cookie(c) => vec![("Cookie", c), ("Origin", origin.as_str())],
        };
        let socket = self.try_ws(&headers).await.unwrap();
        let mut ws = Ws::new(socket);
        let hello = ws.next().await;
        assert_eq!(
            (hello["type"].clone(), hello["protocol"].clone()),
            (json!("hello"), json!(1))
        );
        ws
    }
}

impl Server {
    /// A bearer-authenticated client whose TCP receive buffer is tiny, so it stalls quickly
    /// when it stops reading.
    async fn ws_small_buffer(&self, token: &str) -> Ws {
        let mut request = format!("ws://{}/ws", self.addr)
            .into_client_request()
            .unwrap();
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let stream = socket.connect(self.addr).await.unwrap();
        let (socket, _) = tokio_tungstenite::client_async(request, MaybeTlsStream::Plain(stream))
            .await
            .unwrap();
        let mut ws = Ws::new(socket);
        assert_eq!(ws.next().await["type"], "hello");
        ws
    }
}

impl Ws {
    async fn send(&mut self, frame: Value) {
        self.socket
            .send(Message::text(frame.to_string()))
            .await
            .unwrap();
    }

    async fn next(&mut self) -> Value {
        loop {
            if let Some(frame) = self.pending.pop_front() {
                return frame;
            }
            match tokio::time::timeout(WAIT, self.socket.next())
                .await
                .expect("timed out")
            {
                Some(Ok(Message::Text(t))) => {
                    let lines = t.as_str().split('\n');
                    let frames: Vec<Value> =
                        lines.map(|l| serde_json::from_str(l).unwrap()).collect();
                    self.batched += usize::from(frames.len() > 1);
                    self.pending.extend(frames);
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                other => panic!("expected a text frame, got {other:?}"),
            }
        }
    }

    /// The next frame of type `kind`, skipping others; an unexpected error frame fails.
    async fn next_of(&mut self, kind: &str) -> Value {
        loop {
            let f = self.next().await;
            if f["type"] == kind {
                return f;
            }
            assert_ne!(f["type"], "error", "while waiting for {kind}");
        }
    }

    async fn join(&mut self, room: &str, after_seq: Option<i64>) -> Value {
        match after_seq {
            Some(n) => {
                self.send(json!({"type":"join","room":room,"after_seq":n}))
                    .await
            }
            None => self.send(json!({"type":"join","room":room})).await,
        }
        self.next_of("joined").await
    }

    /// Sends to a room this socket has joined and waits for both the ack and the message
    /// frame, which may come in either order; returns the message.
    async fn post_joined(&mut self, room: &str, body: &str, client_id: &str) -> Value {
        self.send(json!({"type":"send","room":room,"body":body,"client_id":client_id}))
            .await;
        let (mut ack, mut message) = (None, None);
        while ack.is_none() || message.is_none() {
            let f = self.next().await;
            assert_ne!(f["type"], "error", "while waiting for {client_id}: {f}");
            if f["client_id"] == client_id {
                match f["type"].as_str() {
                    Some("ack") => ack = Some(f),
                    Some("message") => message = Some(f),
                    _ => {}
                }
            }
        }
        let (ack, message) = (ack.unwrap(), message.unwrap());
        assert_eq!(ack["seq"], message["seq"]);
        message
    }

    /// Sends and waits for the ack; returns its seq.
    async fn post(&mut self, room: &str, body: &str, client_id: &str) -> i64 {
        self.send(json!({"type":"send","room":room,"body":body,"client_id":client_id}))
            .await;
        let ack = self.next_of("ack").await;
        assert_eq!(ack["client_id"], client_id);
        ack["seq"].as_i64().unwrap()
    }
}

// ---------------------------------------------------------------- the cases

/// A server without rate limits, users ann and bob (their tokens), and room `r` made by ann.
async fn ann_and_bob_with_room_r(kind: Kind) -> (Server, String, String) {
    let config = HttpConfig {
        rate_limit: None,
        ..HttpConfig::default()
    };
    let s = start(kind, config).await;
    let (ann_token, _) = s.signup("ann").await;
    let (bob_token, _) = s.signup("bob").await;
    s.create_room(&ann_token, "r").await;
    (s, ann_token, bob_token)
}

async fn fan_out_and_room_isolation(kind: Kind) {
    let s = start(kind, HttpConfig::default()).await;
    let (ann_token, ann_cookie) = s.signup("ann").await;
    let (bob_token, _) = s.signup("bob").await;
    s.create_room(&ann_token, "lobby").await;
    s.create_room(&ann_token, "quiet").await;
    let mut ann = s.ws(Auth::Cookie(&ann_cookie)).await;
    let mut bob = s.ws(Auth::Bearer(&bob_token)).await;
    ann.join("lobby", None).await;
    ann.join("quiet", None).await;
    let joined = bob.join("lobby", None).await;
    assert_eq!(joined["members"], json!(["ann", "bob"]));
    assert_eq!(joined["online"], json!(["ann", "bob"]));

    let own = ann.post_joined("lobby", "hi bob", "a-1").await;
    assert_eq!(own["seq"], 1);
    let m = bob.next_of("message").await;
    assert_eq!(
        (
            m["room"].clone(),
            m["body"].clone(),
            m["author"].clone(),
            m["seq"].clone()
        ),
        (json!("lobby"), json!("hi bob"), json!("ann"), json!(1))
    );
    let own = ann.post_joined("quiet", "only me", "a-2").await;
    assert_eq!(
        (own["seq"].clone(), own["body"].clone()),
        (json!(1), json!("only me"))
    );
    bob.send(json!({"type":"ping"})).await;
    let f = bob.next().await;
    assert_eq!(f["type"], "pong", "bob is not in quiet: {f}");

    bob.post("lobby", "hi ann", "b-1").await;
    let m = ann.next_of("message").await;
    assert_eq!(
        (m["room"].clone(), m["body"].clone()),
        (json!("lobby"), json!("hi ann"))
    );

    let history = s
        .api(
            "GET",
            "/api/rooms/lobby/messages?limit=10",
            Some(&bob_token),
            None,
        )
        .await;
    assert_eq!(history.status, 200);
    let bodies: Vec<Value> = history.json()["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].clone())
        .collect();
    assert_eq!(bodies, vec![json!("hi bob"), json!("hi ann")]);
}

async fn batched_frames_come_in_order_one_per_line(kind: Kind) {
    let (s, ann_token, bob_token) = ann_and_bob_with_room_r(kind).await;
    let bearer = format!("Bearer {bob_token}");
    let auth = [("Authorization", bearer.as_str())];
    assert_eq!(
        s.try_ws_at("/ws?batch=maybe", &auth).await.err(),
        Some(400),
        "a bad option is refused before the upgrade"
    );
    let mut bob = Ws::new(s.try_ws_at("/ws?batch=1", &auth).await.unwrap());
    assert_eq!(bob.next().await["type"], "hello");
    bob.join("r", None).await;
    let mut ann = s.ws(Auth::Bearer(&ann_token)).await;
    ann.join("r", None).await;

    // Sent without waiting for acks: the server posts them in runs, so bob's writer finds
    // several messages ready at once.
    let total: i64 = 300;
    for i in 0..total {
        let frame =
            json!({"type":"send","room":"r","body":format!("m{i}"),"client_id":format!("c{i}")});
        ann.socket
            .feed(Message::text(frame.to_string()))
            .await
            .unwrap();
    }
    ann.socket.flush().await.unwrap();
    for i in 0..total {
        let m = bob.next_of("message").await;
        assert_eq!(
            (m["seq"].as_i64(), m["body"].as_str()),
            (Some(i + 1), Some(format!("m{i}").as_str()))
        );
    }
    for i in 0..total {
        assert_eq!(ann.next_of("ack").await["seq"], i + 1);
    }
    assert!(bob.batched > 0, "no text frame held more than one frame");
    assert_eq!(
        ann.batched, 0,
        "a connection that did not ask gets one frame per text frame"
    );
    bob.send(json!({"type":"ping"})).await;
    assert_eq!(bob.next().await["type"], "pong");
    assert!(bob.pending.is_empty());
}

async fn idempotent_resend(kind: Kind) {
    let s = start(kind, HttpConfig::default()).await;
    let (token, _) = s.signup("ann").await;
    s.create_room(&token, "r").await;
    let mut ws = s.ws(Auth::Bearer(&token)).await;
    ws.join("r", None).await;
    let first = ws.post("r", "exactly once", "same-id").await;
    drop(ws);
    let mut ws = s.ws(Auth::Bearer(&token)).await;
    ws.join("r", Some(first)).await;
    ws.send(json!({"type":"send","room":"r","body":"exactly once","client_id":"same-id"}))
        .await;
    let ack = ws.next_of("ack").await;
    assert_eq!(
        (ack["seq"].as_i64(), ack["duplicate"].clone()),
        (Some(first), json!(true))
    );
    let history = s
        .api("GET", "/api/rooms/r/messages", Some(&token), None)
        .await;
    assert_eq!(history.json()["messages"].as_array().unwrap().len(), 1);
}

async fn resume_after_disconnect(kind: Kind) {
    let (s, ann_token, bob_token) = ann_and_bob_with_room_r(kind).await;
    let mut ann = s.ws(Auth::Bearer(&ann_token)).await;
    ann.join("r", None).await;
    let mut bob = s.ws(Auth::Bearer(&bob_token)).await;
    bob.join("r", None).await;
    ann.post("r", "before", "c0").await;
    let last = bob.next_of("message").await["seq"].as_i64().unwrap();
    bob.socket.close(None).await.unwrap();
    drop(bob);
    for i in 1..=20 {
        ann.post("r", &format!("while away {i}"), &format!("c{i}"))
            .await;
    }
    let mut bob = s.ws(Auth::Bearer(&bob_token)).await;
    bob.join("r", Some(last)).await;
    ann.post("r", "after", "c-live").await;
    let mut seen = Vec::new();
    while seen.len() < 21 {
        let m = bob.next_of("message").await;
        seen.push((
            m["seq"].as_i64().unwrap(),
            m["body"].as_str().unwrap().to_owned(),
        ));
    }
    let seqs: Vec<i64> = seen.iter().map(|(s, _)| *s).collect();
    assert_eq!(
        seqs,
        (2..=22).collect::<Vec<_>>(),
        "in order, no gap, no duplicate"
    );
    assert_eq!(seen[0].1, "while away 1");
    assert_eq!(seen[20].1, "after");
    bob.send(json!({"type":"ping"})).await;
    assert_eq!(bob.next().await["type"], "pong", "nothing more");
}

async fn slow_reader_is_closed_while_others_keep_receiving(kind: Kind) {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let config = HttpConfig {
        outbound_queue: 256,
        slow_consumer_grace: Duration::from_millis(500),
        rate_limit: None,
        ..HttpConfig::default()
    };
    let s = start(kind, config).await;
    let (ann_token, _) = s.signup("ann").await;
    let (bob_token, _) = s.signup("bob").await;
    let (cat_token, _) = s.signup("cat").await;
    s.create_room(&ann_token, "r").await;
    // The sender does not join (it only needs acks), so its own queue holds only acks.
    let sender = s.ws(Auth::Bearer(&ann_token)).await;
    let mut fast = s.ws(Auth::Bearer(&bob_token)).await;
    fast.join("r", None).await;
    let mut slow = s.ws_small_buffer(&cat_token).await;
    slow.join("r", None).await;

    let body = "x".repeat(3900);
    let total: i64 = 2000;
    // The sender posts in windows of 50 and reads its acks, so it never lags itself.
    let mut sender = sender;
    let posting = tokio::spawn(async move {
        for window in 0..total / 50 {
            for i in 0..50 {
                let id = format!("m{}", window * 50 + i);
                let frame = json!({"type":"send","room":"r","body":body,"client_id":id});
                sender
                    .socket
                    .feed(Message::text(frame.to_string()))
                    .await
                    .unwrap();
            }
            sender.socket.flush().await.unwrap();
            for _ in 0..50 {
                sender.next_of("ack").await;
            }
        }
        sender
    });
    // The fast reader only counts (no JSON parsing) so it keeps up on a busy machine.
    let mut got = 0;
    while got < total {
        match tokio::time::timeout(WAIT, fast.socket.next())
            .await
            .unwrap()
        {
            Some(Ok(Message::Text(t))) if t.as_str().starts_with(r#"{"type":"message""#) => {
                got += 1
            }
            Some(Ok(Message::Text(_) | Message::Ping(_))) => {}
            other => panic!("fast reader: {other:?}"),
        }
    }
    let _sender = posting.await.unwrap();

    // The slow reader wakes up: some messages, then the slow-consumer close.
    let mut last_seq = 0;
    let code = loop {
        match tokio::time::timeout(WAIT, slow.socket.next())
            .await
            .unwrap()
        {
            Some(Ok(Message::Text(t))) => {
                let v: Value = serde_json::from_str(t.as_str()).unwrap();
                if v["type"] == "message" {
                    let seq = v["seq"].as_i64().unwrap();
                    assert_eq!(seq, last_seq + 1);
                    last_seq = seq;
                }
            }
            Some(Ok(Message::Close(frame))) => break frame.map(|f| u16::from(f.code)),
            Some(Ok(_)) => {}
            other => panic!("slow reader: {other:?}"),
        }
    };
    assert_eq!(code, Some(close_code::SLOW_CONSUMER));
    assert!(last_seq < total, "it was cut off early");
    // It resumes and loses nothing.
    let mut slow = s.ws(Auth::Bearer(&cat_token)).await;
    slow.join("r", Some(last_seq)).await;
    for seq in last_seq + 1..=total {
        assert_eq!(slow.next_of("message").await["seq"].as_i64(), Some(seq));
    }
    let metrics = s.request("GET", "/metrics", &[], b"").await;
    let text = String::from_utf8(metrics.body).unwrap();
    assert!(
        text.contains("chat_ws_send_queue_overflows_total 1"),
        "{text}"
    );
    assert!(text.contains("\nchat_broker_rooms 1\n"), "{text}");
    assert!(
        s.chat
            .metrics()
            .deliveries
            .load(std::sync::atomic::Ordering::Relaxed)
            > 2 * total as u64
    );
}

async fn handshake_refusals(kind: Kind) {
    let s = start(kind, HttpConfig::default()).await;
    let (_, cookie) = s.signup("ann").await;
    assert_eq!(s.try_ws(&[]).await.err(), Some(401), "no cookie");
    assert_eq!(
        s.try_ws(&[("Cookie", "chat_session=forged")]).await.err(),
        Some(401)
    );
    assert_eq!(
        s.try_ws(&[("Cookie", &cookie), ("Origin", "http://evil.example")])
            .await
            .err(),
        Some(403),
        "foreign origin"
    );
    let origin = s.origin();
    assert!(
        s.try_ws(&[("Cookie", &cookie), ("Origin", &origin)])
            .await
            .is_ok()
    );
    let plain = s.request("GET", "/ws", &[("Cookie", &cookie)], b"").await;
    assert!(
        plain.status == 400 || plain.status == 426,
        "no upgrade headers: {}",
        plain.status
    );
}

async fn every_bad_frame_gets_an_error(kind: Kind) {
    let config = HttpConfig {
        max_frame_bytes: 2048,
        rate_limit: Some(chat_http::RateLimit::new(4, 0.0001)),
        ..HttpConfig::default()
    };
    let s = start(kind, config).await;
    let (ann_token, _) = s.signup("ann").await;
    let (bob_token, _) = s.signup("bob").await;
    s.create_room(&ann_token, "ann-room").await;
    let mut ann = s.ws(Auth::Bearer(&ann_token)).await;
    ann.join("ann-room", None).await;
    ann.post("ann-room", "mine", "a1").await;
    let mut bob = s.ws(Auth::Bearer(&bob_token)).await;

    let big = format!(
        r#"{{"type":"send","room":"ann-room","body":"{}"}}"#,
        "y".repeat(4000)
    );
    let cases: Vec<(Message, &str)> = vec![
        (Message::text("{oops"), "invalid_json"),
        (
            Message::text(r#"{"type":"teleport","ref":"t1"}"#),
            "unknown_type",
        ),
        (Message::text(r#"{"type":"join"}"#), "missing_field"),
        (
            Message::text(r#"{"type":"history","room":"ann-room","limit":"lots"}"#),
            "bad_field",
        ),
        (Message::text(big), "frame_too_large"),
        (
            Message::Binary(Bytes::from_static(b"\x01\x02")),
            "binary_not_supported",
        ),
        (
            Message::text(r#"{"type":"join","room":"atlantis"}"#),
            "unknown_room",
        ),
        (
            Message::text(r#"{"type":"send","room":"ann-room","body":"x","client_id":"b1"}"#),
            "not_member",
        ),
    ];
    for (frame, code) in cases {
        bob.socket.send(frame).await.unwrap();
        let e = bob.next_of("error").await;
        assert_eq!(e["code"], code, "{e}");
    }
    bob.send(json!({"type":"teleport","ref":{"n":1}})).await;
    assert_eq!(bob.next_of("error").await["ref"], json!({"n":1}));
    bob.join("ann-room", None).await;
    bob.send(json!({"type":"delete","room":"ann-room","seq":1}))
        .await;
    assert_eq!(bob.next_of("error").await["code"], "forbidden");
    bob.send(json!({"type":"send","room":"ann-room","body":""}))
        .await;
    assert_eq!(bob.next_of("error").await["code"], "invalid_body");
    bob.send(json!({"type":"send","room":"ann-room","body":"ok","client_id":"b2"}))
        .await;
    assert_eq!(bob.next_of("ack").await["client_id"], "b2");
    bob.send(json!({"type":"send","room":"ann-room","body":"too fast","client_id":"b3"}))
        .await;
    let e = bob.next_of("error").await;
    assert_eq!(
        (e["code"].clone(), e["client_id"].clone()),
        (json!("rate_limited"), json!("b3"))
    );
    // History pages share the budget.
    bob.send(json!({"type":"history","room":"ann-room"})).await;
    assert_eq!(bob.next_of("error").await["code"], "rate_limited");
    // Still usable after all of that.
    bob.send(json!({"type":"ping"})).await;
    assert_eq!(bob.next_of("pong").await["type"], "pong");
}

async fn admin_endpoints_need_an_admin(kind: Kind) {
    let s = start(kind, HttpConfig::default()).await;
    let (token, cookie) = s.signup("ann").await;
    s.create_room(&token, "r").await;
    for (method, path) in [
        ("GET", "/api/admin/users"),
        ("GET", "/api/admin/rooms"),
        ("PATCH", "/api/admin/users/1"),
        ("DELETE", "/api/admin/rooms/r"),
        ("GET", "/api/admin/rooms/r/messages"),
        ("DELETE", "/api/admin/rooms/r/messages/1"),
    ] {
        let r = s.api(method, path, Some(&token), Some(json!({}))).await;
        assert_eq!(r.status, 403, "{method} {path}");
        assert_eq!(r.code(), "forbidden");
    }
    assert_eq!(
        s.api("GET", "/api/admin/users", None, None).await.status,
        401
    );
    let page = s
        .request("GET", "/admin", &[("Cookie", &cookie)], b"")
        .await;
    assert_eq!(page.status, 403);
    let page = s.request("GET", "/admin", &[], b"").await;
    assert_eq!(
        (page.status, page.header("location")),
        (303, Some("/login"))
    );

    s.chat
        .service()
        .create_user("root", "password123", true)
        .await
        .unwrap();
    let login = s
        .api(
            "POST",
            "/api/login",
            None,
            Some(json!({"username":"root","password":"password123"})),
        )
        .await;
    assert_eq!(login.status, 200);
    let admin = login.json()["token"].as_str().unwrap().to_owned();
    let users = s
        .api("GET", "/api/admin/users?q=an", Some(&admin), None)
        .await;
    assert_eq!(users.status, 200);
    assert_eq!(users.json()["users"][0]["username"], "ann");
    let ann_id = users.json()["users"][0]["id"].as_i64().unwrap();
    let r = s
        .api(
            "PATCH",
            &format!("/api/admin/users/{ann_id}"),
            Some(&admin),
            Some(json!({"is_active": false})),
        )
        .await;
    assert_eq!(
        (r.status, r.json()["user"]["is_active"].clone()),
        (200, json!(false))
    );
    assert_eq!(
        s.api("GET", "/api/me", Some(&token), None).await.status,
        401,
        "sessions ended"
    );
    let r = s
        .api("DELETE", "/api/admin/rooms/r", Some(&admin), None)
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(
        s.api("GET", "/api/admin/rooms", Some(&admin), None)
            .await
            .json()["rooms"],
        json!([])
    );
}

async fn json_api_errors_and_csrf(kind: Kind) {
    let s = start(kind, HttpConfig::default()).await;
    let (token, cookie) = s.signup("ann").await;
    let ct = ("Content-Type", "application/json");
    let r = s.request("POST", "/api/signup", &[ct], b"{nope").await;
    assert_eq!((r.status, r.code()), (400, json!("invalid_json")));
    let r = s
        .api("POST", "/api/signup", None, Some(json!({"username":"ann"})))
        .await;
    assert_eq!((r.status, r.code()), (400, json!("missing_field")));
    let r = s
        .api(
            "POST",
            "/api/signup",
            None,
            Some(json!({"username":"ann","password":"password123"})),
        )
        .await;
    assert_eq!((r.status, r.code()), (409, json!("conflict")));
    let r = s
        .api(
            "POST",
            "/api/signup",
            None,
            Some(json!({"username":"a b","password":"password123"})),
        )
        .await;
    assert_eq!((r.status, r.code()), (422, json!("invalid_username")));
    let r = s
        .api(
            "POST",
            "/api/login",
            None,
            Some(json!({"username":"ann","password":"wrong-password"})),
        )
        .await;
    assert_eq!((r.status, r.code()), (401, json!("invalid_credentials")));
    let r = s.api("GET", "/api/me", None, None).await;
    assert_eq!((r.status, r.code()), (401, json!("unauthenticated")));
    let r = s.api("GET", "/api/rooms/nowhere", Some(&token), None).await;
    assert_eq!((r.status, r.code()), (404, json!("unknown_room")));
    let huge = vec![b'x'; 200 * 1024];
    let r = s
        .request(
            "POST",
            "/api/rooms",
            &[ct, ("Authorization", &format!("Bearer {token}"))],
            &huge,
        )
        .await;
    assert_eq!((r.status, r.code()), (413, json!("payload_too_large")));
    let r = s.api("PUT", "/api/rooms", Some(&token), None).await;
    assert_eq!(r.status, 405);
    let r = s.api("GET", "/api/nothing-here", Some(&token), None).await;
    assert_eq!(r.status, 404);

    // CSRF: a cookie-authenticated write needs an Origin (or Referer) of this site.
    let room = json!({"name":"csrf","description":""}).to_string();
    let r = s
        .request(
            "POST",
            "/api/rooms",
            &[ct, ("Cookie", &cookie)],
            room.as_bytes(),
        )
        .await;
    assert_eq!((r.status, r.code()), (403, json!("csrf_check_failed")));
    let r = s
        .request(
            "POST",
            "/api/rooms",
            &[ct, ("Cookie", &cookie), ("Origin", "http://evil.example")],
            room.as_bytes(),
        )
        .await;
    assert_eq!((r.status, r.code()), (403, json!("forbidden_origin")));
    let origin = s.origin();
    let r = s
        .request(
            "POST",
            "/api/rooms",
            &[ct, ("Cookie", &cookie), ("Origin", &origin)],
            room.as_bytes(),
        )
        .await;
    assert_eq!(r.status, 201);
    // Reads with the cookie need no Origin.
    let r = s
        .request("GET", "/api/rooms?q=csr", &[("Cookie", &cookie)], b"")
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["rooms"][0]["name"], "csrf");
    assert_eq!(r.json()["rooms"][0]["member"], true);
    // Logout ends the session and clears the cookie.
    let r = s
        .request(
            "POST",
            "/api/logout",
            &[("Cookie", &cookie), ("Origin", &origin)],
            b"",
        )
        .await;
    assert_eq!(r.status, 204);
    assert!(r.header("set-cookie").unwrap().contains("Max-Age=0"));
    assert_eq!(
        s.api("GET", "/api/me", Some(&token), None).await.status,
        401
    );
}

async fn ui_health_and_metrics(kind: Kind) {
    let s = start(kind, HttpConfig::default()).await;
    for path in ["/", "/login", "/signup", "/rooms/lobby"] {
        let r = s.request("GET", path, &[], b"").await;
        assert_eq!(r.status, 200, "{path}");
        assert!(r.header("content-type").unwrap().starts_with("text/html"));
        assert_eq!(r.body, chat_http::ui::asset("index.html").unwrap().0);
    }
    for file in [
        "app.js",
        "admin.js",
        "endpoints.js",
        "room/page.js",
        "client/index.js",
        "style.css",
        "index.html",
        "admin.html",
    ] {
        let r = s.request("GET", &format!("/static/{file}"), &[], b"").await;
        assert_eq!(r.status, 200, "{file}");
    }
    assert_eq!(
        s.request("GET", "/static/nope.js", &[], b"").await.status,
        404
    );
    let r = s.request("GET", "/healthz", &[], b"").await;
    assert_eq!((r.status, r.body.as_slice()), (200, &b"ok\n"[..]));
    let r = s.request("GET", "/metrics", &[], b"").await;
    let text = String::from_utf8(r.body).unwrap();
    for name in [
        "chat_ws_connections_open",
        "chat_messages_posted_total",
        "chat_ws_deliveries_total",
        "chat_ws_send_queue_overflows_total",
        "chat_http_request_duration_seconds_bucket",
    ] {
        assert!(text.contains(name), "{name} missing");
    }
}

async fn graceful_shutdown_closes_sockets_with_1001(kind: Kind) {
    let s = start(kind, HttpConfig::default()).await;
    let (token, _) = s.signup("ann").await;
    let mut ws = s.ws(Auth::Bearer(&token)).await;
    s.chat.shutdown();
    let code = loop {
        match tokio::time::timeout(WAIT, ws.socket.next()).await.unwrap() {
            Some(Ok(Message::Close(frame))) => break frame.map(|f| u16::from(f.code)),
            Some(Ok(_)) => {}
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(code, Some(close_code::GOING_AWAY));
    tokio::time::timeout(WAIT, s.chat.closed()).await.unwrap();
    assert_eq!(
        s.try_ws(&[("Authorization", &format!("Bearer {token}"))])
            .await
            .err(),
        Some(503)
    );
}

// ---------------------------------------------------------------- hardening

impl Ws {
    /// Whether the socket still answers a ping frame of the protocol.
    async fn answers(&mut self) -> bool {
        self.send(json!({"type":"ping"})).await;
        self.next().await["type"] == "pong"
    }
}

impl Server {
    async fn login(&self, name: &str, password: &str) -> String {
        let body = json!({"username": name, "password": password});
        let r = self.api("POST", "/api/login", None, Some(body)).await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        r.json()["token"].as_str().unwrap().to_owned()
    }
}

async fn sockets_close_when_their_session_ends(kind: Kind) {
    let s = start(kind, HttpConfig::default()).await;
    let (one, cookie) = s.signup("ann").await;
    let two = s.login("ann", "password123").await;
    let three = s.login("ann", "password123").await;
    let mut by_cookie = s.ws(Auth::Cookie(&cookie)).await;
    let mut also_one = s.ws(Auth::Bearer(&one)).await;
    let mut on_two = s.ws(Auth::Bearer(&two)).await;
    let mut on_three = s.ws(Auth::Bearer(&three)).await;
    let ended = Ok(close_code::SESSION_ENDED);

    // Log out: both sockets of that session close within a second, the others stay.
    let started = std::time::Instant::now();
    assert_eq!(
        s.api("POST", "/api/logout", Some(&one), None).await.status,
        204
    );
    assert_eq!(close_code_of(&mut by_cookie).await, ended);
    assert_eq!(close_code_of(&mut also_one).await, ended);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert!(on_two.answers().await && on_three.answers().await);

    // A password change ends every other session; the changing one stays.
    let change = json!({"old_password": "password123", "new_password": "another-pass-456"});
    let r = s
        .api("POST", "/api/password", Some(&two), Some(change))
        .await;
    assert_eq!(r.status, 204, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(close_code_of(&mut on_three).await, ended);
    assert_eq!(
        s.api("GET", "/api/me", Some(&three), None).await.status,
        401
    );
    assert!(on_two.answers().await);
    let wrong = json!({"old_password": "password123", "new_password": "whatever-789"});
    let r = s
        .api("POST", "/api/password", Some(&two), Some(wrong))
        .await;
    assert_eq!((r.status, r.code()), (401, json!("invalid_credentials")));

    // Log out everywhere ends the rest, this session included.
    let four = s.login("ann", "another-pass-456").await;
    let mut on_four = s.ws(Auth::Bearer(&four)).await;
    let r = s.api("POST", "/api/logout-all", Some(&two), None).await;
    assert_eq!(r.status, 204);
    assert!(r.header("set-cookie").unwrap().contains("Max-Age=0"));
    assert_eq!(close_code_of(&mut on_two).await, ended);
    assert_eq!(close_code_of(&mut on_four).await, ended);
    for token in [&two, &four] {
        assert_eq!(s.api("GET", "/api/me", Some(token), None).await.status, 401);
    }
}

async fn sockets_close_when_their_session_expires(kind: Kind) {
    let core = Config {
        session_ttl: Duration::from_millis(1500),
        ..Config::for_tests()
    };
    let s = start_with(kind, HttpConfig::default(), core).await;
    let (token, _) = s.signup("ann").await;
    let mut ws = s.ws(Auth::Bearer(&token)).await;
    let started = std::time::Instant::now();
    assert_eq!(close_code_of(&mut ws).await, Ok(close_code::SESSION_ENDED));
    let lived = started.elapsed();
    assert!(
        lived < Duration::from_millis(2500),
        "closed after {lived:?}"
    );
}

async fn json_bodies_only_and_no_foreign_signups(kind: Kind) {
    let s = start(kind, HttpConfig::default()).await;
    let form = br#"{"username":"eve","password":"password123"}"#;
    for ct in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ] {
        let r = s
            .request("POST", "/api/signup", &[("Content-Type", ct)], form)
            .await;
        assert_eq!(
            (r.status, r.code()),
            (415, json!("unsupported_media_type")),
            "{ct}"
        );
    }
    let r = s.request("POST", "/api/signup", &[], form).await;
    assert_eq!(r.status, 415, "no content type");
    for path in ["/api/signup", "/api/login"] {
        let headers = [
            ("Content-Type", "application/json"),
            ("Origin", "http://evil.example"),
        ];
        let r = s.request("POST", path, &headers, form).await;
        assert_eq!(
            (r.status, r.code()),
            (403, json!("forbidden_origin")),
            "{path}"
        );
    }
    let headers = [("Content-Type", "application/json; charset=utf-8")];
    assert_eq!(
        s.request("POST", "/api/signup", &headers, form)
            .await
            .status,
        201
    );
}

async fn sockets_are_capped_per_user_and_address(kind: Kind) {
    let config = HttpConfig {
        max_sockets_per_user: 2,
        max_sockets_per_address: 3,
        ..HttpConfig::default()
    };
    let s = start(kind, config).await;
    let (ann, _) = s.signup("ann").await;
    let (bob, _) = s.signup("bob").await;
    let bearer = |t: &str| format!("Bearer {t}");
    let (ann_h, bob_h) = (bearer(&ann), bearer(&bob));
    let first = s.ws(Auth::Bearer(&ann)).await;
    let _second = s.ws(Auth::Bearer(&ann)).await;
    assert_eq!(
        s.try_ws(&[("Authorization", &ann_h)]).await.unwrap_err(),
        429
    );
    let _third = s.ws(Auth::Bearer(&bob)).await;
    assert_eq!(
        s.try_ws(&[("Authorization", &bob_h)]).await.unwrap_err(),
        429,
        "the address has three open"
    );
    drop(first);
    // The server notices the closed socket and gives its place back.
    let mut reopened = None;
    for _ in 0..50 {
        if let Ok(socket) = s.try_ws(&[("Authorization", &ann_h)]).await {
            reopened = Some(socket);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(reopened.is_some(), "a closed socket frees its place");
}

async fn address_and_user_budgets(kind: Kind) {
    let config = HttpConfig {
        rate_limit: Some(chat_http::RateLimit::new(2, 0.001)),
        address_limits: chat_http::AddressLimits {
            signup: Some(chat_http::RateLimit::new(2, 0.001)),
            search: Some(chat_http::RateLimit::new(1, 0.001)),
            ..chat_http::AddressLimits::off()
        },
        ..HttpConfig::default()
    };
    let s = start(kind, config).await;
    let (ann, _) = s.signup("ann").await;
    s.signup("bob").await;
    let body = json!({"username": "cat", "password": "password123"});
    let r = s.api("POST", "/api/signup", None, Some(body)).await;
    assert_eq!((r.status, r.code()), (429, json!("rate_limited")));
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!(
        (900..=1000).contains(&retry),
        "one token at 0.001/s: {retry} s"
    );
    s.create_room(&ann, "r").await;
    let search = "/api/rooms/r/search?q=hello";
    assert_eq!(s.api("GET", search, Some(&ann), None).await.status, 200);
    assert_eq!(s.api("GET", search, Some(&ann), None).await.status, 429);
    // REST edits and deletes share the user's budget with the socket's sends.
    let mut ws = s.ws(Auth::Bearer(&ann)).await;
    ws.join("r", None).await;
    ws.send(json!({"type":"send","room":"r","body":"hello","client_id":"a"}))
        .await;
    assert_eq!(ws.next_of("ack").await["seq"], 1);
    let edit = json!({"body": "edited"});
    let r = s
        .api(
            "PATCH",
            "/api/rooms/r/messages/1",
            Some(&ann),
            Some(edit.clone()),
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let r = s
        .api("DELETE", "/api/rooms/r/messages/1", Some(&ann), None)
        .await;
    assert_eq!((r.status, r.code()), (429, json!("rate_limited")));
}

async fn a_full_hashing_pool_answers_503_busy(kind: Kind) {
    // One hashing thread, no queue, and a hash of about a second: one sign up fills the pool.
    let core = Config {
        hash_cost: chat_core::HashCost {
            memory_kib: 8 * 1024,
            iterations: 400,
            parallelism: 1,
        },
        hashing: chat_core::HashingConfig {
            threads: 1,
            queue: 0,
            release_after: Duration::from_secs(1),
        },
        ..Config::for_tests()
    };
    let s = Arc::new(start_with(kind, HttpConfig::default(), core).await);
    let first = {
        let s = Arc::clone(&s);
        tokio::spawn(async move {
            let body = json!({"username": "ann", "password": "password123"});
            s.api("POST", "/api/signup", None, Some(body)).await.status
        })
    };
    let deadline = std::time::Instant::now() + WAIT;
    while s.chat.service().hash_pool().in_flight() == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the first sign up never hashed"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    for (path, name) in [
        ("/api/signup", "bob"),
        ("/api/login", "ann"),
        ("/api/login", "nobody"),
    ] {
        let body = json!({"username": name, "password": "password123"});
        let r = s.api("POST", path, None, Some(body)).await;
        assert_eq!((r.status, r.code()), (503, json!("busy")), "{path} {name}");
        assert_eq!(r.header("retry-after"), Some("1"));
    }
    assert_eq!(first.await.unwrap(), 201);
}

// ---------------------------------------------------------------- clean closes

/// Reads until the server's close frame: its code, or what came instead (an error such as a
/// reset, the end of the stream, a timeout).
async fn close_code_of(ws: &mut Ws) -> Result<u16, String> {
    loop {
        match tokio::time::timeout(WAIT, ws.socket.next()).await {
            Err(_) => return Err("timed out".into()),
            Ok(Some(Ok(Message::Close(Some(frame))))) => return Ok(u16::from(frame.code)),
            Ok(Some(Ok(Message::Close(None)))) => return Err("a close frame without a code".into()),
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(e))) => return Err(format!("error: {e}")),
            Ok(None) => return Err("the stream ended".into()),
        }
    }
}

/// After the server's close frame: the client's reply goes out (tungstenite sends it on the
/// next read) and the server ends the connection without a reset.
async fn closing_handshake_ends_cleanly(ws: &mut Ws) {
    match tokio::time::timeout(WAIT, ws.socket.next()).await {
        Ok(None) => {}
        Ok(Some(Ok(frame))) => panic!("a frame after the close frame: {frame:?}"),
        Ok(Some(Err(e))) => panic!("the connection did not end cleanly: {e}"),
        Err(_) => panic!("the server did not end the connection"),
    }
}

/// A client that floods `send` frames without reading gets the 4029 close frame: the server
/// reads (and drops) what is still coming after its close frame instead of resetting the
/// connection with unread data.
async fn a_flooding_client_receives_the_4029_close_frame(kind: Kind) {
    let config = HttpConfig {
        rate_limit: Some(chat_http::RateLimit::new(1, 0.001)),
        abuse_threshold: 3,
        ..HttpConfig::default()
    };
    let s = start(kind, config).await;
    let (token, _) = s.signup("ann").await;
    s.create_room(&token, "r").await;
    let mut ws = s.ws(Auth::Bearer(&token)).await;
    ws.join("r", None).await;
    let flood = async {
        for i in 0..10_000 {
            let frame = json!({"type":"send","room":"r","body":"spam","client_id":format!("c{i}")});
            ws.socket.feed(Message::text(frame.to_string())).await?;
        }
        ws.socket.flush().await
    };
    if let Err(e) = tokio::time::timeout(WAIT, flood).await.unwrap() {
        panic!("the flood was cut off: {e}");
    }
    assert_eq!(close_code_of(&mut ws).await, Ok(close_code::RATE_ABUSE));
    closing_handshake_ends_cleanly(&mut ws).await;
}

/// A text frame that is not UTF-8 closes the connection with 1007.
async fn invalid_utf8_closes_with_1007(kind: Kind) {
    use tokio_tungstenite::tungstenite::protocol::frame::Frame;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
    let s = start(kind, HttpConfig::default()).await;
    let (token, _) = s.signup("ann").await;
    let mut ws = s.ws(Auth::Bearer(&token)).await;
    let payload = Bytes::from_static(b"{\"type\":\"ping\",\"ref\":\"\xff\xfe\"}");
    let frame = Frame::message(payload, OpCode::Data(Data::Text), true);
    ws.socket.send(Message::Frame(frame)).await.unwrap();
    assert_eq!(
        close_code_of(&mut ws).await,
        Ok(close_code::INVALID_PAYLOAD)
    );
    closing_handshake_ends_cleanly(&mut ws).await;
}

/// A message above the transport's limit gets the 1009 close frame (the server cannot read
/// the rest of it, so the connection may then end with a reset).
async fn an_oversized_message_receives_the_1009_close_frame(kind: Kind) {
    let config = HttpConfig {
        max_frame_bytes: 1024,
        ..HttpConfig::default()
    };
    let s = start(kind, config).await;
    let (token, _) = s.signup("ann").await;
    let mut ws = s.ws(Auth::Bearer(&token)).await;
    ws.socket
        .send(Message::text("z".repeat(200 * 1024)))
        .await
        .unwrap();
    assert_eq!(close_code_of(&mut ws).await, Ok(close_code::TOO_BIG));
}

macro_rules! both_servers {
    ($($case:ident),* $(,)?) => {
        mod axum_server {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(super::Kind::Axum).await;
                }
            )*
        }
        mod warp_server {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(super::Kind::Warp).await;
                }
            )*
        }
    };
}

both_servers!(
    fan_out_and_room_isolation,
    batched_frames_come_in_order_one_per_line,
    idempotent_resend,
    resume_after_disconnect,
    slow_reader_is_closed_while_others_keep_receiving,
    handshake_refusals,
    every_bad_frame_gets_an_error,
    admin_endpoints_need_an_admin,
    json_api_errors_and_csrf,
    ui_health_and_metrics,
    graceful_shutdown_closes_sockets_with_1001,
    sockets_close_when_their_session_ends,
    sockets_close_when_their_session_expires,
    json_bodies_only_and_no_foreign_signups,
    sockets_are_capped_per_user_and_address,
    address_and_user_budgets,
    a_full_hashing_pool_answers_503_busy,
    a_flooding_client_receives_the_4029_close_frame,
    invalid_utf8_closes_with_1007,
    an_oversized_message_receives_the_1009_close_frame,
);
