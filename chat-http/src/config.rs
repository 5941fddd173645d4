//! `HttpConfig`: every tunable of the HTTP and WebSocket layer in one place (origins, cookies,
//! what to serve, and the per-connection limits of the protocol engine).

use ipnet::IpNet;
use std::time::Duration;

/// A token bucket: `burst` actions at once, refilled at `per_second` actions per second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Bucket size: how many actions may happen back to back.
    pub burst: u32,
    /// Refill rate in actions per second.
    pub per_second: f64,
}

impl RateLimit {
    /// A bucket of `burst` refilled at `per_second`.
    pub fn new(burst: u32, per_second: f64) -> RateLimit {
        RateLimit { burst, per_second }
    }
}

/// Rates per client address (see [`client_addr`](crate::client_addr)); `None` turns one off.
/// Requests whose client address is unknown (no [`PeerAddr`](crate::PeerAddr)) are not
/// counted here.
#[derive(Debug, Clone, PartialEq)]
pub struct AddressLimits {
    /// Sign ups.
    pub signup: Option<RateLimit>,
    /// Log-in attempts (besides the per-username limit).
    pub login: Option<RateLimit>,
    /// Room creation.
    pub create_room: Option<RateLimit>,
    /// Searches.
    pub search: Option<RateLimit>,
    /// WebSocket handshakes.
    pub handshake: Option<RateLimit>,
}

impl AddressLimits {
    /// No per-address rate limits (benchmarks, or a proxy in front that limits already).
    pub fn off() -> AddressLimits {
        AddressLimits {
            signup: None,
            login: None,
            create_room: None,
            search: None,
            handshake: None,
        }
    }
}

impl Default for AddressLimits {
    fn default() -> Self {
        AddressLimits {
            signup: Some(RateLimit::new(10, 1.0 / 30.0)),
            login: Some(RateLimit::new(30, 1.0)),
            create_room: Some(RateLimit::new(10, 0.2)),
            search: Some(RateLimit::new(30, 2.0)),
            handshake: Some(RateLimit::new(60, 5.0)),
        }
    }
}

/// Configuration of [`ChatHttp`](crate::ChatHttp).
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Origins (`scheme://host[:port]`) allowed to open WebSockets and to send cookie-authenticated
    /// state-changing requests. Empty: only the server's own origin (the `Host` header).
    pub allowed_origins: Vec<String>,
    /// Marks the session cookie `Secure` and sends `Strict-Transport-Security` on every
    /// response (serve over HTTPS).
    pub secure_cookies: bool,
    /// Reverse proxies (addresses or networks) whose `Forwarded` / `X-Forwarded-For` headers
    /// name the client. Empty: the TCP peer is the client and those headers are ignored.
    pub trusted_proxies: Vec<IpNet>,
    /// Serves the embedded web UI ([`ui::PAGES`](crate::ui::PAGES), `/rooms/{name}`,
    /// `/static/*`).
    pub serve_ui: bool,
    /// Serves the admin page (`/admin`) of the web UI; the admin JSON API stays, authorized
    /// per request. Off for apps with a back office of their own.
    pub serve_admin: bool,
    /// Where the chat is mounted as the browser sees it, such as `/chat`. Empty (the default):
    /// where the adapter finds it mounted (axum's `Router::nest`, warp's path filters), so set
    /// it only when a proxy in front strips a prefix. The web UI's URLs, its WebSocket URL and
    /// the session cookie's `Path` follow it. See [`mount`](Self::mount).
    pub base_path: String,
    /// Serves Prometheus metrics at `/metrics`.
    pub serve_metrics: bool,
    /// Largest accepted HTTP request body in bytes (larger: 413).
    pub max_body_bytes: usize,
    /// Largest accepted WebSocket text frame in bytes; larger frames get a `frame_too_large`
    /// error frame. Frames above four times this size (at least 64 KiB) close the connection
    /// with 1009.
    pub max_frame_bytes: usize,
    /// How many rooms one connection may have joined at once.
    pub max_rooms_per_connection: usize,
    /// Frames the connection's reader may queue for its writer (acks, errors, `joined`, history
    /// pages). Room messages are not queued: the writer reads the room feeds itself.
    pub outbound_queue: usize,
    /// How long writing one batch of frames to a client (or a full outbound queue) may stall
    /// before the connection counts as a slow consumer and is closed with 4008. Meanwhile its
    /// room feeds fall behind and later catch up from the store, so nothing is lost.
    pub slow_consumer_grace: Duration,
    /// Largest number of bytes of frames the outbound queue holds (besides its frame count);
    /// a frame that does not fit waits like one that finds the queue full. A single frame
    /// larger than this passes when the queue is empty.
    pub outbound_queue_bytes: usize,
    /// Per-user rate of actions: `send`, `edit`, `delete` and `history` frames and REST edits
    /// and deletes, one budget shared by all sockets and requests of a user. `None` disables
    /// it (benchmarks).
    pub rate_limit: Option<RateLimit>,
    /// Per-username rate of login attempts. `None` disables it.
    pub login_rate_limit: Option<RateLimit>,
    /// Rates per client address.
    pub address_limits: AddressLimits,
    /// Most WebSockets one user may have open at once (0: no cap); more get 429
    /// `too_many_sockets`.
    pub max_sockets_per_user: usize,
    /// Most WebSockets one client address may have open at once (0: no cap).
    pub max_sockets_per_address: usize,
    /// Consecutive rate-limited frames after which a connection is closed with 4029.
    pub abuse_threshold: u32,
    /// How often the server pings an idle socket.
    pub ping_interval: Duration,
    /// A socket from which nothing (not even a pong) arrives for this long is closed with 4000.
    pub idle_timeout: Duration,
    /// How often an open WebSocket re-reads its user: a deactivated (or deleted) user is
    /// disconnected with 4001, and changed admin rights take effect.
    pub session_check_interval: Duration,
    /// Read buffer of each WebSocket in bytes. It is allocated for every open connection, idle
    /// or not: tungstenite's default of 128 KiB costs about 135 KB per idle connection. Client
    /// frames are small, so 1 KiB (a larger frame just takes more reads) keeps an idle
    /// authenticated connection near 8 KB of server memory.
    pub read_buffer_bytes: usize,
    /// Write buffer of each WebSocket in bytes: frames are collected up to this size before a
    /// write to the socket, so fan-out bursts cost few system calls.
    pub write_buffer_bytes: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            allowed_origins: Vec::new(),
            secure_cookies: false,
            trusted_proxies: Vec::new(),
            serve_ui: true,
            serve_admin: true,
            base_path: String::new(),
            serve_metrics: true,
            max_body_bytes: 64 * 1024,
            max_frame_bytes: 16 * 1024,
            max_rooms_per_connection: 64,
            outbound_queue: 1024,
            slow_consumer_grace: Duration::from_secs(2),
            outbound_queue_bytes: 4 * 1024 * 1024,
            rate_limit: Some(RateLimit::new(20, 5.0)),
            login_rate_limit: Some(RateLimit::new(10, 0.2)),
            address_limits: AddressLimits::default(),
            max_sockets_per_user: 32,
            max_sockets_per_address: 256,
            abuse_threshold: 50,
            ping_interval: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(60),
            session_check_interval: Duration::from_secs(30),
            read_buffer_bytes: 1024,
            write_buffer_bytes: 4 * 1024,
        }
    }
}

impl HttpConfig {
    /// [`base_path`](Self::base_path) normalised: empty for the root, else one leading `/` and
    /// no trailing one (`chat/` becomes `/chat`). A path that is not plain segments of URL
    /// path characters (letters, digits, `-._~%!$&'()*+,;=:@`; no empty, `.` or `..` segment)
    /// is ignored, with a warning, as if unset.
    pub fn mount(&self) -> String {
        let trimmed = self.base_path.trim().trim_matches('/');
        if trimmed.is_empty() {
            return String::new();
        }
        let segment_ok = |segment: &str| {
            !matches!(segment, "" | "." | "..")
                && segment
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-._~%!$&'()*+,;=:@".contains(c))
        };
        if trimmed.split('/').all(segment_ok) {
            format!("/{trimmed}")
        } else {
            tracing::warn!(base_path = %self.base_path, "ignoring an invalid base_path");
            String::new()
        }
    }

    /// The transport's hard message size limit: bigger messages close the socket with 1009.
    pub fn transport_max_message(&self) -> usize {
        self.max_frame_bytes.saturating_mul(4).max(64 * 1024)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_is_normalised_or_ignored() {
        let mount = |base: &str| {
            HttpConfig {
                base_path: base.into(),
                ..HttpConfig::default()
            }
            .mount()
        };
        assert_eq!(mount(""), "");
        assert_eq!(mount("/"), "");
        assert_eq!(mount("chat/"), "/chat");
        assert_eq!(mount("/apps/chat"), "/apps/chat");
        for bad in ["/a//b", "/../x", "/a\"b", "/a<b", "/a b", "/x/./y"] {
            assert_eq!(mount(bad), "", "{bad}");
        }
    }
}
