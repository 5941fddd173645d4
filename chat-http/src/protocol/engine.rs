//! The framework-free WebSocket engine: runs one authenticated connection over any
//! `Stream` of [`WsIn`] and `Sink` of [`WsOut`] (an adapter's socket, or channels in tests).
//!
//! Two tasks per connection: the reader loop here (client frames, keepalive deadline, shutdown)
//! and a writer draining the bounded outbound queue into the sink in batches. Room feeds run as
//! small forwarding tasks that push shared, pre-encoded frames into the queue.

use super::connection::{Connection, GoneRooms};
use super::frames::FrameError;
use super::outbound::{CloseSignal, Outbound, close_code};
use crate::ChatHttp;
use bytes::Bytes;
use chat_core::User;
use futures::{Sink, SinkExt, Stream, StreamExt};
use std::fmt::Display;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// How long closing may take (queued frames, close frame, flush) before the socket is dropped.
pub const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// Most frames written between two flushes.
const WRITE_BATCH: usize = 64;

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

/// Runs one connection of `user` until it closes. See [`ChatHttp::serve_socket`].
pub(crate) async fn run<Si, St, E>(chat: ChatHttp, user: User, sink: Si, mut stream: St)
where
    Si: Sink<WsOut> + Send + Unpin + 'static,
    Si::Error: Display,
    St: Stream<Item = Result<WsIn, E>> + Send + Unpin + 'static,
    E: Display,
{
    let metrics = chat.metrics_arc();
    metrics.connections_open.fetch_add(1, Ordering::Relaxed);
    metrics.connections_total.fetch_add(1, Ordering::Relaxed);
    let config = chat.config();
    let close = CloseSignal::new();
    let (out, rx) = Outbound::new(
        config.outbound_queue,
        config.slow_consumer_grace,
        close.clone(),
        metrics.clone(),
    );
    let writer = tokio::spawn(write_loop(sink, rx, close.clone(), config.ping_interval));
    let gone = Arc::new(GoneRooms::default());
    let mut conn = Connection::new(chat.clone(), user, out, Arc::clone(&gone));
    Box::pin(conn.hello()).await;

    let idle_timeout = config.idle_timeout;
    let idle = tokio::time::sleep(idle_timeout);
    tokio::pin!(idle);
    let shutdown = chat.shutdown_token();
    let check_every = config.session_check_interval.max(Duration::from_millis(10));
    let mut session_check = tokio::time::interval_at(Instant::now() + check_every, check_every);
    session_check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            () = close.closed() => break,
            () = shutdown.cancelled() => {
                close.close(close_code::GOING_AWAY, "server shutting down", true);
                break;
            }
            rooms = gone.wait() => conn.forget_rooms(rooms),
            _ = session_check.tick() => {
                if !Box::pin(conn.refresh_user()).await {
                    close.close(close_code::SESSION_ENDED, "session ended", true);
                    break;
                }
            }
            () = &mut idle => {
                close.close(close_code::IDLE_TIMEOUT, "idle timeout", true);
                break;
            }
            item = stream.next() => {
                idle.as_mut().reset(Instant::now() + idle_timeout);
                match item {
                    None => break,
                    // Boxed: the handler's state is large and only alive while a frame is handled, so
                    // idle connections do not carry it.
                    Some(Ok(WsIn::Text(text))) => Box::pin(conn.on_text(text)).await,
                    Some(Ok(WsIn::Binary(_))) => Box::pin(conn.refuse(
                        &FrameError::new("binary_not_supported", "binary frames are not supported; send JSON text frames"),
                        None,
                    )).await,
                    Some(Ok(WsIn::Ping(_) | WsIn::Pong(_))) => {}
                    Some(Ok(WsIn::Close)) => {
                        close.close(close_code::NORMAL, "closed by client", true);
                        break;
                    }
                    Some(Ok(WsIn::TooBig)) => {
                        close.close(close_code::TOO_BIG, "frame too large", false);
                        break;
                    }
                    Some(Err(e)) => {
                        let text = e.to_string();
                        tracing::debug!(error = %text, "websocket read failed");
                        if is_size_error(&text) {
                            close.close(close_code::TOO_BIG, "frame too large", false);
                        } else {
                            close.close(close_code::NORMAL, "connection lost", false);
                        }
                        break;
                    }
                }
            }
        }
    }
    Box::pin(conn.finish()).await;
    drop(conn);
    close.close(close_code::NORMAL, "bye", true);
    if let Err(e) = writer.await {
        tracing::debug!(error = %e, "websocket writer task failed");
    }
    metrics.connections_open.fetch_sub(1, Ordering::Relaxed);
    chat.connection_closed();
}

/// Whether a transport error reports a message above the size limit (tungstenite's wording).
fn is_size_error(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    t.contains("too long") || t.contains("too big") || t.contains("space limit")
}

/// Drains the outbound queue into the sink, pings on schedule, and sends the close frame.
async fn write_loop<Si>(
    mut sink: Si,
    mut rx: mpsc::Receiver<Bytes>,
    close: CloseSignal,
    ping_every: Duration,
) where
    Si: Sink<WsOut> + Unpin,
    Si::Error: Display,
{
    let ping_every = ping_every.max(Duration::from_millis(10));
    let mut ping = tokio::time::interval_at(Instant::now() + ping_every, ping_every);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let written = tokio::select! {
            biased;
            () = close.closed() => break,
            _ = ping.tick() => race(&close, sink.send(WsOut::Ping(Bytes::new()))).await,
            frame = rx.recv() => match frame {
                Some(frame) => race(&close, write_batch(&mut sink, &mut rx, frame)).await,
                None => break,
            },
        };
        if !written {
            close.close(close_code::NORMAL, "connection lost", false);
            break;
        }
    }
    let reason = close.reason().unwrap_or(super::outbound::CloseReason {
        code: close_code::NORMAL,
        reason: "bye",
        drain: true,
    });
    tracing::debug!(
        code = reason.code,
        reason = reason.reason,
        "closing websocket"
    );
    let finish = async {
        if reason.drain {
            while let Ok(frame) = rx.try_recv() {
                sink.feed(WsOut::Text(frame)).await?;
            }
        }
        sink.send(WsOut::Close {
            code: reason.code,
            reason: reason.reason,
        })
        .await?;
        sink.close().await
    };
    match tokio::time::timeout(CLOSE_GRACE, finish).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::debug!(error = %e, "closing websocket failed"),
        Err(_) => tracing::debug!("closing websocket timed out"),
    }
}

/// Runs a write unless the connection is closed without draining meanwhile (a stalled reader
/// must not keep the writer stuck). Returns whether the write succeeded.
async fn race<F, T, E>(close: &CloseSignal, write: F) -> bool
where
    F: Future<Output = Result<T, E>>,
    E: Display,
{
    tokio::select! {
        biased;
        r = write => match r {
            Ok(_) => true,
            Err(e) => {
                tracing::debug!(error = %e, "websocket write failed");
                false
            }
        },
        () = close.aborted() => true,
    }
}

/// Writes `first` and whatever else is queued (up to a batch), then flushes once.
async fn write_batch<Si>(
    sink: &mut Si,
    rx: &mut mpsc::Receiver<Bytes>,
    first: Bytes,
) -> Result<(), Si::Error>
where
    Si: Sink<WsOut> + Unpin,
{
    sink.feed(WsOut::Text(first)).await?;
    for _ in 1..WRITE_BATCH {
        match rx.try_recv() {
            Ok(frame) => sink.feed(WsOut::Text(frame)).await?,
            Err(_) => break,
        }
    }
    sink.flush().await
}

/// Idle connections keep their reader and writer futures alive: keep them small.
#[cfg(test)]
mod future_sizes {
    use super::*;
    use futures::channel::mpsc as fmpsc;

    #[test]
    fn connection_futures_stay_small() {
        fn run_size(chat: ChatHttp, user: User) -> usize {
            let (tx, _rx) = fmpsc::channel::<WsOut>(1);
            let (_itx, irx) = fmpsc::unbounded::<Result<WsIn, std::convert::Infallible>>();
            let fut = run(chat, user, tx, irx);
            std::mem::size_of_val(&fut)
        }
        let (tx, _rx) = fmpsc::channel::<WsOut>(1);
        let (_q, qrx) = mpsc::channel::<Bytes>(1);
        let writer = write_loop(tx, qrx, CloseSignal::new(), Duration::from_secs(1));
        println!(
            "write_loop future: {} bytes",
            std::mem::size_of_val(&writer)
        );
        let service = chat_core::ChatService::new(
            std::sync::Arc::new(chat_store_memory::MemoryStore::new()),
            std::sync::Arc::new(chat_core::LocalBroker::default()),
            chat_core::Config::for_tests(),
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
        assert!(size <= 1536, "the connection future grew to {size} bytes");
    }
}
