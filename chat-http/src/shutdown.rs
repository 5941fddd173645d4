//! Graceful shutdown, in the order the chat needs it: stop taking WebSockets and let each open
//! one finish the frame in hand (an in-flight post commits and is acked) and close with 1001;
//! let the HTTP server finish open requests; wait, bounded, for the sockets to go; last, close
//! the store so everything queued is on disk. An app wires it to its server in two calls:
//!
//! ```no_run
//! # async fn run(chat: chat_http::ChatHttp, app: axum::Router, listener: tokio::net::TcpListener) -> std::io::Result<()> {
//! axum::serve(listener, app)
//!     .with_graceful_shutdown(chat.shutdown_on(chat_http::shutdown_signal()))
//!     .await?;
//! chat.finish_shutdown(std::time::Duration::from_secs(10)).await.ok();
//! # Ok(()) }
//! ```

use crate::ChatHttp;
use chat_core::StoreError;
use std::future::Future;
use std::time::Duration;
use thiserror::Error;

/// What went wrong in [`ChatHttp::finish_shutdown`]. The store is closed (or tried) in every
/// case; a store left open recovers at the next start (SQLite replays its write-ahead log).
#[derive(Debug, Error)]
pub enum ShutdownError {
    /// Sockets were still open when the grace period ended.
    #[error("{0} sockets were still open after the grace period")]
    SocketsOpen(u64),
    /// The store did not close within the grace period.
    #[error("the store did not close within the grace period")]
    StoreTimeout,
    /// Closing the store failed.
    #[error("closing the store failed: {0}")]
    Store(#[from] StoreError),
}

impl ChatHttp {
    /// A future for the server's graceful-shutdown hook: it resolves when `signal` does,
    /// after starting the chat's [`shutdown`](Self::shutdown), so sockets close while the
    /// server drains its requests.
    pub fn shutdown_on<F>(&self, signal: F) -> impl Future<Output = ()> + Send + use<F>
    where
        F: Future<Output = ()> + Send,
    {
        let chat = self.clone();
        async move {
            signal.await;
            chat.shutdown();
        }
    }

    /// Finishes a shutdown once the server has stopped: starts it if nobody did, waits up to
    /// `grace` for the open sockets to close, then closes the store within `grace` again.
    pub async fn finish_shutdown(&self, grace: Duration) -> Result<(), ShutdownError> {
        self.shutdown();
        let sockets = match tokio::time::timeout(grace, self.closed()).await {
            Ok(()) => Ok(()),
            Err(_) => Err(ShutdownError::SocketsOpen(self.open_connections())),
        };
        let store = self.service().store();
        match tokio::time::timeout(grace, store.close()).await {
            Ok(Ok(())) => sockets,
            Ok(Err(e)) => Err(e.into()),
            Err(_) => Err(ShutdownError::StoreTimeout),
        }
    }
}

/// Resolves on SIGINT (Ctrl-C) or, on Unix, SIGTERM. When a signal cannot be listened to, a
/// warning is logged and only the other one counts.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("SIGINT received"),
        () = terminate => tracing::info!("SIGTERM received"),
    }
}
