//! The axum adapter (feature `axum`): `router(chat)` mounts every route with one
//! `Router::merge`. It only upgrades WebSockets (after [`ChatHttp::accept_upgrade`]) and
//! converts requests and responses; everything else is the framework-free layer.
//!
//! Serve it with `TCP_NODELAY` on accepted sockets, or an `ack` written right after a `message`
//! waits for the client's delayed ACK (about 40 ms on Linux): with axum's own server,
//! `axum::serve(listener.tap_io(|s| { let _ = s.set_nodelay(true); }), app)`
//! (`axum::serve::ListenerExt`).

use crate::chat::Accepted;
use crate::error::ApiError;
use crate::protocol::{WsIn, WsOut};
use crate::{ChatHttp, MountPath, PeerAddr};
use axum::Router;
use axum::body::Body;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, FromRequestParts, OriginalUri, Request, State};
use axum::response::Response;
use axum::routing::{any, get};
use futures::{SinkExt, StreamExt};
use std::future::Future;
use std::net::SocketAddr;
use tokio_tungstenite::tungstenite::Error as WsError;

/// Every route of the chat: `GET /ws`, `/api/*`, `/healthz`, `/metrics` (when
/// `serve_metrics`) and the UI pages and `/static/{*file}` (when `serve_ui`). Merge it into an
/// app of any state type, `app.merge(chat_http::axum::router(chat))`, or nest it,
/// `app.nest("/chat", chat_http::axum::router(chat))`: the UI and the session cookie follow
/// the mount. The chat's start page is then `/chat` (axum's `nest` does not route `/chat/`).
pub fn router<S>(chat: ChatHttp) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let mut router = Router::<ChatHttp>::new()
        .route("/ws", get(upgrade))
        .route("/api/{*rest}", any(handle))
        .route("/healthz", any(handle));
    if chat.config().serve_metrics {
        router = router.route("/metrics", any(handle));
    }
    if chat.config().serve_ui {
        let pages = crate::ui::PAGES.into_iter();
        let pages = pages.filter(|page| chat.serves(page));
        for path in pages.chain(["/rooms/{name}", "/static/{*file}"]) {
            router = router.route(path, any(handle));
        }
    }
    router.with_state(chat)
}

fn to_axum(response: http::Response<bytes::Bytes>) -> Response {
    response.map(Body::from)
}

/// The TCP peer: the server loop's [`PeerAddr`], or axum's `ConnectInfo` when the app serves
/// with `into_make_service_with_connect_info::<SocketAddr>()`.
fn peer(parts: &http::request::Parts) -> Option<PeerAddr> {
    parts.extensions.get::<PeerAddr>().copied().or_else(|| {
        parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| PeerAddr(c.0))
    })
}

/// Where `Router::nest` mounted the chat: the original path (axum's `OriginalUri`) less the
/// path the chat's router sees.
fn mount(parts: &http::request::Parts) -> Option<MountPath> {
    let original = parts.extensions.get::<OriginalUri>()?.path();
    let inner = parts.uri.path();
    let mount = match inner {
        "/" => original.trim_end_matches('/'),
        _ => original.strip_suffix(inner)?,
    };
    (!mount.is_empty()).then(|| MountPath(mount.to_owned()))
}

async fn handle(State(chat): State<ChatHttp>, request: Request) -> Response {
    let (mut parts, body) = request.into_parts();
    if let Some(peer) = peer(&parts) {
        parts.extensions.insert(peer);
    }
    if let Some(mount) = mount(&parts) {
        parts.extensions.insert(mount);
    }
    let body = match chat
        .read_body(&parts.headers, body.into_data_stream())
        .await
    {
        Ok(body) => body,
        Err(e) => return to_axum(chat.error_response(&e)),
    };
    to_axum(chat.handle(http::Request::from_parts(parts, body)).await)
}

async fn upgrade(State(chat): State<ChatHttp>, request: Request) -> Response {
    let (mut parts, _) = request.into_parts();
    let accepted = match chat.accept_upgrade(&parts, peer(&parts)).await {
        Ok(accepted) => accepted,
        Err(e) => return to_axum(chat.error_response(&e)),
    };
    let ws = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(ws) => ws,
        Err(rejection) => {
            let e = ApiError::new(
                rejection.status(),
                "upgrade_required",
                rejection.body_text(),
            );
            return to_axum(chat.error_response(&e));
        }
    };
    chat.metrics()
        .record_request(101, std::time::Duration::ZERO);
    let config = chat.config();
    ws.read_buffer_size(config.read_buffer_bytes)
        .write_buffer_size(config.write_buffer_bytes)
        .max_message_size(config.transport_max_message())
        .max_frame_size(config.transport_max_message())
        .on_upgrade(move |socket| {
            // A task of its own: axum's upgrade task (holding this closure's captures) ends here
            // instead of staying beside every idle connection.
            tokio::spawn(serve(chat, accepted, socket));
            std::future::ready(())
        })
}

/// The connection's future. Not an `async fn`: the socket and the handshake's data are moved
/// into the engine here, so an idle connection's task does not also keep room for them.
fn serve(chat: ChatHttp, accepted: Accepted, socket: WebSocket) -> impl Future<Output = ()> {
    let (sink, stream) = socket.split();
    let sink =
        sink.with(|out: WsOut| futures::future::ready(Ok::<_, axum::Error>(to_message(out))));
    let stream = stream.map(|item| item.map(from_message).or_else(from_error));
    chat.serve_accepted(accepted, Box::pin(sink), stream)
}

fn to_message(out: WsOut) -> Message {
    match out {
        // The engine only emits UTF-8 JSON; should a frame fail validation it becomes binary.
        WsOut::Text(bytes) => match axum::extract::ws::Utf8Bytes::try_from(bytes) {
            Ok(text) => Message::Text(text),
            Err(e) => {
                tracing::error!(error = %e, "outgoing frame is not UTF-8");
                Message::Close(None)
            }
        },
        WsOut::Ping(bytes) => Message::Ping(bytes),
        WsOut::Close { code, reason } => Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        })),
    }
}

/// The read errors the engine answers with a close code of their own; any other error is a
/// lost connection. axum's error wraps tungstenite's; the downcast finds it while axum and
/// chat-http use the same tungstenite (one version in Cargo.lock; the axum server tests check
/// the 1007 and 1009 closes).
fn from_error(e: axum::Error) -> Result<WsIn, axum::Error> {
    let source = std::error::Error::source(&e).and_then(|s| s.downcast_ref::<WsError>());
    match source {
        Some(WsError::Capacity(_)) => Ok(WsIn::TooBig),
        Some(WsError::Utf8(_)) => Ok(WsIn::InvalidUtf8),
        _ => Err(e),
    }
}

fn from_message(message: Message) -> WsIn {
    match message {
        Message::Text(text) => WsIn::Text(text.into()),
        Message::Binary(bytes) => WsIn::Binary(bytes),
        Message::Ping(bytes) => WsIn::Ping(bytes),
        Message::Pong(bytes) => WsIn::Pong(bytes),
        Message::Close(_) => WsIn::Close,
    }
}
