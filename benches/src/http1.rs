//! HTTP/1.1 for the benchmarks: the JSON API calls the load generators make (signup, login,
//! create room; reqwest, one connection per call), and a minimal request reader over plain TCP
//! for the ceiling server to answer them and upgrade `/ws` on the same port.

use crate::BoxError;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Largest request or response head accepted.
const MAX_HEAD: usize = 16 * 1024;
/// Largest response body accepted.
const MAX_BODY: usize = 1024 * 1024;

/// A response: status, headers (names lower-cased) and body.
#[derive(Debug, Clone)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// Headers in order, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

impl Response {
    /// Every value of a header (`name` lower-case).
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as text, lossily.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends one request on a new connection and reads the whole response, within `timeout`.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    bearer: Option<&str>,
    json_body: Option<&str>,
    timeout: Duration,
) -> Result<Response, BoxError> {
    let mut request = client()?
        .request(
            reqwest::Method::from_bytes(method.as_bytes())?,
            format!("http://{addr}{path}"),
        )
        .timeout(timeout)
        .header(reqwest::header::ACCEPT, "application/json");
    if let Some(body) = json_body {
        request = request
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_owned());
    }
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let response = request
        .send()
        .await
        .map_err(|e| format!("{method} {path}: {e}"))?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = response
        .bytes()
        .await
        .map_err(|e| format!("{method} {path}: {e}"))?;
    if body.len() > MAX_BODY {
        return Err(format!("{method} {path}: response too large").into());
    }
    Ok(Response {
        status,
        headers,
        body: body.to_vec(),
    })
}

/// The client of [`request`]: one connection per request (no pool), redirects not followed.
fn client() -> Result<&'static reqwest::Client, BoxError> {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    if let Some(client) = CLIENT.get() {
        return Ok(client);
    }
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .redirect(reqwest::redirect::Policy::none())
        .tcp_nodelay(true)
        .build()?;
    Ok(CLIENT.get_or_init(|| client))
}

/// A request head read by a server.
#[derive(Debug, Clone)]
pub struct RequestHead {
    /// Method, e.g. `GET`.
    pub method: String,
    /// Path with query.
    pub path: String,
    /// Headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// Bytes read past the head (the start of the body, or early WebSocket frames).
    pub rest: Vec<u8>,
}

impl RequestHead {
    /// The first value of a header (`name` lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Reads a request head from `stream`. `Ok(None)` when the peer closed before sending one.
pub async fn read_request_head(stream: &mut TcpStream) -> Result<Option<RequestHead>, BoxError> {
    // Read straight into the Vec: a stack buffer would live in every connection's task.
    let mut buf = Vec::with_capacity(1024);
    loop {
        if buf.len() == buf.capacity() {
            buf.reserve(1024);
        }
        let n = stream.read_buf(&mut buf).await?;
        if n == 0 {
            return Ok(None);
        }
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(&buf)? {
            httparse::Status::Partial => {
                if buf.len() > MAX_HEAD {
                    return Err("request head too large".into());
                }
            }
            httparse::Status::Complete(head_len) => {
                return Ok(Some(RequestHead {
                    method: req.method.unwrap_or("").to_owned(),
                    path: req.path.unwrap_or("").to_owned(),
                    headers: req
                        .headers
                        .iter()
                        .map(|h| {
                            (
                                h.name.to_ascii_lowercase(),
                                String::from_utf8_lossy(h.value).into_owned(),
                            )
                        })
                        .collect(),
                    rest: buf[head_len..].to_vec(),
                }));
            }
        }
    }
}

/// Reads the rest of a request body announced by Content-Length (bounded), then discards it.
pub async fn drain_body(stream: &mut TcpStream, head: &RequestHead) -> Result<Vec<u8>, BoxError> {
    let len = head
        .header("content-length")
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0)
        .min(MAX_BODY);
    let mut body = head.rest.clone();
    body.reserve(len.saturating_sub(body.len()));
    while body.len() < len {
        // Straight into the Vec: no stack buffer in the caller's future.
        if stream.read_buf(&mut body).await? == 0 {
            break;
        }
    }
    Ok(body)
}

/// Writes a complete JSON response with `Connection: close`.
pub async fn write_json(
    stream: &mut TcpStream,
    status: u16,
    reason: &str,
    extra_headers: &str,
    body: &str,
) -> Result<(), BoxError> {
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n{extra_headers}\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await?;
    Ok(())
}
