//! A measurement, not a check (run with `--ignored --nocapture`): the resident memory each idle
//! WebSocket connection costs the server, for axum and warp. Clients are raw TCP sockets that
//! did the handshake by hand, so (almost) all of the growth is server-side. One case per process
//! (allocators keep freed memory): `CHAT_MEM_CASE=axum|axum-join|warp|warp-join`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chat_core::{ChatService, Config, LocalBroker};
use chat_http::{ChatHttp, HttpConfig};
use chat_store_memory::MemoryStore;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

async fn measure(warp_server: bool, join: bool) {
    const N: usize = 2000;
    let service = ChatService::new(
        Arc::new(MemoryStore::new()),
        Arc::new(LocalBroker::default()),
        Config::for_tests(),
    );
    let (user, token) = service.signup("idle", "password123").await.unwrap();
    service.create_room(&user, "lobby", "").await.unwrap();
    let chat = ChatHttp::new(service, HttpConfig::default());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    if warp_server {
        tokio::spawn(
            warp::serve(chat_http::warp::routes(chat.clone()))
                .incoming(listener)
                .run(),
        );
    } else {
        let app = chat_http::axum::router(chat.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    }
    let request = format!(
        "GET /ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Authorization: Bearer {}\r\n\r\n",
        token.as_str()
    );
    // A masked client text frame: {"type":"join","room":"lobby"}
    let join_frame = {
        let payload = br#"{"type":"join","room":"lobby"}"#;
        let mut f = vec![0x81, 0x80 | payload.len() as u8, 0, 0, 0, 0];
        f.extend_from_slice(payload);
        f
    };
    let mut warm = Vec::new();
    for _ in 0..50 {
        warm.push(open(addr, &request, join.then_some(&join_frame[..])).await);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = rss_bytes();
    let mut sockets = Vec::with_capacity(N);
    for _ in 0..N {
        sockets.push(open(addr, &request, join.then_some(&join_frame[..])).await);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = rss_bytes();
    assert_eq!(chat.open_connections(), (N + 50) as u64);
    println!(
        "{} server, {}: {:.1} KB per idle connection ({N} connections)",
        if warp_server { "warp" } else { "axum" },
        if join {
            "joined one room"
        } else {
            "not joined"
        },
        (after.saturating_sub(before)) as f64 / N as f64 / 1000.0
    );
    drop(sockets);
    drop(warm);
}

async fn open(addr: std::net::SocketAddr, request: &str, join: Option<&[u8]>) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let mut buf = [0u8; 1024];
    let n = s.read(&mut buf).await.unwrap();
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );
    if let Some(frame) = join {
        s.write_all(frame).await.unwrap();
    }
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement; run with --ignored --nocapture"]
async fn idle_connection_memory() {
    let case = std::env::var("CHAT_MEM_CASE").unwrap_or_else(|_| String::from("axum"));
    measure(case.starts_with("warp"), case.ends_with("join")).await;
}
