//! The warp reference server: the whole chat (web UI, admin panel, JSON API, WebSocket
//! protocol, `/metrics`, `/healthz`) as one warp filter. Everything but mounting and serving
//! lives in `server-common`, shared with the axum server.
//!
//! `cargo run --release -p warp-server` serves <http://127.0.0.1:8000> with SQLite at
//! `./chat.db`; `--help` lists the options (`serve`, `migrate`, `createsuperuser`).

use chat_http::ChatHttp;
use chat_http::server::HttpServer;
use server_common::ShutdownFuture;
use std::process::ExitCode;
use warp::Filter;

fn main() -> ExitCode {
    server_common::main("warp-server", serve)
}

/// Serves `chat` until `shutdown` resolves, then lets in-flight requests finish. The server
/// is server-common's accept loop (timeouts, connection cap) rather than `warp::serve`;
/// `warp::service` turns the filter into the tower service it runs.
async fn serve(
    chat: ChatHttp,
    server: HttpServer,
    shutdown: ShutdownFuture,
) -> std::io::Result<()> {
    // An existing warp app would combine its own filters with these using `.or(...)`, before
    // the recover that answers unknown paths with the chat's JSON 404.
    // `--base-path /a/b` is `warp::path("a").and(warp::path("b"))` in front of the chat.
    let mount = chat.config().mount();
    let prefix = mount
        .split('/')
        .filter(|segment| !segment.is_empty())
        .fold(warp::any().boxed(), |prefix, segment| {
            prefix.and(warp::path(segment.to_owned())).boxed()
        });
    let routes = prefix
        .and(chat_http::warp::routes(chat))
        .recover(chat_http::warp::recover);
    server.serve(warp::service(routes), shutdown).await
}
