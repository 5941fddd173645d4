//! The framework-free WebSocket engine: runs one authenticated connection over any
//! `Stream` of [`WsIn`] and `Sink` of [`WsOut`] (an adapter's socket, or channels in tests).
//!
//! Two tasks per connection, whatever the number of rooms joined: the reader loop here (client
//! frames, keepalive deadline, shutdown, session checks) and the [`writer`](super::writer),
//! which reads the reader's bounded outbound queue and the joined rooms' feeds and writes them
//! to the sink in batches.
//!
//! Once the connection closes, the reader keeps reading (and dropping) what the client still
//! sends while the writer writes the close frame, until the client's close frame arrives or
//! the stream ends (bounded in time, frames and bytes; see `drain`). Closing a socket with
//! unread data makes the kernel reset the connection, and the client then loses the close
//! frame.

use super::connection::Connection;
use super::feeds::Feeds;
use super::frames::FrameError;
use super::outbound::{CloseSignal, Outbound, close_code};
use super::writer::Writer;
use crate::ChatHttp;
use crate::chat::Accepted;
use crate::limits::sockets::SocketSlot;
use bytes::Bytes;
use chat_core::{ChatService, SessionGuard, Timestamp};
use futures::{FutureExt, Sink, Stream, StreamExt};
use std::fmt::Display;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::time::Instant;

/// How long closing may take (queued frames, close frame, flush) before the socket is dropped;
/// also the longest the reader drains the client's frames after the close signal.
pub const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// How long the reader keeps waiting for the client's close frame once the writer has written
/// (and flushed) the server's.
pub const DRAIN_LINGER: Duration = Duration::from_secs(2);

/// Most frames the reader drops after the close signal before it stops reading.
pub const DRAIN_FRAMES: usize = 65_536;

/// Most payload bytes the reader drops after the close signal before it stops reading.
pub const DRAIN_BYTES: usize = 8 << 20;

/// Most text frames read off the socket and handled together (a run of `send` frames among
/// them is posted with one store call).
pub const READ_BATCH: usize = 32;

/// What a transport delivers to the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsIn {
    /// A text frame (valid UTF-8 per the WebSocket spec; parsed as JSON).
    Text(Bytes),
    /// A binary frame: not supported by protocol 1.
    Binary(Bytes),
    /// A ping (transports answer it themselves).
    Ping(Bytes),
    /// A pong.
    Pong(Bytes),
    /// The client closed the connection.
    Close,
    /// A message above the transport's hard size limit: the connection is closed with 1009.
    TooBig,
    /// A text frame (or a close frame's reason) that is not valid UTF-8: the connection is
    /// closed with 1007.
    InvalidUtf8,
}

/// What the engine asks a transport to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsOut {
    /// A text frame holding valid UTF-8 JSON (shared bytes; do not copy if avoidable).
    Text(Bytes),
    /// A keepalive ping.
    Ping(Bytes),
    /// A close frame.
    Close {
        /// Close code.
        code: u16,
        /// Reason text.
        reason: &'static str,
    },
}

/// Runs one accepted connection until it closes. See [`ChatHttp::serve_accepted`].
///
/// Not an `async fn`: the set-up (the writer task, the session watch, the connection state)
/// happens here, so the returned future only holds what the read loop needs, not the
/// [`Accepted`] it was made from. Idle connections keep that future alive.
pub(crate) fn run<Si, St, E>(
    chat: ChatHttp,
    accepted: Accepted,
    sink: Si,
    stream: St,
) -> impl Future<Output = ()>
where
    Si: Sink<WsOut> + Send + Unpin + 'static,
    Si::Error: Display,
    St: Stream<Item = Result<WsIn, E>> + Send + Unpin + 'static,
    E: Display,
{
    let Accepted {
        user,
        session,
        expires_at,
        options,
        slot,
    } = accepted;
    let metrics = chat.metrics_arc();
    metrics.connections_open.fetch_add(1, Ordering::Relaxed);
    metrics.connections_total.fetch_add(1, Ordering::Relaxed);
    let config = chat.config();
    let close = CloseSignal::new();
    let (out, rx) = Outbound::new(
        config.outbound_queue,
        config.outbound_queue_bytes,
        config.slow_consumer_grace,
        close.clone(),
        metrics.clone(),
    );
    let writer = Writer::new(
        rx,
        Feeds::new(user.id, chat.service().clone()),
        metrics,
        config.ping_interval,
        config.slow_consumer_grace,
        options.batch,
    );
    let writer = tokio::spawn(writer.run(close.clone(), sink));
    let token = session.map(|s| s.token_hash);
    let watch = chat
        .service()
        .watch_session(user.id, token.clone(), close.on_session_end());
    let conn = Connection::new(chat.clone(), user, token, out);
    read(chat, conn, close, writer, expires_at, (watch, slot), stream)
}

/// The read loop of a connection: client frames, keepalive, shutdown, session checks; then
/// closing. `held` (the session watch and the place under the socket caps) is kept until the
/// end.
#[allow(clippy::too_many_arguments)]
async fn read<St, E>(
    chat: ChatHttp,
    mut conn: Connection,
    close: CloseSignal,
    writer: tokio::task::JoinHandle<()>,
    expires_at: Option<Timestamp>,
    held: (SessionGuard, Option<SocketSlot>),
    stream: St,
) where
    St: Stream<Item = Result<WsIn, E>> + Send + Unpin + 'static,
    E: Display,
{
    let config = chat.config();
    let mut stream = stream.peekable();
    Box::pin(conn.hello()).await;

    let idle_timeout = config.idle_timeout;
    let idle = tokio::time::sleep(idle_timeout);
    tokio::pin!(idle);
    let shutdown = chat.shutdown_token();
    // Re-checks the session every `session_check_interval` (ends on other nodes, a deleted
    // user), and at its expiry.
    let check_every = config.session_check_interval.max(Duration::from_millis(10));

    // Boxed, like an `Interval`'s: idle connections carry one pointer for it.
    let mut session_check = Box::pin(tokio::time::sleep_until(next_check(
        check_every,
        expires_at,
        chat.service(),
    )));
    // Whether the client may still send: not after its close frame or the stream's end.
    let mut open = true;
    loop {
        tokio::select! {
            biased;
            () = close.closed() => break,
            () = shutdown.cancelled() => {
                close.close(close_code::GOING_AWAY, "server shutting down", true);
                break;
            }
            () = &mut session_check => {
                let expired = expires_at.is_some_and(|at| chat.service().clock().now() >= at);
                if expired || !Box::pin(conn.refresh_user()).await {
                    close.close(close_code::SESSION_ENDED, "session ended", true);
                    break;
                }
                session_check.as_mut().reset(next_check(check_every, expires_at, chat.service()));
            }
            () = &mut idle => {
                close.close(close_code::IDLE_TIMEOUT, "idle timeout", true);
                break;
            }
            item = stream.next() => {
                idle.as_mut().reset(Instant::now() + idle_timeout);
                match item {
                    None => {
                        open = false;
                        break;
                    }
                    // Boxed: the handler's state is large and only alive while a frame is handled, so
                    // idle connections do not carry it.
                    Some(Ok(WsIn::Text(text))) => {
                        // Text frames that are already here are handled with this one, so a
                        // run of `send` frames is posted in one store round trip.
                        let mut texts = Vec::new();
                        while texts.len() + 1 < READ_BATCH {
                            let ready = std::pin::Pin::new(&mut stream)
                                .next_if(|item| matches!(item, Ok(WsIn::Text(_))))
                                .now_or_never();
                            match ready {
                                Some(Some(Ok(WsIn::Text(more)))) => texts.push(more),
                                _ => break,
                            }
                        }
                        if texts.is_empty() {
                            Box::pin(conn.on_text(text)).await;
                        } else {
                            texts.insert(0, text);
                            Box::pin(conn.on_texts(texts)).await;
                        }
                    }
                    Some(Ok(WsIn::Binary(_))) => Box::pin(conn.refuse(
                        &FrameError::new("binary_not_supported", "binary frames are not supported; send JSON text frames"),
                        None,
                    )).await,
                    Some(Ok(WsIn::Ping(_) | WsIn::Pong(_))) => {}
                    Some(Ok(WsIn::Close)) => {
                        open = false;
                        close.close(close_code::NORMAL, "closed by client", true);
                        break;
                    }
                    Some(Ok(WsIn::TooBig)) => {
                        close.close(close_code::TOO_BIG, "frame too large", false);
                        break;
                    }
                    Some(Ok(WsIn::InvalidUtf8)) => {
                        close.close(close_code::INVALID_PAYLOAD, "invalid UTF-8", false);
                        break;
                    }
                    Some(Err(e)) => {
                        tracing::debug!(error = %e, "websocket read failed");
                        close.close(close_code::NORMAL, "connection lost", false);
                        break;
                    }
                }
            }
        }
    }
    Box::pin(conn.finish()).await;
    drop(conn);
    close.close(close_code::NORMAL, "bye", true);
    // Boxed: only closing connections pay for the drain's state.
    Box::pin(drain(&mut stream, writer, open)).await;
    // The writer task dropped the sink: without the stream, the socket closes.
    drop(stream);
    drop(held);
    chat.metrics()
        .connections_open
        .fetch_sub(1, Ordering::Relaxed);
    chat.connection_closed();
}

/// When to check the session next: after `every`, or at its expiry if that comes first.
fn next_check(every: Duration, expires_at: Option<Timestamp>, service: &ChatService) -> Instant {
    let regular = Instant::now() + every;
    let Some(at) = expires_at else {
        return regular;
    };
    // The expiry is on the service's clock; the deadline on tokio's.
    let left = at.0.saturating_sub(service.clock().now().0);
    let left = Duration::from_millis(u64::try_from(left).unwrap_or(0));
    regular.min(Instant::now() + left)
}

/// Waits for the `writer` to write the close frame and end while reading and dropping what the
/// client still sends (if it may still send: `open`), so the socket is not dropped with unread
/// data. Reading stops at the client's close frame, the stream's end or an error, after
/// [`DRAIN_FRAMES`] frames or [`DRAIN_BYTES`] bytes, [`DRAIN_LINGER`] after the writer ended,
/// and at the latest [`CLOSE_GRACE`] after the start. The writer bounds its own closing by
/// [`CLOSE_GRACE`].
async fn drain<St, E>(stream: &mut St, mut writer: tokio::task::JoinHandle<()>, mut open: bool)
where
    St: Stream<Item = Result<WsIn, E>> + Unpin,
    E: Display,
{
    let mut writer_done = false;
    let deadline = tokio::time::sleep(CLOSE_GRACE);
    tokio::pin!(deadline);
    let (mut frames, mut bytes) = (0usize, 0usize);
    while open {
        tokio::select! {
            biased;
            ended = &mut writer, if !writer_done => {
                writer_done = true;
                writer_ended(ended);
                let linger = Instant::now() + DRAIN_LINGER;
                if linger < deadline.deadline() {
                    deadline.as_mut().reset(linger);
                }
            }
            () = &mut deadline => break,
            item = stream.next() => match item {
                Some(Ok(WsIn::Text(b) | WsIn::Binary(b) | WsIn::Ping(b) | WsIn::Pong(b))) => {
                    frames += 1;
                    bytes = bytes.saturating_add(b.len());
                    open = frames < DRAIN_FRAMES && bytes < DRAIN_BYTES;
                }
                // The client's close frame, or a frame the transport refused (it stops there).
                Some(Ok(WsIn::Close | WsIn::TooBig | WsIn::InvalidUtf8)) | None => open = false,
                Some(Err(e)) => {
                    tracing::debug!(error = %e, "websocket read failed while closing");
                    open = false;
                }
            },
        }
    }
    if !writer_done {
        writer_ended(writer.await);
    }
}

/// Logs a writer task that panicked.
fn writer_ended(ended: Result<(), tokio::task::JoinError>) {
    if let Err(e) = ended {
        tracing::debug!(error = %e, "websocket writer task failed");
    }
}

/// Idle connections keep their reader and writer futures alive: keep them small.
#[cfg(test)]
mod future_sizes {
    use super::*;
    use crate::SocketOptions;
    use chat_core::User;
    use futures::channel::mpsc as fmpsc;

    #[tokio::test]
    async fn connection_futures_stay_small() {
        fn run_size(chat: ChatHttp, user: User) -> usize {
            let (tx, _rx) = fmpsc::channel::<WsOut>(1);
            let (_itx, irx) = fmpsc::unbounded::<Result<WsIn, std::convert::Infallible>>();
            let accepted = Accepted {
                user,
                session: None,
                expires_at: None,
                options: SocketOptions::default(),
                slot: None,
            };
            let fut = run(chat, accepted, tx, irx);
            std::mem::size_of_val(&fut)
        }
        let service = chat_core::ChatService::new(
            std::sync::Arc::new(chat_store_memory::MemoryStore::new()),
            std::sync::Arc::new(chat_core::LocalBroker::default()),
            chat_core::Config::for_tests(),
        );
        let (tx, _rx) = fmpsc::channel::<WsOut>(1);
        let (_q, rx) = tokio::sync::mpsc::channel(1);
        let writer = Writer::new(
            rx.into(),
            Feeds::new(chat_core::UserId(1), service.clone()),
            std::sync::Arc::default(),
            Duration::from_secs(1),
            Duration::from_secs(1),
            true,
        );
        let writer = writer.run(CloseSignal::new(), tx);
        let writer_size = std::mem::size_of_val(&writer);
        println!("writer future: {writer_size} bytes");
        assert!(
            writer_size <= 512,
            "the writer future grew to {writer_size} bytes"
        );
        let chat = ChatHttp::new(service, crate::HttpConfig::default());
        let user = User {
            id: chat_core::UserId(1),
            username: "u".into(),
            password_hash: String::new(),
            is_admin: false,
            is_active: true,
            created_at: chat_core::Timestamp(0),
        };
        let size = run_size(chat, user);
        println!("connection future: {size} bytes");
        assert!(size <= 1536, "the connection future grew to {size} bytes");
    }
}
