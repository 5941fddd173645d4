//! Test helpers for the reference server binaries (feature `testing`): start one on a free
//! 127.0.0.1 port with an in-memory database, probe it over raw TCP, and the connection-limit
//! checks both servers' tests run against their own binary. Every wait is bounded, and a
//! started server is killed when its [`ServerProcess`] is dropped.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

/// How long a server may take to answer `/healthz` after it was started.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// How long one probe may wait for an answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

/// A running server binary, killed when dropped.
#[derive(Debug)]
pub struct ServerProcess {
    /// Where it listens.
    pub addr: SocketAddr,
    child: Child,
    log: PathBuf,
}

impl ServerProcess {
    /// Starts `exe serve` on a free 127.0.0.1 port with `--database memory`, `args` and the
    /// environment `envs` (the caller's own `CHAT_*` variables are removed), and waits for
    /// `/healthz`. Panics, with the server's log, when it does not come up.
    pub async fn start(exe: &str, args: &[&str], envs: &[(&str, &str)]) -> ServerProcess {
        let mut last_error = String::new();
        for attempt in 0..3 {
            let addr = free_port();
            let log = std::env::temp_dir().join(format!(
                "server-common-test-{}-{}-{attempt}.log",
                std::process::id(),
                addr.port()
            ));
            let out = std::fs::File::create(&log)
                .unwrap_or_else(|e| panic!("cannot create {}: {e}", log.display()));
            let err = out
                .try_clone()
                .unwrap_or_else(|e| panic!("cannot share {}: {e}", log.display()));
            let mut command = Command::new(exe);
            for (key, _) in std::env::vars_os() {
                if key.to_string_lossy().starts_with("CHAT_") {
                    command.env_remove(key);
                }
            }
            command
                .args(["--database", "memory", "--log", "warn", "serve", "--bind"])
                .arg(addr.to_string())
                .args(args)
                .envs(envs.iter().copied())
                .env("NO_COLOR", "1")
                .stdin(Stdio::null())
                .stdout(Stdio::from(out))
                .stderr(Stdio::from(err))
                .kill_on_drop(true);
            let child = command
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {exe}: {e}"));
            let mut server = ServerProcess { addr, child, log };
            match server.wait_healthy().await {
                Ok(()) => return server,
                Err(e) => {
                    server.kill().await;
                    last_error = format!("{e}\n--- server log ---\n{}", server.log_text());
                    if !last_error.contains("cannot listen") {
                        break;
                    }
                }
            }
        }
        panic!("{exe} did not start: {last_error}");
    }

    async fn wait_healthy(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("the server exited early: {status}"));
            }
            if let Ok(200) = get(self.addr, "/healthz").await {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("not healthy within {START_TIMEOUT:?}"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The server's output so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Kills the server (SIGKILL) and reaps it; harmless when it is gone already.
    pub async fn kill(&mut self) {
        let _ = self.child.start_kill();
        let _ = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// A port on 127.0.0.1 that was free a moment ago.
fn free_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap_or_else(|e| panic!("cannot bind 127.0.0.1:0: {e}"));
    listener
        .local_addr()
        .unwrap_or_else(|e| panic!("no local address: {e}"))
}

/// `GET path` on a new connection (`Connection: close`); the status code.
pub async fn get(addr: SocketAddr, path: &str) -> Result<u16, String> {
    let mut stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect {addr}: {e}"))?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("write: {e}"))?;
    let mut response = Vec::new();
    tokio::time::timeout(ANSWER_TIMEOUT, stream.read_to_end(&mut response))
        .await
        .map_err(|_| format!("GET {path}: no answer within {ANSWER_TIMEOUT:?}"))?
        .map_err(|e| format!("read: {e}"))?;
    status_of(&response)
}

/// Sends `GET path` on a kept-alive connection and reads one response (the server's
/// responses carry `Content-Length`); the status code. The connection stays usable.
pub async fn get_keep_alive(stream: &mut TcpStream, path: &str) -> Result<u16, String> {
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("write: {e}"))?;
    tokio::time::timeout(ANSWER_TIMEOUT, read_response(stream))
        .await
        .map_err(|_| format!("GET {path}: no answer within {ANSWER_TIMEOUT:?}"))?
}

/// Reads one response head and its `Content-Length` body; the status code.
async fn read_response(stream: &mut TcpStream) -> Result<u16, String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err(format!(
                "closed mid-response: {:?}",
                String::from_utf8_lossy(&buf)
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| format!("no content-length in {head:?}"))?;
    let mut have = buf.len() - head_end;
    while have < length {
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err("closed mid-body".to_owned());
        }
        have += n;
    }
    status_of(&buf)
}

fn status_of(response: &[u8]) -> Result<u16, String> {
    let text = String::from_utf8_lossy(response);
    text.strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("not an HTTP response: {text:?}"))
}

/// Reads (and discards) until the server closes the connection; how long that took.
/// `Err` when it is still open after `limit`.
pub async fn time_until_closed(
    stream: &mut TcpStream,
    limit: Duration,
) -> Result<Duration, String> {
    let started = Instant::now();
    let mut chunk = [0u8; 1024];
    let closed = tokio::time::timeout(limit, async {
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    match closed {
        Ok(()) => Ok(started.elapsed()),
        Err(_) => Err(format!("the connection is still open after {limit:?}")),
    }
}

/// Checks the header-read timeout of a server started with `--header-read-timeout 1`: a
/// connection that sends half a request head, and one that sends nothing, are closed after
/// about a second, while a complete request is answered.
pub async fn check_header_read_timeout(server: &ServerProcess) {
    assert_eq!(get(server.addr, "/healthz").await, Ok(200));
    let mut partial = connect(server.addr).await;
    partial
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .unwrap_or_else(|e| panic!("write: {e}"));
    let mut silent = connect(server.addr).await;
    let limit = Duration::from_secs(10);
    let (partial, silent) = tokio::join!(
        time_until_closed(&mut partial, limit),
        time_until_closed(&mut silent, limit)
    );
    for (what, closed) in [("half a head", partial), ("nothing", silent)] {
        let took = closed.unwrap_or_else(|e| panic!("a client that sent {what}: {e}"));
        assert!(
            took >= Duration::from_millis(500),
            "a client that sent {what} was closed after {took:?}, before the timeout"
        );
    }
}

/// Checks the cap of a server started with at most 2 connections: a third one is held (no
/// answer) while two are open, and served once one of them closes.
pub async fn check_connection_cap(server: &ServerProcess) {
    let mut first = connect(server.addr).await;
    let mut second = connect(server.addr).await;
    assert_eq!(get_keep_alive(&mut first, "/healthz").await, Ok(200));
    assert_eq!(get_keep_alive(&mut second, "/healthz").await, Ok(200));

    // The kernel completes the handshake (backlog), but the server does not accept it yet.
    let mut third = connect(server.addr).await;
    third
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap_or_else(|e| panic!("write: {e}"));
    let mut byte = [0u8; 1];
    let early = tokio::time::timeout(Duration::from_secs(1), third.read(&mut byte)).await;
    assert!(
        early.is_err(),
        "a connection above the cap was answered: {early:?}"
    );

    drop(first);
    let status = tokio::time::timeout(ANSWER_TIMEOUT, read_response(&mut third))
        .await
        .unwrap_or_else(|_| panic!("the held connection was not served after one closed"));
    assert_eq!(status, Ok(200));
    assert_eq!(get_keep_alive(&mut second, "/healthz").await, Ok(200));
}

/// A new connection to `addr`.
pub async fn connect(addr: SocketAddr) -> TcpStream {
    tokio::time::timeout(ANSWER_TIMEOUT, TcpStream::connect(addr))
        .await
        .unwrap_or_else(|_| panic!("connect {addr}: timed out"))
        .unwrap_or_else(|e| panic!("connect {addr}: {e}"))
}
