//! A minimal HTTP/1.1 client and request reader over plain TCP, enough for the JSON API calls the
//! load generator makes (signup, login, create room) and for the ceiling server to answer them
//! and upgrade `/ws` on the same port, without pulling an HTTP stack into the benchmarks.

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

/// Sends one request with `Connection: close` and reads the whole response, within `timeout`.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    bearer: Option<&str>,
    json_body: Option<&str>,
    timeout: Duration,
) -> Result<Response, BoxError> {
    tokio::time::timeout(
        timeout,
        request_inner(addr, method, path, bearer, json_body),
    )
    .await
    .map_err(|_| format!("{method} {path}: no response within {timeout:?}"))?
}

async fn request_inner(
    addr: SocketAddr,
    method: &str,
    path: &str,
    bearer: Option<&str>,
    json_body: Option<&str>,
) -> Result<Response, BoxError> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let body = json_body.unwrap_or("");
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAccept: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    if json_body.is_some() {
        head.push_str("Content-Type: application/json\r\n");
    }
    if let Some(token) = bearer {
        head.push_str("Authorization: Bearer ");
        head.push_str(token);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    head.push_str(body);
    stream.write_all(head.as_bytes()).await?;

    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 8192];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > MAX_HEAD + MAX_BODY {
            return Err("response too large".into());
        }
        // Stop early once a Content-Length body is complete (some servers keep the socket open).
        if let Some(total) = complete_length(&buf)?
            && buf.len() >= total
        {
            buf.truncate(total);
            break;
        }
    }
    parse_response(&buf)
}

/// With a complete head and a Content-Length: the total length of the response.
fn complete_length(buf: &[u8]) -> Result<Option<usize>, BoxError> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut resp = httparse::Response::new(&mut headers);
    match resp.parse(buf)? {
        httparse::Status::Partial => Ok(None),
        httparse::Status::Complete(head_len) => {
            let len = resp
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                .and_then(|h| std::str::from_utf8(h.value).ok())
                .and_then(|v| v.trim().parse::<usize>().ok());
            Ok(len.map(|l| head_len + l))
        }
    }
}

fn parse_response(buf: &[u8]) -> Result<Response, BoxError> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut resp = httparse::Response::new(&mut headers);
    let head_len = match resp.parse(buf)? {
        httparse::Status::Complete(n) => n,
        httparse::Status::Partial => return Err("incomplete HTTP response".into()),
    };
    let status = resp.code.ok_or("no status code")?;
    let headers: Vec<(String, String)> = resp
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_ascii_lowercase(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect();
    let raw = &buf[head_len..];
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.to_ascii_lowercase().contains("chunked"));
    let body = if chunked { dechunk(raw)? } else { raw.to_vec() };
    Ok(Response {
        status,
        headers,
        body,
    })
}

fn dechunk(mut raw: &[u8]) -> Result<Vec<u8>, BoxError> {
    let mut out = Vec::new();
    loop {
        let line_end = memchr::memmem::find(raw, b"\r\n").ok_or("bad chunk")?;
        let size_text = std::str::from_utf8(&raw[..line_end])?;
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16)?;
        raw = &raw[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        let data = raw.get(..size).ok_or("truncated chunk")?;
        out.extend_from_slice(data);
        raw = raw.get(size + 2..).ok_or("truncated chunk")?;
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_and_chunked_responses() {
        let plain = b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\nSet-Cookie: a=b\r\n\r\n{}";
        let r = parse_response(plain).unwrap();
        assert_eq!(r.status, 201);
        assert_eq!(r.body, b"{}");
        assert_eq!(r.header_values("set-cookie").collect::<Vec<_>>(), ["a=b"]);
        let chunked =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        assert_eq!(parse_response(chunked).unwrap().body, b"abcde");
        assert_eq!(
            complete_length(plain).unwrap(),
            Some(plain.len()),
            "content-length known"
        );
    }
}
