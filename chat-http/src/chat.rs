//! `ChatHttp`: the handle adapters and apps hold. It bundles the [`ChatService`], the
//! [`HttpConfig`], the [`Metrics`], the rate limiters and the shutdown signal, and exposes the
//! three framework-free entry points the axum and warp adapters call: [`ChatHttp::handle`] for
//! HTTP requests, [`ChatHttp::authorize_upgrade`] and [`ChatHttp::serve_socket`] for WebSockets.

use crate::config::HttpConfig;
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::protocol::SocketOptions;
use crate::protocol::engine::{self, WsIn, WsOut};
use crate::protocol::rate_limit::KeyedLimiter;
use bytes::Bytes;
use chat_core::{ChatService, User, UserId};
use futures::{Sink, Stream};
use std::fmt;
use std::fmt::Display;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// The chat's HTTP and WebSocket layer. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct ChatHttp {
    inner: Arc<Shared>,
}

struct Shared {
    service: ChatService,
    config: HttpConfig,
    metrics: Arc<Metrics>,
    send_limiter: KeyedLimiter<UserId>,
    login_limiter: KeyedLimiter<String>,
    shutdown: CancellationToken,
    closed: Notify,
}

impl fmt::Debug for ChatHttp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChatHttp")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl ChatHttp {
    /// The HTTP layer over `service`.
    pub fn new(service: ChatService, config: HttpConfig) -> ChatHttp {
        ChatHttp {
            inner: Arc::new(Shared {
                service,
                send_limiter: KeyedLimiter::new(config.rate_limit),
                login_limiter: KeyedLimiter::new(config.login_rate_limit),
                config,
                metrics: Arc::new(Metrics::default()),
                shutdown: CancellationToken::new(),
                closed: Notify::new(),
            }),
        }
    }

    /// The chat service.
    pub fn service(&self) -> &ChatService {
        &self.inner.service
    }

    /// The configuration.
    pub fn config(&self) -> &HttpConfig {
        &self.inner.config
    }

    /// The counters behind `/metrics`.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    pub(crate) fn metrics_arc(&self) -> Arc<Metrics> {
        Arc::clone(&self.inner.metrics)
    }

    pub(crate) fn send_limiter(&self) -> &KeyedLimiter<UserId> {
        &self.inner.send_limiter
    }

    pub(crate) fn login_limiter(&self) -> &KeyedLimiter<String> {
        &self.inner.login_limiter
    }

    pub(crate) fn shutdown_token(&self) -> CancellationToken {
        self.inner.shutdown.clone()
    }

    /// Starts a graceful shutdown: new WebSockets are refused with 503, and every open one
    /// finishes the frame it is handling (so an in-flight `send` commits and is acked), sends
    /// what is queued and closes with 1001 (going away). Await [`closed`](Self::closed) to know
    /// when all sockets are gone.
    pub fn shutdown(&self) {
        self.inner.shutdown.cancel();
    }

    /// Whether [`shutdown`](Self::shutdown) was called.
    pub fn is_shutting_down(&self) -> bool {
        self.inner.shutdown.is_cancelled()
    }

    /// WebSocket connections open now.
    pub fn open_connections(&self) -> u64 {
        self.inner.metrics.connections_open.load(Ordering::Relaxed)
    }

    /// Waits until no WebSocket connection is open.
    pub async fn closed(&self) {
        loop {
            let notified = self.inner.closed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.open_connections() == 0 {
                return;
            }
            notified.await;
        }
    }

    pub(crate) fn connection_closed(&self) {
        self.inner.closed.notify_waiters();
    }

    /// Checks a WebSocket handshake's headers: `Origin` (403 when present and not allowed),
    /// then the session (cookie `chat_session` or `Authorization: Bearer`; 401 without one).
    /// During shutdown: 503. Adapters upgrade only when this returns the user.
    pub async fn authorize_upgrade(&self, headers: &http::HeaderMap) -> Result<User, ApiError> {
        if self.is_shutting_down() {
            return Err(ApiError::new(
                http::StatusCode::SERVICE_UNAVAILABLE,
                "shutting_down",
                "the server is shutting down",
            ));
        }
        crate::auth::check_origin(headers, &self.inner.config)?;
        let (token, _) =
            crate::auth::session_token(headers).ok_or_else(ApiError::unauthenticated)?;
        Ok(self.inner.service.authenticate(&token).await?)
    }

    /// Runs one authenticated WebSocket connection until it closes: the protocol engine over
    /// any sink of [`WsOut`] and stream of [`WsIn`] (an adapter's socket, or channels in tests),
    /// with the default [`SocketOptions`].
    pub async fn serve_socket<Si, St, E>(&self, user: User, sink: Si, stream: St)
    where
        Si: Sink<WsOut> + Send + Unpin + 'static,
        Si::Error: Display,
        St: Stream<Item = Result<WsIn, E>> + Send + Unpin + 'static,
        E: Display,
    {
        self.serve_socket_with(user, SocketOptions::default(), sink, stream)
            .await;
    }

    /// [`ChatHttp::serve_socket`] with the options the client chose (read them from the
    /// handshake's query string with [`SocketOptions::from_query`]).
    pub async fn serve_socket_with<Si, St, E>(
        &self,
        user: User,
        options: SocketOptions,
        sink: Si,
        stream: St,
    ) where
        Si: Sink<WsOut> + Send + Unpin + 'static,
        Si::Error: Display,
        St: Stream<Item = Result<WsIn, E>> + Send + Unpin + 'static,
        E: Display,
    {
        engine::run(self.clone(), user, options, sink, stream).await;
    }

    /// Answers one HTTP request (everything but the WebSocket upgrade): the JSON API, the
    /// embedded UI, `/healthz` and `/metrics`. The body must already be read (adapters cap it
    /// at `max_body_bytes`).
    pub async fn handle(&self, request: http::Request<Bytes>) -> http::Response<Bytes> {
        let started = Instant::now();
        let response = crate::dispatch::dispatch(self, request).await;
        self.inner
            .metrics
            .record_request(response.status().as_u16(), started.elapsed());
        response
    }

    /// The JSON error response for a request an adapter refused itself (for example a body
    /// above the limit), counted in the metrics like any other.
    pub fn error_response(&self, error: &ApiError) -> http::Response<Bytes> {
        let response = crate::dispatch::error_response(error);
        self.inner
            .metrics
            .record_request(response.status().as_u16(), std::time::Duration::ZERO);
        response
    }
}
