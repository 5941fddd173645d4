//! `cargo run -p embed-axum`: the app on <http://127.0.0.1:3000> (log in as `alice` /
//! `alice-password` or `bob` / `bob-password`, then open the chat), SQLite at `./embed.db`.

use axum::serve::ListenerExt;
use std::time::Duration;

#[tokio::main]
async fn main() -> Result<(), embed_axum::BoxError> {
    let (app, chat) = embed_axum::app("embed.db".as_ref()).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    // TCP_NODELAY: an ack right after a message must not wait for a delayed ACK.
    let listener = listener.tap_io(|socket| {
        let _ = socket.set_nodelay(true);
    });
    println!("http://127.0.0.1:3000");
    axum::serve(listener, app)
        .with_graceful_shutdown(chat.shutdown_on(chat_http::shutdown_signal()))
        .await?;
    chat.finish_shutdown(Duration::from_secs(10)).await?;
    Ok(())
}
