//! `--connections-only N`: open N idle authenticated WebSocket connections, hold them, and read
//! the server's resident memory before and after (from `/proc/PID/status`) to get its memory
//! per idle connection.
//!
//! Signing up N users would take minutes with argon2, so the connections share a few users'
//! tokens; each connection is still authenticated by the server at its handshake.

use super::procstat::rss_kb;
use super::setup;
use crate::BoxError;
use crate::wire::Scanner;
use futures::StreamExt;
use serde::Serialize;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// How to run the idle-connections measurement.
#[derive(Debug, Clone)]
pub struct IdleConfig {
    /// Server address (loopback only).
    pub addr: SocketAddr,
    /// Connections to open.
    pub connections: usize,
    /// Distinct users whose tokens the connections share.
    pub users: usize,
    /// Skip the JSON API (ceiling servers).
    pub no_auth: bool,
    /// User name prefix.
    pub prefix: String,
    /// Password.
    pub password: String,
    /// How long to hold the connections once all are open.
    pub hold: Duration,
    /// The server's process id, to read its RSS.
    pub server_pid: Option<u32>,
    /// Handshakes in flight at once.
    pub connect_concurrency: usize,
    /// Label in the report.
    pub label: String,
}

/// The result, printed as a table and one JSON line.
#[derive(Debug, Clone, Serialize)]
pub struct IdleReport {
    /// Always `"idle"`.
    pub kind: &'static str,
    /// Label.
    pub label: String,
    /// Server address.
    pub server: String,
    /// Connections requested.
    pub requested: usize,
    /// Connections open (hello received).
    pub connections: u64,
    /// Handshakes that failed.
    pub failed: u64,
    /// Connections the server closed while held.
    pub closed_while_held: u64,
    /// Distinct users.
    pub users: usize,
    /// Seconds to open them all.
    pub connect_s: f64,
    /// Server RSS before connecting, KiB.
    pub server_rss_before_kb: Option<u64>,
    /// Server RSS with every connection open, KiB.
    pub server_rss_after_kb: Option<u64>,
    /// `(after - before) / connections`, KiB.
    pub rss_per_connection_kb: Option<f64>,
    /// The same in bytes (compare with targets given in KB = 1000 bytes).
    pub rss_per_connection_bytes: Option<f64>,
    /// The first error seen.
    pub first_error: Option<String>,
}

/// Opens, measures, holds and closes the idle connections.
pub async fn run(config: IdleConfig) -> Result<IdleReport, BoxError> {
    super::check_loopback(config.addr)?;
    let users = config.users.clamp(1, config.connections.max(1));
    let tokens: Arc<Vec<String>> = Arc::new(if config.no_auth {
        vec!["loadgen".to_owned()]
    } else {
        setup::tokens(config.addr, &config.prefix, &config.password, users, 4).await?
    });
    let scanner = Scanner::new();
    // Let the server settle after the signups: the reference server's hashing threads give
    // their argon2 buffers back after a second without work.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = config.server_pid.and_then(rss_kb);

    let (quit_tx, quit_rx) = watch::channel(false);
    let closed = Arc::new(AtomicU64::new(0));
    // Small buffers: the generator's own memory is not what is measured, but 10,000 default
    // 128 KiB read buffers would still be 1.3 GB.
    let ws_config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0);
    let started = Instant::now();
    let mut failed = 0u64;
    let mut first_error: Option<String> = None;
    let mut holders = Vec::with_capacity(config.connections);
    {
        let attempts = (0..config.connections).map(|i| {
            let tokens = Arc::clone(&tokens);
            let scanner = scanner.clone();
            let addr = config.addr;
            async move {
                let token = &tokens[i % tokens.len()];
                setup::connect(addr, token, ws_config, &scanner, false).await
            }
        });
        let mut stream =
            futures::stream::iter(attempts).buffer_unordered(config.connect_concurrency.max(1));
        while let Some(result) = stream.next().await {
            match result {
                Ok(mut ws) => {
                    let mut quit = quit_rx.clone();
                    let closed = Arc::clone(&closed);
                    holders.push(tokio::spawn(async move {
                        loop {
                            tokio::select! {
                                frame = ws.next() => match frame {
                                    Some(Ok(_)) => {}
                                    _ => {
                                        closed.fetch_add(1, Ordering::Relaxed);
                                        return;
                                    }
                                },
                                _ = quit.changed() => return,
                            }
                        }
                    }));
                }
                Err(e) => {
                    failed += 1;
                    if first_error.is_none() {
                        first_error = Some(e.to_string());
                    }
                }
            }
        }
    }
    let connect_s = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = config.server_pid.and_then(rss_kb);
    let open = holders.len() as u64;
    eprintln!("loadgen: READY {open} idle connections ({failed} failed) in {connect_s:.1} s");
    tokio::time::sleep(config.hold).await;
    let _ = quit_tx.send(true);
    for h in holders {
        let _ = tokio::time::timeout(Duration::from_secs(5), h).await;
    }
    let per_connection = match (before, after) {
        (Some(b), Some(a)) if open > 0 => Some((a as f64 - b as f64) / open as f64),
        _ => None,
    };
    Ok(IdleReport {
        kind: "idle",
        label: config.label,
        server: config.addr.to_string(),
        requested: config.connections,
        connections: open,
        failed,
        closed_while_held: closed.load(Ordering::Relaxed),
        users: tokens.len(),
        connect_s,
        server_rss_before_kb: before,
        server_rss_after_kb: after,
        rss_per_connection_kb: per_connection,
        rss_per_connection_bytes: per_connection.map(|kib| kib * 1024.0),
        first_error,
    })
}

impl IdleReport {
    /// The human table.
    pub fn table(&self) -> String {
        let opt = |v: Option<u64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v} KiB"));
        format!(
            "== {} @ {}: {} idle connections ({} users)\n  {:<22} {} ({} failed, {} closed while held)\n  {:<22} {:.1} s\n  {:<22} {}\n  {:<22} {}\n  {:<22} {}\n  {:<22} {}\n",
            self.label,
            self.server,
            self.requested,
            self.users,
            "open",
            self.connections,
            self.failed,
            self.closed_while_held,
            "connect time",
            self.connect_s,
            "server RSS before",
            opt(self.server_rss_before_kb),
            "server RSS after",
            opt(self.server_rss_after_kb),
            "RSS per connection",
            self.rss_per_connection_kb.map_or_else(
                || "-".to_owned(),
                |v| format!("{v:.2} KiB = {:.0} bytes", v * 1024.0)
            ),
            "first error",
            self.first_error.clone().unwrap_or_else(|| "-".to_owned()),
        )
    }
}
