//! The warp adapter (feature `warp`): `routes(chat)` is one filter to combine with `.or(...)`.
//! It performs the WebSocket upgrade itself (hyper's `OnUpgrade` + tokio-tungstenite, the
//! same stack warp uses) because warp's `Ws` cannot set the read buffer size, which dominates
//! the memory of idle connections. Everything else is the framework-free layer.
//!
//! Serve it with `TCP_NODELAY` on accepted sockets (set it on each `TcpStream` before handing it
//! to `warp::serve(...).incoming(...)`), or an `ack` written right after a `message` waits for
//! the client's delayed ACK (about 40 ms on Linux).

use crate::chat::Accepted;
use crate::error::ApiError;
use crate::protocol::{WsIn, WsOut};
use crate::{ChatHttp, MountPath, PeerAddr};
use bytes::{Buf, Bytes};
use futures::{SinkExt, Stream, StreamExt};
use http::header::{CONNECTION, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, UPGRADE};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message, Utf8Bytes};
use warp::filters::path::{FullPath, Tail};
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

/// Every route of the chat: `GET /ws`, `/api/*`, `/healthz`, `/metrics` (when
/// `serve_metrics`) and the UI pages and `/static/{file}` (when `serve_ui`), below whatever
/// path filters come before it: `warp::path("chat").and(routes(chat))` mounts it at `/chat`,
/// and the UI and the session cookie follow. Any other path is
/// rejected as not found, so routes combined after it with `.or(...)` and the app's own
/// `recover` still see it; [`recover`] answers such rejections with the chat's JSON 404:
/// `chat_http::warp::routes(chat).or(app_routes).recover(chat_http::warp::recover)`.
pub fn routes(chat: ChatHttp) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    let with_chat = {
        let chat = chat.clone();
        warp::any().map(move || chat.clone())
    };
    // The path below the mount and the mount, for the routes that serve the path (others are
    // rejected as not found).
    let served = warp::path::full()
        .and(path())
        .and(with_chat.clone())
        .and_then(|full: FullPath, path: String, chat: ChatHttp| async move {
            if !chat.serves(&path) {
                return Err(warp::reject::not_found());
            }
            let mount = match path.as_str() {
                "/" => full.as_str().trim_end_matches('/'),
                _ => full
                    .as_str()
                    .strip_suffix(path.as_str())
                    .unwrap_or_default(),
            };
            Ok((path, MountPath(mount.to_owned())))
        });
    let query = warp::query::raw().or(warp::any().map(String::new)).unify();
    let ws = warp::path("ws")
        .and(warp::path::end())
        .and(warp::get())
        .and(with_chat.clone())
        .and(query)
        .and(warp::header::headers_cloned())
        .and(peer())
        .and(warp::ext::optional::<OnUpgrade>())
        .then(upgrade);
    let other = served
        .and(with_chat)
        .and(warp::method())
        .and(query)
        .and(warp::header::headers_cloned())
        .and(peer())
        .and(warp::body::stream())
        .then(handle);
    ws.or(other).unify()
}

/// The request's path below the filters before this one (`/api/me` for `/chat/api/me` under
/// `warp::path("chat")`), so the chat can be mounted under any prefix.
fn path() -> impl Filter<Extract = (String,), Error = Infallible> + Clone {
    warp::path::tail().map(|tail: Tail| format!("/{}", tail.as_str()))
}

/// Answers a request no route took with the chat's JSON 404 (`{"error":"not_found",...}`);
/// any other rejection is passed on to the next `recover`.
pub async fn recover(rejection: Rejection) -> Result<Response, Rejection> {
    if rejection.is_not_found() {
        Ok(to_warp(crate::dispatch::error_response(
            &ApiError::not_found(),
        )))
    } else {
        Err(rejection)
    }
}

/// The TCP peer: the server loop's [`PeerAddr`], else the address warp's own server knows.
fn peer() -> impl Filter<Extract = (Option<PeerAddr>,), Error = Infallible> + Clone {
    warp::ext::optional::<PeerAddr>()
        .and(warp::addr::remote())
        .map(|ext: Option<PeerAddr>, remote: Option<SocketAddr>| ext.or(remote.map(PeerAddr)))
}

fn to_warp(response: http::Response<Bytes>) -> Response {
    let (parts, body) = response.into_parts();
    Response::from_parts(parts, body.into())
}

async fn handle<S, B>(
    (path, mount): (String, MountPath),
    chat: ChatHttp,
    method: Method,
    query: String,
    headers: HeaderMap,
    peer: Option<PeerAddr>,
    body: S,
) -> Response
where
    S: Stream<Item = Result<B, warp::Error>> + Send + Unpin,
    B: Buf,
{
    let body = match chat.read_body(&headers, body).await {
        Ok(body) => body,
        Err(e) => return to_warp(chat.error_response(&e)),
    };
    let uri = if query.is_empty() {
        path
    } else {
        format!("{path}?{query}")
    };
    let mut request = http::Request::new(body);
    *request.method_mut() = method;
    *request.headers_mut() = headers;
    if let Some(peer) = peer {
        request.extensions_mut().insert(peer);
    }
    if !mount.0.is_empty() {
        request.extensions_mut().insert(mount);
    }
    match uri.parse() {
        Ok(uri) => *request.uri_mut() = uri,
        Err(_) => {
            let e = ApiError::bad_request("bad_request", "malformed request target");
            return to_warp(chat.error_response(&e));
        }
    }
    to_warp(chat.handle(request).await)
}

async fn upgrade(
    chat: ChatHttp,
    query: String,
    headers: HeaderMap,
    peer: Option<PeerAddr>,
    on_upgrade: Option<OnUpgrade>,
) -> Response {
    let mut head = http::Request::new(());
    *head.headers_mut() = headers;
    if let Ok(uri) = format!("/ws?{query}").parse() {
        *head.uri_mut() = uri;
    }
    let (head, ()) = head.into_parts();
    let headers = &head.headers;
    let accepted = match chat.accept_upgrade(&head, peer).await {
        Ok(accepted) => accepted,
        Err(e) => return to_warp(chat.error_response(&e)),
    };
    let is_websocket = headers
        .get(UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    let version_ok = headers
        .get("sec-websocket-version")
        .is_some_and(|v| v.as_bytes() == b"13");
    let (Some(key), Some(on_upgrade), true, true) = (
        headers.get(SEC_WEBSOCKET_KEY),
        on_upgrade,
        is_websocket,
        version_ok,
    ) else {
        let e = ApiError::new(
            StatusCode::UPGRADE_REQUIRED,
            "upgrade_required",
            "this endpoint only speaks WebSocket (version 13)",
        );
        let mut response = chat.error_response(&e);
        response
            .headers_mut()
            .insert(UPGRADE, HeaderValue::from_static("websocket"));
        return to_warp(response);
    };
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    let Ok(accept) = HeaderValue::from_str(&accept) else {
        return to_warp(chat.error_response(&ApiError::bad_request(
            "bad_request",
            "malformed Sec-WebSocket-Key",
        )));
    };
    let config = chat.config();
    let ws_config = WebSocketConfig::default()
        .read_buffer_size(config.read_buffer_bytes)
        .write_buffer_size(config.write_buffer_bytes)
        .max_message_size(Some(config.transport_max_message()))
        .max_frame_size(Some(config.transport_max_message()));
    let serving = chat.clone();
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => {
                let socket = WebSocketStream::from_raw_socket(
                    TokioIo::new(upgraded),
                    Role::Server,
                    Some(ws_config),
                )
                .await;
                // A task of its own: this one's state (the upgrade, the handshake's data) ends
                // here instead of staying beside every idle connection.
                tokio::spawn(serve(serving, accepted, socket));
            }
            Err(e) => tracing::debug!(error = %e, "websocket upgrade failed"),
        }
    });
    let mut response = http::Response::new(Bytes::new());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = response.headers_mut();
    h.insert(CONNECTION, HeaderValue::from_static("upgrade"));
    h.insert(UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(SEC_WEBSOCKET_ACCEPT, accept);
    chat.metrics()
        .record_request(101, std::time::Duration::ZERO);
    to_warp(response)
}

/// The connection's future. Not an `async fn`: the socket and the handshake's data are moved
/// into the engine here, so an idle connection's task does not also keep room for them.
fn serve<T>(
    chat: ChatHttp,
    accepted: Accepted,
    socket: WebSocketStream<T>,
) -> impl Future<Output = ()> + use<T>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sink, stream) = socket.split();
    let sink = sink.with(|out: WsOut| futures::future::ready(Ok::<_, WsError>(to_message(out))));
    let stream = stream.map(|item| item.map(from_message).or_else(from_error));
    chat.serve_accepted(accepted, Box::pin(sink), stream)
}

fn to_message(out: WsOut) -> Message {
    match out {
        WsOut::Text(bytes) => match Utf8Bytes::try_from(bytes) {
            Ok(text) => Message::Text(text),
            Err(e) => {
                tracing::error!(error = %e, "outgoing frame is not UTF-8");
                Message::Close(None)
            }
        },
        WsOut::Ping(bytes) => Message::Ping(bytes),
        WsOut::Close { code, reason } => Message::Close(Some(CloseFrame {
            code: CloseCode::from(code),
            reason: reason.into(),
        })),
    }
}

/// The read errors the engine answers with a close code of their own; any other error is a
/// lost connection.
fn from_error(e: WsError) -> Result<WsIn, WsError> {
    match e {
        WsError::Capacity(_) => Ok(WsIn::TooBig),
        WsError::Utf8(_) => Ok(WsIn::InvalidUtf8),
        e => Err(e),
    }
}

fn from_message(message: Message) -> WsIn {
    match message {
        Message::Text(text) => WsIn::Text(text.into()),
        Message::Binary(bytes) => WsIn::Binary(bytes),
        Message::Ping(bytes) => WsIn::Ping(bytes),
        Message::Pong(bytes) => WsIn::Pong(bytes),
        Message::Close(_) | Message::Frame(_) => WsIn::Close,
    }
}
