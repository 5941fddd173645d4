//! A WebSocket client of the chat protocol (docs/PROTOCOL.md) for tests that run a server:
//! connect with a bearer token (or any headers), send frames, receive JSON frames with a
//! timeout, and tell "the node went away" apart from "nothing arrived in time", which the
//! multi-node test's node-kill scenario depends on.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::missing_panics_doc)]

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long any single expected frame may take.
pub const WAIT: Duration = Duration::from_secs(20);

/// Why [`Ws::recv`] returned no frame.
#[derive(Debug)]
pub enum RecvError {
    /// Nothing arrived in time.
    Timeout,
    /// The connection ended (close frame, EOF or transport error).
    Closed(String),
}

/// One message of a room as a client saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Msg {
    /// The message's seq in its room.
    pub seq: i64,
    /// Its body.
    pub body: String,
    /// Its author's username.
    pub author: String,
}

impl Msg {
    /// The message carried by `frame` if it is a `message` frame of `room`.
    pub fn of(frame: &Value, room: &str) -> Option<Msg> {
        if frame["type"] != "message" || frame["room"] != room {
            return None;
        }
        Some(Msg {
            seq: frame["seq"].as_i64().expect("message frame without seq"),
            body: frame["body"].as_str().unwrap_or_default().to_owned(),
            author: frame["author"].as_str().unwrap_or_default().to_owned(),
        })
    }
}

/// A connected, authenticated WebSocket (the `hello` frame already consumed).
pub struct Ws {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// Who this is, for failure messages (`alice@A`).
    pub label: String,
}

impl Ws {
    /// Connects to `ws://addr/ws` with `Authorization: Bearer token` and waits for `hello`.
    pub async fn connect(addr: SocketAddr, token: &str, label: &str) -> Result<Ws, String> {
        let bearer = format!("Bearer {token}");
        Ws::connect_to(
            &format!("ws://{addr}/ws"),
            &[("authorization", &bearer)],
            label,
        )
        .await
    }

    /// Connects to the WebSocket `url` with the request headers `headers` (a cookie, an
    /// `Origin`...) and waits for `hello`.
    pub async fn connect_to(
        url: &str,
        headers: &[(&str, &str)],
        label: &str,
    ) -> Result<Ws, String> {
        let mut request = url
            .into_client_request()
            .map_err(|e| format!("{label}: {e}"))?;
        for (name, value) in headers {
            let name = http::HeaderName::from_bytes(name.as_bytes()).map_err(|e| e.to_string())?;
            let value = http::HeaderValue::from_str(value).map_err(|e| e.to_string())?;
            request.headers_mut().insert(name, value);
        }
        // TCP_NODELAY on the client: small frames go out at once, not after the peer's ACK.
        let connect = tokio_tungstenite::connect_async_with_config(request, None, true);
        let (socket, _) = tokio::time::timeout(WAIT, connect)
            .await
            .map_err(|_| format!("{label}: WebSocket handshake timed out"))?
            .map_err(|e| format!("{label}: WebSocket handshake failed: {e}"))?;
        let mut ws = Ws {
            socket,
            label: label.to_owned(),
        };
        let hello = ws
            .recv(WAIT)
            .await
            .map_err(|e| format!("{label}: no hello: {e:?}"))?;
        if hello["type"] != "hello" {
            return Err(format!("{label}: expected hello, got {hello}"));
        }
        Ok(ws)
    }

    /// Sends one frame.
    pub async fn send(&mut self, frame: Value) -> Result<(), String> {
        self.socket
            .send(Message::text(frame.to_string()))
            .await
            .map_err(|e| format!("{}: send failed: {e}", self.label))
    }

    /// The next JSON frame, skipping WebSocket control frames.
    pub async fn recv(&mut self, wait: Duration) -> Result<Value, RecvError> {
        loop {
            let next = tokio::time::timeout(wait, self.socket.next())
                .await
                .map_err(|_| RecvError::Timeout)?;
            match next {
                None => return Err(RecvError::Closed("end of stream".to_owned())),
                Some(Err(e)) => return Err(RecvError::Closed(e.to_string())),
                Some(Ok(Message::Text(text))) => {
                    return Ok(serde_json::from_str(text.as_str()).unwrap_or_else(|e| {
                        panic!("{}: frame is not JSON ({e}): {}", self.label, text.as_str())
                    }));
                }
                Some(Ok(Message::Close(frame))) => {
                    return Err(RecvError::Closed(format!("close frame {frame:?}")));
                }
                Some(Ok(Message::Binary(_))) => panic!("{}: unexpected binary frame", self.label),
                Some(Ok(_)) => {}
            }
        }
    }

    /// The next frame; panics (naming this client) on timeout or close.
    pub async fn expect_frame(&mut self) -> Value {
        match self.recv(WAIT).await {
            Ok(frame) => frame,
            Err(e) => panic!("{}: expected a frame: {e:?}", self.label),
        }
    }

    /// The next frame of type `kind`, skipping others; panics on timeout or close.
    pub async fn next_of(&mut self, kind: &str) -> Value {
        loop {
            let frame = self.expect_frame().await;
            if frame["type"] == kind {
                return frame;
            }
        }
    }

    /// Sends `join` (with `after_seq` when given) and returns the `joined` frame. Other frames
    /// before it (presence of other rooms, ...) are skipped; an `error` frame panics.
    pub async fn join(&mut self, room: &str, after_seq: Option<i64>) -> Value {
        let mut frame = json!({"type": "join", "room": room});
        if let Some(after) = after_seq {
            frame["after_seq"] = json!(after);
        }
        self.send(frame).await.unwrap();
        loop {
            let frame = self.expect_frame().await;
            match frame["type"].as_str() {
                Some("joined") if frame["room"] == room => return frame,
                Some("error") => panic!("{}: join {room} refused: {frame}", self.label),
                _ => {}
            }
        }
    }

    /// Closes the connection politely (errors ignored: the node may be gone).
    pub async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), self.socket.close(None)).await;
    }
}

/// Panics unless `got` holds exactly the seqs `first..=last`, each once, in increasing order.
pub fn assert_exactly_once_in_order(who: &str, got: &[Msg], first: i64, last: i64) {
    let seqs: Vec<i64> = got.iter().map(|m| m.seq).collect();
    let expected: Vec<i64> = (first..=last).collect();
    if seqs == expected {
        return;
    }
    let at = seqs
        .iter()
        .zip(&expected)
        .position(|(a, b)| a != b)
        .unwrap_or(seqs.len().min(expected.len()));
    let lo = at.saturating_sub(3);
    panic!(
        "{who}: expected seqs {first}..={last} exactly once in order; got {} messages, \
         first difference at index {at}: got {:?}, expected {:?}",
        seqs.len(),
        &seqs[lo..(at + 4).min(seqs.len())],
        &expected[lo..(at + 4).min(expected.len())],
    );
}
