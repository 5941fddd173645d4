//! The axum reference server: the whole chat (web UI, admin panel, JSON API, WebSocket
//! protocol, `/metrics`, `/healthz`) mounted on axum with one `merge`. Everything but mounting
//! and serving lives in `server-common`, shared with the warp server.
//!
//! `cargo run --release -p axum-server` serves <http://127.0.0.1:8000> with SQLite at
//! `./chat.db`; `--help` lists the options (`serve`, `migrate`, `createsuperuser`).

use chat_http::ChatHttp;
use chat_http::server::HttpServer;
use server_common::ShutdownFuture;
use std::process::ExitCode;

fn main() -> ExitCode {
    server_common::main("axum-server", serve)
}

/// Serves `chat` until `shutdown` resolves, then lets in-flight requests finish. The server
/// is server-common's accept loop (timeouts, connection cap) rather than `axum::serve`; an
/// axum `Router` is the tower service it runs.
async fn serve(
    chat: ChatHttp,
    server: HttpServer,
    shutdown: ShutdownFuture,
) -> std::io::Result<()> {
    // An existing axum app would add its own routes here and nest or merge the chat in.
    let mount = chat.config().mount();
    let routes = chat_http::axum::router(chat);
    let app = if mount.is_empty() {
        axum::Router::new().merge(routes)
    } else {
        axum::Router::new().nest(&mount, routes)
    };
    server.serve(app, shutdown).await
}
