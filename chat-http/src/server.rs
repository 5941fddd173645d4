//! A bounded HTTP/1.1 accept loop (feature `server`) to run an app's axum `Router`,
//! `warp::service(filter)` or any tower service on, chat included; the reference servers use it.
//!
//! `axum::serve` and `warp::serve` run hyper without a timer and accept without limit, so a
//! client that sends half a request head (or nothing) holds its connection forever and enough
//! of them exhaust the server's file descriptors. This loop serves each connection with
//! hyper's HTTP/1.1 builder and bounds it:
//!
//! - **header-read timeout**: a request head must arrive in full within it, counted from the
//!   connection's start or from the end of the previous response, so it also closes idle
//!   keep-alive connections (that is how hyper times the head);
//! - **idle timeout**: a connection on which no byte moves either way for that long (a stalled
//!   request body, a client that stops reading its response) is dropped; after a WebSocket
//!   upgrade the chat's own ping and idle timeout take over;
//! - **connection cap**: at most that many TCP connections are open at once, WebSockets
//!   included. Above the cap the loop stops accepting, so new connections wait in the kernel's
//!   listen backlog (and beyond it the kernel drops their SYNs and clients retry) until one
//!   closes: a burst is served late rather than refused, and a flood costs no work.
//!
//! Every request carries the TCP peer as a [`PeerAddr`] extension, for the per-address limits.
//! HTTP/2 is not offered: browsers do not speak it without TLS, and hyper's header-read timeout
//! exists only for HTTP/1. Shutdown stops accepting, lets each connection finish the request
//! in hand, closes idle ones at once and waits for them all.

use crate::PeerAddr;
use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

/// Default of [`ConnectionLimits::header_read_timeout`], in seconds.
pub const DEFAULT_HEADER_READ_TIMEOUT_SECS: u64 = 10;
/// Default of [`ConnectionLimits::idle_timeout`], in seconds.
pub const DEFAULT_IDLE_TIMEOUT_SECS: u64 = 60;
/// Default of [`ConnectionLimits::max_connections`].
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;

/// How long the loop pauses after an accept error other than a refused connection (typically
/// out of file descriptors), so it does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_secs(1);

/// Any error a service or body may return.
type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The bounds on every connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Time to receive a complete request head, from the connection's start or the end of the
    /// previous response on a kept-alive connection.
    pub header_read_timeout: Duration,
    /// Time without a byte read or written after which an HTTP connection is dropped.
    pub idle_timeout: Duration,
    /// Most TCP connections open at once (at least 1).
    pub max_connections: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            header_read_timeout: Duration::from_secs(DEFAULT_HEADER_READ_TIMEOUT_SECS),
            idle_timeout: Duration::from_secs(DEFAULT_IDLE_TIMEOUT_SECS),
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// A bound listener and the limits to serve it with; [`HttpServer::serve`] runs the loop.
#[derive(Debug)]
pub struct HttpServer {
    listener: TcpListener,
    limits: ConnectionLimits,
}

impl HttpServer {
    /// Serves `listener` within `limits` (a `max_connections` of 0 counts as 1).
    pub fn new(listener: TcpListener, limits: ConnectionLimits) -> HttpServer {
        HttpServer { listener, limits }
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The limits connections are served with.
    pub fn limits(&self) -> ConnectionLimits {
        self.limits
    }

    /// Serves `service` (an axum `Router`, `warp::service(filter)`, any tower service of hyper
    /// requests) on every accepted connection, with upgrades (WebSockets), until `shutdown`
    /// resolves; then stops accepting and returns once every HTTP connection has finished its
    /// request in hand. Upgraded connections live on in their own tasks.
    pub async fn serve<S, B>(self, service: S, shutdown: impl Future<Output = ()>) -> io::Result<()>
    where
        S: tower::Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
        S::Future: Send + 'static,
        S::Error: Into<BoxError>,
        B: http_body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
    {
        let HttpServer { listener, limits } = self;
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout)
            .keep_alive(true);
        let permits = Arc::new(Semaphore::new(
            limits.max_connections.clamp(1, Semaphore::MAX_PERMITS),
        ));
        let stop = CancellationToken::new();
        let connections = TaskTracker::new();
        let mut shutdown = pin!(shutdown);

        loop {
            // A permit first: at the cap, connections stay in the kernel's backlog.
            let permit = tokio::select! {
                biased;
                () = &mut shutdown => break,
                permit = permits.clone().acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => break, // the semaphore is never closed
                },
            };
            let (stream, peer) = tokio::select! {
                biased;
                () = &mut shutdown => break,
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(e) if is_connection_error(&e) => continue,
                    Err(e) => {
                        tracing::error!(error = %e, "accept failed; pausing for {ACCEPT_ERROR_PAUSE:?}");
                        drop(permit);
                        tokio::select! {
                            biased;
                            () = &mut shutdown => break,
                            () = tokio::time::sleep(ACCEPT_ERROR_PAUSE) => continue,
                        }
                    }
                },
            };
            let activity = Arc::new(Activity::new());
            let io = TokioIo::new(CountedStream {
                stream,
                activity: activity.clone(),
                _permit: permit,
            });
            let tagged = service
                .clone()
                .map_request(move |mut request: Request<Incoming>| {
                    request.extensions_mut().insert(PeerAddr(peer));
                    request
                });
            let connection = http
                .serve_connection(io, TowerToHyperService::new(tagged))
                .with_upgrades();
            connections.spawn(drive(
                connection,
                activity,
                limits.idle_timeout,
                stop.clone(),
                peer,
            ));
        }

        drop(listener);
        stop.cancel();
        connections.close();
        connections.wait().await;
        Ok(())
    }
}

/// Runs one connection to its end: dropped when idle too long, asked to finish its request in
/// hand and close when `stop` is cancelled.
async fn drive<C>(
    connection: C,
    activity: Arc<Activity>,
    idle_timeout: Duration,
    stop: CancellationToken,
    peer: SocketAddr,
) where
    C: Future<Output = Result<(), hyper::Error>> + GracefulShutdown,
{
    let mut connection = pin!(connection);
    let mut idle = pin!(activity.idle_for(idle_timeout));
    let mut stopping = false;
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
                return;
            }
            () = stop.cancelled(), if !stopping => {
                stopping = true;
                connection.as_mut().graceful_shutdown();
            }
            () = idle.as_mut() => {
                tracing::debug!(%peer, "dropping a connection idle for {idle_timeout:?}");
                return;
            }
        }
    }
}

/// A connection that can be asked to close after the request in hand.
trait GracefulShutdown {
    fn graceful_shutdown(self: Pin<&mut Self>);
}

impl<I, S, B> GracefulShutdown for hyper::server::conn::http1::UpgradeableConnection<I, S>
where
    S: hyper::service::HttpService<Incoming, ResBody = B>,
    S::Error: Into<BoxError>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    B: http_body::Body + 'static,
    B::Error: Into<BoxError>,
{
    fn graceful_shutdown(self: Pin<&mut Self>) {
        hyper::server::conn::http1::UpgradeableConnection::graceful_shutdown(self);
    }
}

/// Errors of one incoming connection that `accept` reports; the loop just goes on.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// When a connection last moved a byte.
#[derive(Debug)]
struct Activity {
    start: Instant,
    /// Milliseconds from `start` to the last read or write.
    last: AtomicU64,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            start: Instant::now(),
            last: AtomicU64::new(0),
        }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.store(ms, Ordering::Relaxed);
    }

    /// Resolves once no byte has moved for `limit`.
    async fn idle_for(&self, limit: Duration) {
        loop {
            let last = self.start + Duration::from_millis(self.last.load(Ordering::Relaxed));
            let deadline = last + limit;
            if Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep_until(deadline).await;
        }
    }
}

/// An accepted stream that records its activity and holds its slot under the connection cap
/// until it is dropped (after an upgrade, when the WebSocket closes).
#[derive(Debug)]
struct CountedStream {
    stream: TcpStream,
    activity: Arc<Activity>,
    _permit: OwnedSemaphorePermit,
}

impl AsyncRead for CountedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl AsyncWrite for CountedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
