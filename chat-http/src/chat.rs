//! `ChatHttp`: the handle adapters and apps hold. It bundles the [`ChatService`], the
//! [`HttpConfig`], the [`Metrics`], the rate limiters and the shutdown signal, and exposes the
//! three framework-free entry points the axum and warp adapters call: [`ChatHttp::handle`] for
//! HTTP requests, [`ChatHttp::accept_upgrade`] and [`ChatHttp::serve_accepted`] for WebSockets.

use crate::config::HttpConfig;
use crate::error::ApiError;
use crate::identity::Authenticator;
use crate::limits::Limiters;
use crate::limits::sockets::{SocketCap, SocketSlot};
use crate::metrics::Metrics;
use crate::protocol::SocketOptions;
use crate::protocol::engine::{self, WsIn, WsOut};
use crate::{ClientKey, PeerAddr};
use bytes::Bytes;
use chat_core::{ChatService, Session, Timestamp, User};
use futures::{Sink, Stream};
use std::fmt;
use std::fmt::Display;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// A WebSocket handshake that passed [`ChatHttp::accept_upgrade`]: the user, their session,
/// the client's options, and the socket's place under the socket caps (given back when the
/// connection ends).
#[derive(Debug)]
pub struct Accepted {
    pub(crate) user: User,
    pub(crate) session: Option<Session>,
    pub(crate) expires_at: Option<Timestamp>,
    pub(crate) options: SocketOptions,
    pub(crate) slot: Option<SocketSlot>,
}

impl Accepted {
    /// The authenticated user.
    pub fn user(&self) -> &User {
        &self.user
    }
}

/// Where the framework mounted the chat: `/chat` under axum's `Router::nest("/chat", ..)` or
/// warp's `warp::path("chat").and(..)`. The adapters find it and put it on each request as an
/// extension; see [`ChatHttp::mount`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountPath(pub String);

/// The chat's HTTP and WebSocket layer. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct ChatHttp {
    inner: Arc<Shared>,
}

struct Shared {
    service: ChatService,
    config: HttpConfig,
    metrics: Arc<Metrics>,
    limits: Limiters,
    shutdown: CancellationToken,
    closed: Notify,
    authenticator: Option<Arc<dyn Authenticator>>,
    own_accounts: bool,
    /// `config.mount()`, normalised (and an invalid one reported) once.
    mount: String,
}

impl fmt::Debug for ChatHttp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChatHttp")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// Builds a [`ChatHttp`]: `ChatHttp::builder(service).config(..).authenticator(..).build()`.
pub struct ChatHttpBuilder {
    service: ChatService,
    config: HttpConfig,
    authenticator: Option<Arc<dyn Authenticator>>,
    own_accounts: Option<bool>,
}

impl fmt::Debug for ChatHttpBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChatHttpBuilder")
            .field("config", &self.config)
            .field("own_accounts", &self.own_accounts)
            .finish_non_exhaustive()
    }
}

impl ChatHttpBuilder {
    /// The configuration (default: [`HttpConfig::default`]).
    pub fn config(mut self, config: HttpConfig) -> ChatHttpBuilder {
        self.config = config;
        self
    }

    /// Takes users from the host application: every request and WebSocket is authenticated
    /// by `authenticator` (see [`identity`](crate::identity)). The chat's own sign-up, log-in
    /// and log-out routes are then off unless [`own_accounts`](Self::own_accounts) turns them
    /// back on.
    pub fn authenticator(mut self, authenticator: impl Authenticator) -> ChatHttpBuilder {
        self.authenticator = Some(Arc::new(authenticator));
        self
    }

    /// Whether the chat's own accounts (sign up, log in, sessions, password change) are
    /// served. Default: on without an authenticator, off with one. With both, a request the
    /// authenticator finds no credential in falls back to the chat's session.
    pub fn own_accounts(mut self, on: bool) -> ChatHttpBuilder {
        self.own_accounts = Some(on);
        self
    }

    /// The HTTP layer.
    pub fn build(self) -> ChatHttp {
        let own_accounts = self.own_accounts.unwrap_or(self.authenticator.is_none());
        let mount = self.config.mount();
        ChatHttp {
            inner: Arc::new(Shared {
                service: self.service,
                limits: Limiters::new(&self.config),
                config: self.config,
                metrics: Arc::new(Metrics::default()),
                shutdown: CancellationToken::new(),
                closed: Notify::new(),
                authenticator: self.authenticator,
                own_accounts,
                mount,
            }),
        }
    }
}

impl ChatHttp {
    /// The HTTP layer over `service`, with the chat's own accounts.
    pub fn new(service: ChatService, config: HttpConfig) -> ChatHttp {
        ChatHttp::builder(service).config(config).build()
    }

    /// A builder, for an [`Authenticator`] of the host application's users.
    pub fn builder(service: ChatService) -> ChatHttpBuilder {
        ChatHttpBuilder {
            service,
            config: HttpConfig::default(),
            authenticator: None,
            own_accounts: None,
        }
    }

    /// The host application's authenticator, if any.
    pub(crate) fn authenticator(&self) -> Option<&dyn Authenticator> {
        self.inner.authenticator.as_deref()
    }

    /// Where the chat is mounted for `request` (`/chat`, or empty at the root): the configured
    /// [`base_path`](HttpConfig::base_path) when set (a proxy in front that strips a prefix),
    /// else where the adapter found it ([`MountPath`]). The UI's `<base href>`, its redirects
    /// and the session cookie's `Path` follow it.
    pub fn mount(&self, request: &http::request::Parts) -> String {
        if !self.inner.mount.is_empty() {
            return self.inner.mount.clone();
        }
        request
            .extensions
            .get::<MountPath>()
            .map(|m| m.0.clone())
            .unwrap_or_default()
    }

    /// Whether the chat's own accounts (sign up, log in, sessions) are served.
    pub fn own_accounts(&self) -> bool {
        self.inner.own_accounts
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

    pub(crate) fn limits(&self) -> &Limiters {
        &self.inner.limits
    }

    /// The key per-address limits count a request under: its client address (the peer, or
    /// what a trusted proxy reports), `None` when the peer is unknown.
    pub fn client_key(
        &self,
        headers: &http::HeaderMap,
        peer: Option<PeerAddr>,
    ) -> Option<ClientKey> {
        crate::client_addr::client_ip(
            peer.map(|p| p.0.ip()),
            headers,
            &self.inner.config.trusted_proxies,
        )
        .map(ClientKey::of)
    }

    /// Counts a refusal by a rate limit and returns the 429 to answer with, telling the client
    /// to retry after `wait` (rounded up to whole seconds).
    pub(crate) fn rate_limited(&self, wait: std::time::Duration) -> ApiError {
        self.inner
            .metrics
            .rate_limited
            .fetch_add(1, Ordering::Relaxed);
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        ApiError::rate_limited().retry_after(seconds.max(1))
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

    /// Checks a WebSocket handshake, in this order: shutdown (503 `shutting_down`), `Origin`
    /// (403 when present and not allowed), the client address's handshake rate (429), the
    /// caller (the app's [`Authenticator`], or the chat's session from cookie `chat_session`,
    /// `Authorization: Bearer` or the `token` query parameter; 401 without a valid one), the query's options (400
    /// `bad_query`) and the caps on open sockets per user and per address (429
    /// `too_many_sockets`). Adapters upgrade only when this returns the accepted socket, and
    /// hand it to [`serve_accepted`](Self::serve_accepted).
    pub async fn accept_upgrade(
        &self,
        request: &http::request::Parts,
        peer: Option<PeerAddr>,
    ) -> Result<Accepted, ApiError> {
        let headers = &request.headers;
        if self.is_shutting_down() {
            return Err(ApiError::new(
                http::StatusCode::SERVICE_UNAVAILABLE,
                "shutting_down",
                "the server is shutting down",
            ));
        }
        crate::auth::check_origin(headers, &self.inner.config)?;
        let client = self.client_key(headers, peer);
        if let Some(key) = client {
            self.inner
                .limits
                .handshakes
                .acquire(key)
                .map_err(|wait| self.rate_limited(wait))?;
        }
        let caller = self.socket_caller(request).await?;
        let user = caller.user;
        let options = SocketOptions::from_query(request.uri.query())?;
        let slot = self
            .inner
            .limits
            .sockets
            .take(user.id, client)
            .map_err(|cap| {
                let (which, n) = match cap {
                    SocketCap::User => ("user", self.inner.config.max_sockets_per_user),
                    SocketCap::Address => ("address", self.inner.config.max_sockets_per_address),
                };
                ApiError::new(
                    http::StatusCode::TOO_MANY_REQUESTS,
                    "too_many_sockets",
                    format!("at most {n} sockets may be open per {which}"),
                )
            })?;
        Ok(Accepted {
            user,
            session: caller.session,
            expires_at: caller.expires_at,
            options,
            slot: Some(slot),
        })
    }

    /// Runs one WebSocket connection until it closes: the protocol engine over any sink of
    /// [`WsOut`] and stream of [`WsIn`]. It closes with 4001 when its session ends (log out,
    /// expiry, password change, deactivation).
    ///
    /// Call it inside a tokio runtime: the connection's writer task starts at once, and the
    /// returned future runs the rest. Not an `async fn`, so that the future an idle connection
    /// keeps alive does not also hold what it was made from.
    pub fn serve_accepted<Si, St, E>(
        &self,
        accepted: Accepted,
        sink: Si,
        stream: St,
    ) -> impl Future<Output = ()> + use<Si, St, E>
    where
        Si: Sink<WsOut> + Send + Unpin + 'static,
        Si::Error: Display,
        St: Stream<Item = Result<WsIn, E>> + Send + Unpin + 'static,
        E: Display,
    {
        engine::run(self.clone(), accepted, sink, stream)
    }

    /// Runs a connection of `user` that did not come through a handshake (channels in tests,
    /// or an app's own transport), with the default [`SocketOptions`]. It closes with 4001
    /// when all of the user's sessions end or they are deactivated.
    pub async fn serve_socket<Si, St, E>(&self, user: User, sink: Si, stream: St)
    where
        Si: Sink<WsOut> + Send + Unpin + 'static,
        Si::Error: Display,
        St: Stream<Item = Result<WsIn, E>> + Send + Unpin + 'static,
        E: Display,
    {
        let accepted = Accepted {
            user,
            session: None,
            expires_at: None,
            options: SocketOptions::default(),
            slot: None,
        };
        engine::run(self.clone(), accepted, sink, stream).await;
    }

    /// Whether the chat answers requests for `path` (relative to its mount): `/ws`, `/api/*`,
    /// `/healthz`, `/metrics` (when `serve_metrics`) and the UI's pages and files (when
    /// `serve_ui`; the account pages only with own accounts, `/admin` with `serve_admin`). The adapters leave
    /// every other path to the app they are mounted in.
    pub fn serves(&self, path: &str) -> bool {
        let config = &self.inner.config;
        matches!(path, "/ws" | "/healthz")
            || path.starts_with("/api/")
            || (config.serve_metrics && path == "/metrics")
            || (config.serve_ui && crate::ui::serves_here(self, path))
    }

    /// Answers one HTTP request (everything but the WebSocket upgrade): the JSON API, the
    /// embedded UI, `/healthz` and `/metrics`. The body must already be read, with
    /// [`ChatHttp::read_body`], which enforces `max_body_bytes`.
    pub async fn handle(&self, request: http::Request<Bytes>) -> http::Response<Bytes> {
        let started = Instant::now();
        let response = self.finish(crate::dispatch::dispatch(self, request).await);
        self.inner
            .metrics
            .record_request(response.status().as_u16(), started.elapsed());
        response
    }

    /// Adds what every response carries: HSTS when the server is on HTTPS (secure cookies),
    /// so browsers keep to HTTPS for a year.
    fn finish(&self, mut response: http::Response<Bytes>) -> http::Response<Bytes> {
        if self.inner.config.secure_cookies {
            response.headers_mut().insert(
                http::header::STRICT_TRANSPORT_SECURITY,
                http::HeaderValue::from_static("max-age=31536000"),
            );
        }
        response
    }

    /// The JSON error response for a request an adapter refused itself (for example a body
    /// above the limit), counted in the metrics like any other.
    pub fn error_response(&self, error: &ApiError) -> http::Response<Bytes> {
        let response = self.finish(crate::dispatch::error_response(error));
        self.inner
            .metrics
            .record_request(response.status().as_u16(), std::time::Duration::ZERO);
        response
    }
}
