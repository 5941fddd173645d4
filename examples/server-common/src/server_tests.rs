//! chat-http's accept loop (`chat_http::server`) against a small tower service over real
//! 127.0.0.1 sockets, with the raw HTTP probes the reference servers' tests share: the peer
//! address, both timeouts, the cap (upgraded connections included) and graceful shutdown.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::testing::{connect, get, get_keep_alive, time_until_closed};
use chat_http::PeerAddr;
use chat_http::server::{ConnectionLimits, HttpServer};
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const LONG: Duration = Duration::from_secs(30);

/// `/peer`: the `PeerAddr` extension; `/slow`: answers after 500 ms; `/body`: the length of
/// the whole request body; `/upgrade`: 101, then echoes bytes on the upgraded connection.
async fn handle(request: Request<Incoming>) -> Result<Response<String>, Infallible> {
    let body = match request.uri().path() {
        "/peer" => format!("{:?}", request.extensions().get::<PeerAddr>()),
        "/slow" => {
            tokio::time::sleep(Duration::from_millis(500)).await;
            "done".to_owned()
        }
        "/body" => match request.into_body().collect().await {
            Ok(body) => body.to_bytes().len().to_string(),
            Err(e) => e.to_string(),
        },
        "/upgrade" => {
            tokio::spawn(async move {
                let Ok(upgraded) = hyper::upgrade::on(request).await else {
                    return;
                };
                let mut io = TokioIo::new(upgraded);
                let mut buf = [0u8; 64];
                while let Ok(n) = io.read(&mut buf).await {
                    if n == 0 || io.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                }
            });
            let mut response = Response::new(String::new());
            *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
            let headers = response.headers_mut();
            headers.insert(http::header::CONNECTION, "upgrade".parse().unwrap());
            headers.insert(http::header::UPGRADE, "echo".parse().unwrap());
            return Ok(response);
        }
        _ => "ok".to_owned(),
    };
    Ok(Response::new(body))
}

/// A running loop: its address, the trigger of its shutdown and its task.
struct Running {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

async fn start(limits: ConnectionLimits) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = HttpServer::new(listener, limits);
    let addr = server.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(server.serve(tower::service_fn(handle), async move {
        let _ = stopped.await;
    }));
    Running { addr, stop, task }
}

fn limits(header_read: Duration, idle: Duration, max_connections: usize) -> ConnectionLimits {
    ConnectionLimits {
        header_read_timeout: header_read,
        idle_timeout: idle,
        max_connections,
    }
}

/// The body of a `Connection: close` response.
async fn body_of(addr: SocketAddr, request: &str) -> String {
    let mut stream = connect(addr).await;
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(LONG, stream.read_to_end(&mut response))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8(response).unwrap();
    let (_, body) = text.split_once("\r\n\r\n").unwrap();
    body.to_owned()
}

#[tokio::test]
async fn requests_carry_the_peer_address() {
    let server = start(ConnectionLimits::default()).await;
    let mut stream = connect(server.addr).await;
    let me = stream.local_addr().unwrap();
    stream
        .write_all(b"GET /peer HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(
        response.ends_with(&format!("{:?}", Some(PeerAddr(me)))),
        "{response}"
    );
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_header_read_timeout() {
    let server = start(limits(Duration::from_millis(300), LONG, 10)).await;
    let mut stream = connect(server.addr).await;
    assert_eq!(get_keep_alive(&mut stream, "/").await, Ok(200));
    let took = time_until_closed(&mut stream, Duration::from_secs(10))
        .await
        .unwrap();
    assert!(took >= Duration::from_millis(200), "closed after {took:?}");
}

#[tokio::test]
async fn a_partial_head_is_dropped_after_the_header_read_timeout() {
    let server = start(limits(Duration::from_millis(300), LONG, 10)).await;
    let mut stream = connect(server.addr).await;
    let started = Instant::now();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    time_until_closed(&mut stream, Duration::from_secs(10))
        .await
        .unwrap();
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(250), "closed after {took:?}");
}

#[tokio::test]
async fn a_stalled_body_is_dropped_after_the_idle_timeout() {
    let server = start(limits(LONG, Duration::from_millis(300), 10)).await;
    // A complete body is read.
    let body = body_of(
        server.addr,
        "POST /body HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 3\r\n\r\nabc",
    )
    .await;
    assert_eq!(body, "3");
    // Two bytes of ten, then nothing.
    let mut stream = connect(server.addr).await;
    let started = Instant::now();
    stream
        .write_all(b"POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab")
        .await
        .unwrap();
    time_until_closed(&mut stream, Duration::from_secs(10))
        .await
        .unwrap();
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(250) && took < LONG,
        "closed after {took:?}"
    );
}

#[tokio::test]
async fn an_upgraded_connection_keeps_its_slot_under_the_cap() {
    let server = start(limits(LONG, LONG, 1)).await;
    let mut upgraded = connect(server.addr).await;
    upgraded
        .write_all(
            b"GET /upgrade HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n",
        )
        .await
        .unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        tokio::time::timeout(LONG, upgraded.read_exact(&mut byte))
            .await
            .unwrap()
            .unwrap();
        head.push(byte[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101"), "{head:?}");
    upgraded.write_all(b"ping").await.unwrap();
    let mut echo = [0u8; 4];
    upgraded.read_exact(&mut echo).await.unwrap();
    assert_eq!(&echo, b"ping");

    // The upgraded connection still holds the only slot.
    let mut waiting = connect(server.addr).await;
    waiting
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut byte = [0u8; 1];
    let early = tokio::time::timeout(Duration::from_millis(500), waiting.read(&mut byte)).await;
    assert!(early.is_err(), "served above the cap: {early:?}");

    drop(upgraded);
    let mut response = Vec::new();
    tokio::time::timeout(LONG, waiting.read_to_end(&mut response))
        .await
        .unwrap()
        .unwrap();
    assert!(response.starts_with(b"HTTP/1.1 200"), "{response:?}");
}

#[tokio::test]
async fn shutdown_finishes_the_request_in_hand_and_closes_idle_connections() {
    let server = start(limits(LONG, LONG, 10)).await;
    let mut idle = connect(server.addr).await;
    assert_eq!(get_keep_alive(&mut idle, "/").await, Ok(200));
    let addr = server.addr;
    let slow = tokio::spawn(async move {
        body_of(
            addr,
            "GET /slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await
    });
    tokio::time::sleep(Duration::from_millis(100)).await;

    server.stop.send(()).unwrap();
    let took = time_until_closed(&mut idle, Duration::from_secs(10))
        .await
        .unwrap();
    assert!(
        took < Duration::from_millis(400),
        "idle connection kept for {took:?}"
    );
    assert_eq!(slow.await.unwrap(), "done");
    tokio::time::timeout(Duration::from_secs(10), server.task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(
        get(addr, "/").await.is_err(),
        "still accepting after shutdown"
    );
}
