//! Getting ready to load a server: sign up (or log in) the generator's users through the JSON
//! API, create its rooms, and open authenticated WebSocket connections.

use crate::BoxError;
use crate::http1;
use crate::wire::{FrameKind, Scanner};
use futures::{SinkExt, StreamExt, TryStreamExt};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

/// A client WebSocket over plain TCP.
pub type Ws = WebSocketStream<TcpStream>;

/// How long one API call or handshake may take.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Signs up `count` users named `{prefix}-u{i}` (logging in those that already exist) with up to
/// `concurrency` calls in flight, and returns one bearer token per user.
pub async fn tokens(
    addr: SocketAddr,
    prefix: &str,
    password: &str,
    count: usize,
    concurrency: usize,
) -> Result<Vec<String>, BoxError> {
    futures::stream::iter(0..count)
        .map(|i| {
            let username = format!("{prefix}-u{i}");
            async move { token_for(addr, &username, password).await }
        })
        .buffered(concurrency.max(1))
        .try_collect()
        .await
}

async fn token_for(addr: SocketAddr, username: &str, password: &str) -> Result<String, BoxError> {
    let body = serde_json::json!({"username": username, "password": password}).to_string();
    let signup =
        http1::request(addr, "POST", "/api/signup", None, Some(&body), CALL_TIMEOUT).await?;
    let response = if (200..300).contains(&signup.status) {
        signup
    } else if signup.status == 409 {
        let login =
            http1::request(addr, "POST", "/api/login", None, Some(&body), CALL_TIMEOUT).await?;
        if !(200..300).contains(&login.status) {
            return Err(format!("login {username}: HTTP {} {}", login.status, login.text()).into());
        }
        login
    } else {
        return Err(format!(
            "signup {username}: HTTP {} {}",
            signup.status,
            signup.text()
        )
        .into());
    };
    extract_token(&response).ok_or_else(|| {
        format!(
            "no token in the response for {username}: {}",
            response.text()
        )
        .into()
    })
}

/// The bearer token of a signup/login response: a `token` string anywhere in the JSON body, or
/// else the `chat_session` cookie.
pub fn extract_token(response: &http1::Response) -> Option<String> {
    fn find(value: &serde_json::Value) -> Option<String> {
        match value {
            serde_json::Value::Object(map) => {
                if let Some(serde_json::Value::String(t)) = map.get("token") {
                    return Some(t.clone());
                }
                map.values().find_map(find)
            }
            serde_json::Value::Array(items) => items.iter().find_map(find),
            _ => None,
        }
    }
    if let Ok(json) = serde_json::from_slice::<serde_json::Value>(&response.body)
        && let Some(t) = find(&json)
    {
        return Some(t);
    }
    response.header_values("set-cookie").find_map(|c| {
        let first = c.split(';').next()?.trim();
        first.strip_prefix("chat_session=").map(str::to_owned)
    })
}

/// Creates the room (an existing one is fine).
pub async fn create_room(addr: SocketAddr, token: &str, name: &str) -> Result<(), BoxError> {
    let body = serde_json::json!({"name": name, "description": "load generator room"}).to_string();
    let r = http1::request(
        addr,
        "POST",
        "/api/rooms",
        Some(token),
        Some(&body),
        CALL_TIMEOUT,
    )
    .await?;
    if (200..300).contains(&r.status) || r.status == 409 {
        Ok(())
    } else {
        Err(format!("create room {name}: HTTP {} {}", r.status, r.text()).into())
    }
}

/// Opens `GET /ws` (`/ws?batch=1` with `batch`: the server may join frames, one per line) with
/// `Authorization: Bearer <token>` and waits for the server's `hello` (when it sends one within
/// a second of the handshake).
pub async fn connect(
    addr: SocketAddr,
    token: &str,
    config: WebSocketConfig,
    scanner: &Scanner,
    batch: bool,
) -> Result<Ws, BoxError> {
    tokio::time::timeout(CALL_TIMEOUT, async {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let query = if batch { "?batch=1" } else { "" };
        let mut request = format!("ws://{addr}/ws{query}").into_client_request()?;
        request.headers_mut().insert(
            "Authorization",
            HeaderValue::from_str(&format!("Bearer {token}"))?,
        );
        let (mut ws, _) =
            tokio_tungstenite::client_async_with_config(request, stream, Some(config))
                .await
                .map_err(|e| format!("WebSocket handshake: {e}"))?;
        // The hello proves the connection is authenticated and fully set up server-side.
        match tokio::time::timeout(Duration::from_secs(5), next_text(&mut ws)).await {
            Ok(Ok(text)) => match scanner.classify(lines(text.as_bytes()).next().unwrap_or(b"")) {
                FrameKind::Hello => {}
                FrameKind::Error => return Err(format!("server error: {text}").into()),
                _ => {}
            },
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err("no hello frame within 5 s".into()),
        }
        Ok::<Ws, BoxError>(ws)
    })
    .await
    .map_err(|_| -> BoxError { "connect timed out".into() })?
}

/// The next text frame (pings are answered by tungstenite as a side effect of reading).
pub async fn next_text(ws: &mut Ws) -> Result<Utf8Bytes, BoxError> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => return Ok(t),
            Some(Ok(Message::Close(c))) => return Err(format!("closed by server: {c:?}").into()),
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e.into()),
            None => return Err("connection closed".into()),
        }
    }
}

/// Sends `join` for `room` and waits for its `joined` (other frames are skipped).
pub async fn join(ws: &mut Ws, room: &str, scanner: &Scanner) -> Result<(), BoxError> {
    let frame = serde_json::json!({"type": "join", "room": room}).to_string();
    ws.send(Message::Text(Utf8Bytes::from(frame))).await?;
    tokio::time::timeout(CALL_TIMEOUT, async {
        loop {
            let text = next_text(ws).await?;
            for line in lines(text.as_bytes()) {
                match scanner.classify(line) {
                    FrameKind::Joined => return Ok(()),
                    FrameKind::Error => return Err(format!("join {room}: {text}").into()),
                    _ => {}
                }
            }
        }
    })
    .await
    .map_err(|_| -> BoxError { format!("join {room}: no joined frame").into() })?
}

/// The server frames in one text frame: one per line when the connection batches, else the
/// whole frame (a server frame never holds a raw newline). memchr, not `split`: a byte-by-byte
/// split of every frame was 12% of the generator's CPU at 800k deliveries/s (perf).
pub fn lines(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let t = rest?;
        match memchr::memchr(b'\n', t) {
            Some(i) => {
                rest = t.get(i + 1..);
                t.get(..i)
            }
            None => {
                rest = None;
                Some(t)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::lines;

    #[test]
    fn lines_split_on_newlines_only() {
        let split = |t: &str| -> Vec<String> {
            lines(t.as_bytes())
                .map(|l| String::from_utf8(l.to_vec()).unwrap_or_default())
                .collect()
        };
        assert_eq!(split(r#"{"a":1}"#), [r#"{"a":1}"#]);
        assert_eq!(
            split("{\"a\":\"x\\ny\"}\n{}\n[]"),
            ["{\"a\":\"x\\ny\"}", "{}", "[]"]
        );
        assert_eq!(split("a\n"), ["a", ""]);
        assert_eq!(split(""), [""]);
    }
}
