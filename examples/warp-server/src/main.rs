//! The warp reference server: the whole chat (web UI, admin panel, JSON API, WebSocket
//! protocol, `/metrics`, `/healthz`) as one warp filter. Everything but mounting and serving
//! lives in `server-common`, shared with the axum server.
//!
//! `cargo run --release -p warp-server` serves <http://127.0.0.1:8000> with SQLite at
//! `./chat.db`; `--help` lists the options (`serve`, `migrate`, `createsuperuser`).

use chat_http::ChatHttp;
use server_common::ShutdownFuture;
use std::process::ExitCode;
use tokio::net::TcpListener;

fn main() -> ExitCode {
    server_common::main("warp-server", serve)
}

/// Serves `chat` on `listener` until `shutdown` resolves, then lets in-flight requests finish.
async fn serve(
    chat: ChatHttp,
    listener: TcpListener,
    shutdown: ShutdownFuture,
) -> std::io::Result<()> {
    // An existing warp app would combine its own filters with these using `.or(...)`.
    let routes = chat_http::warp::routes(chat);
    warp::serve(routes)
        .incoming(listener)
        .graceful(shutdown)
        .run()
        .await;
    Ok(())
}
