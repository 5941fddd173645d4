//! An in-process chat server for the client's tests: `chat_http::ChatHttp` over SQLite in a
//! temporary directory, served by axum or by warp on 127.0.0.1, which a test can stop (graceful shutdown,
//! store closed) and start again on the same port and the same database file.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use chat_client::{Auth, BackoffConfig, Client, Config, Event, Events};
use chat_core::{ChatService, LocalBroker, User};
use chat_http::{ChatHttp, HttpConfig};
use chat_store_sqlite::SqliteStore;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use warp::Filter;

/// How long any single expected thing may take.
pub const WAIT: Duration = Duration::from_secs(20);

/// Which adapter serves the chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framework {
    Axum,
    Warp,
}

/// A running server.
pub struct Server {
    pub addr: SocketAddr,
    pub chat: ChatHttp,
    task: tokio::task::JoinHandle<()>,
    path: PathBuf,
}

impl Server {
    /// Starts a server over the SQLite file `path`, on `addr` (a fresh port when `None`).
    pub async fn start(path: PathBuf, addr: Option<SocketAddr>, framework: Framework) -> Server {
        let store = SqliteStore::open(&path).await.unwrap();
        let service = ChatService::new(
            Arc::new(store),
            Arc::new(LocalBroker::default()),
            chat_core::Config::for_tests(),
        );
        let config = HttpConfig {
            rate_limit: None,
            ..HttpConfig::default()
        };
        let chat = ChatHttp::new(service, config);
        let listener = bind(addr).await;
        let addr = listener.local_addr().unwrap();
        let task = match framework {
            Framework::Axum => {
                let app = chat_http::axum::router(chat.clone());
                tokio::spawn(async move {
                    let _ = axum::serve(listener, app).await;
                })
            }
            Framework::Warp => {
                let routes =
                    chat_http::warp::routes(chat.clone()).recover(chat_http::warp::recover);
                tokio::spawn(warp::serve(routes).incoming(listener).run())
            }
        };
        Server {
            addr,
            chat,
            task,
            path,
        }
    }

    /// The WebSocket URL.
    pub fn url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// Stops the server: sockets close with 1001, the accept loop ends, the store closes.
    pub async fn stop(self) -> (PathBuf, SocketAddr) {
        self.chat.shutdown();
        self.task.abort();
        let _ = self.task.await;
        self.chat
            .finish_shutdown(Duration::from_secs(10))
            .await
            .unwrap();
        (self.path, self.addr)
    }

    /// A new user and its bearer token.
    pub async fn user(&self, name: &str) -> (User, String) {
        let (user, token) = self
            .chat
            .service()
            .signup(name, "password-123")
            .await
            .unwrap();
        (user, token.as_str().to_owned())
    }
}

/// Users `ann` and `bob` (their bearer tokens) and the room `room`, created by ann.
pub async fn ann_bob_and_room(server: &Server, room: &str) -> (String, String) {
    let (ann, ann_token) = server.user("ann").await;
    let (_, bob_token) = server.user("bob").await;
    server
        .chat
        .service()
        .create_room(&ann, room, "the room")
        .await
        .unwrap();
    (ann_token, bob_token)
}

/// Binds `addr`, retrying while the old listener's port is still being released.
async fn bind(addr: Option<SocketAddr>) -> TcpListener {
    let Some(addr) = addr else {
        return TcpListener::bind("127.0.0.1:0").await.unwrap();
    };
    for _ in 0..100 {
        if let Ok(listener) = TcpListener::bind(addr).await {
            return listener;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("could not bind {addr} again");
}

/// A temporary directory and the database path in it.
pub fn database() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chat.db");
    (dir, path)
}

/// Client settings with short reconnect delays.
pub fn fast_config() -> Config {
    Config {
        backoff: BackoffConfig {
            initial: Duration::from_millis(50),
            max: Duration::from_millis(400),
            penalty: Duration::from_millis(500),
        },
        ..Config::default()
    }
}

/// A client with a bearer token and fast reconnects.
pub async fn connect(server: &Server, token: &str) -> (Client, Events) {
    Client::connect_with(&server.url(), Auth::bearer(token), fast_config())
        .await
        .unwrap()
}

/// The next event `pick` accepts, skipping others; panics after [`WAIT`].
pub async fn next_matching<T>(events: &mut Events, mut pick: impl FnMut(Event) -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let event = tokio::time::timeout_at(deadline, events.next())
            .await
            .expect("timed out waiting for an event")
            .expect("the events ended");
        if let Some(found) = pick(event) {
            return found;
        }
    }
}

/// The close code of the next `Disconnected` event.
pub async fn close_code(events: &mut Events) -> Option<u16> {
    next_matching(events, |e| match e {
        Event::Disconnected { code, .. } => Some(code),
        _ => None,
    })
    .await
}
