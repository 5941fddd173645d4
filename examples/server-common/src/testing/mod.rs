//! Test helpers for the reference server binaries (feature `testing`): start one on a free
//! 127.0.0.1 port with an in-memory database, call its API (reqwest), probe it over raw TCP,
//! and the connection-limit checks both servers' tests run against their own binary. Every wait is bounded, and a
//! started server is killed when its [`ServerProcess`] is dropped.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
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
    /// Whether the log is this process's own, removed when it is dropped.
    own_log: bool,
}

/// How [`ServerProcess::launch`] starts a server: `exe --database DATABASE --log FILTER serve
/// --bind ADDR ARGS...` with the environment `envs` (the caller's own `CHAT_*` variables are
/// removed).
#[derive(Debug, Clone, Copy)]
pub struct Launch<'a> {
    /// The server binary.
    pub exe: &'a str,
    /// `--database`: `memory`, a SQLite path or a PostgreSQL URL.
    pub database: &'a str,
    /// `--log`: the log filter.
    pub log_filter: &'a str,
    /// Arguments after `serve --bind ADDR`.
    pub args: &'a [&'a str],
    /// Environment variables.
    pub envs: &'a [(&'a str, &'a str)],
    /// Where its output goes (kept); `None`: a temporary file removed when it is dropped.
    pub log: Option<&'a Path>,
}

impl ServerProcess {
    /// Starts `exe serve` on a free 127.0.0.1 port with `--database memory`, `args` and the
    /// environment `envs` (see [`ServerProcess::launch`]).
    pub async fn start(exe: &str, args: &[&str], envs: &[(&str, &str)]) -> ServerProcess {
        ServerProcess::launch(Launch {
            exe,
            database: "memory",
            log_filter: "warn",
            args,
            envs,
            log: None,
        })
        .await
    }

    /// Starts a server on a free 127.0.0.1 port as `launch` says and waits for `/healthz`.
    /// Panics, with the server's log, when it does not come up.
    pub async fn launch(launch: Launch<'_>) -> ServerProcess {
        let exe = launch.exe;
        let mut last_error = String::new();
        for attempt in 0..3 {
            let addr = free_port();
            let (log, own_log) = match launch.log {
                Some(log) => (log.to_owned(), false),
                None => {
                    let name = format!(
                        "server-common-test-{}-{}-{attempt}.log",
                        std::process::id(),
                        addr.port()
                    );
                    (std::env::temp_dir().join(name), true)
                }
            };
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
                .args(["--database", launch.database, "--log", launch.log_filter])
                .args(["serve", "--bind"])
                .arg(addr.to_string())
                .args(launch.args)
                .envs(launch.envs.iter().copied())
                // Plain text in the log file (tracing-subscriber honours NO_COLOR).
                .env("NO_COLOR", "1")
                .stdin(Stdio::null())
                .stdout(Stdio::from(out))
                .stderr(Stdio::from(err))
                .kill_on_drop(true);
            let child = command
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {exe}: {e}"));
            let mut server = ServerProcess {
                addr,
                child,
                log,
                own_log,
            };
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
            if let Ok(200) = get(self.addr, "/healthz").await
                && let Ok(None) = self.child.try_wait()
            {
                // A 200 from someone else on the port (this server failed to bind) is no proof.
                if self.log_text().contains("cannot listen") {
                    return Err(format!("cannot listen on {}", self.addr));
                }
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

    /// SIGTERM (the graceful shutdown an operator's `kill` or a service manager asks for),
    /// then waits up to `wait` for the process to exit; returns its exit status.
    pub async fn terminate(&mut self, wait: Duration) -> std::process::ExitStatus {
        let pid = self
            .child
            .id()
            .unwrap_or_else(|| panic!("the server on {} has exited already", self.addr));
        let sent = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .await
            .unwrap_or_else(|e| panic!("cannot run `kill`: {e}"));
        assert!(sent.success(), "kill -TERM {pid} failed: {sent}");
        tokio::time::timeout(wait, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("the server still runs {wait:?} after SIGTERM"))
            .unwrap_or_else(|e| panic!("cannot reap the server: {e}"))
    }

    /// Kills the server (SIGKILL: no graceful shutdown, sockets and database connections just
    /// drop) and reaps it; harmless when it is gone already.
    pub async fn kill(&mut self) {
        let _ = self.child.start_kill();
        let _ = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        if self.own_log {
            let _ = std::fs::remove_file(&self.log);
        }
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

/// How long one request may take, connect to last byte.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// A response: status and body.
#[derive(Debug)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// The body as text, lossily.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; panics with the body when it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

/// Sends one request on a new connection and reads the whole response. `token` becomes
/// `Authorization: Bearer`, `body` a JSON body.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&serde_json::Value>,
) -> Result<Response, String> {
    let fail = |e: reqwest::Error| format!("{method} {path} on {addr}: {e}");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(REQUEST_TIMEOUT)
        .build()
        .map_err(fail)?;
    let method = reqwest::Method::from_bytes(method.as_bytes())
        .map_err(|e| format!("{method} {path} on {addr}: {e}"))?;
    let mut request = client
        .request(method, format!("http://{addr}{path}"))
        .header(reqwest::header::ACCEPT, "application/json");
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string());
    }
    let response = request.send().await.map_err(fail)?;
    let status = response.status().as_u16();
    let body = response.bytes().await.map_err(fail)?.to_vec();
    Ok(Response { status, body })
}

/// [`request`] that panics on transport errors (the status is the caller's to check).
pub async fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&serde_json::Value>,
) -> Response {
    request(addr, method, path, token, body)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// `GET path` on a new connection; the status code.
pub async fn get(addr: SocketAddr, path: &str) -> Result<u16, String> {
    Ok(request(addr, "GET", path, None, None).await?.status)
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
