//! `cargo run -p embed-jwt --bin embed-jwt-axum`: <http://127.0.0.1:3001>. Get a token with
//! `curl -d '{"username":"alice","password":"alice-password"}' 127.0.0.1:3001/auth/token`,
//! then call `/chat/api/me` with `Authorization: Bearer <token>`. The signing secret comes
//! from `APP_JWT_SECRET` (a development default otherwise).

use axum::serve::ListenerExt;
use std::time::Duration;

#[tokio::main]
async fn main() -> Result<(), embed_jwt::BoxError> {
    let secret = embed_jwt::secret_from_env();
    let chat = embed_jwt::chat("embed-jwt.db".as_ref(), &secret).await?;
    let app = embed_jwt::axum_app(chat.clone(), secret);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3001").await?;
    // TCP_NODELAY: an ack right after a message must not wait for a delayed ACK.
    let listener = listener.tap_io(|socket| {
        let _ = socket.set_nodelay(true);
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(chat.shutdown_on(chat_http::shutdown_signal()))
        .await?;
    chat.finish_shutdown(Duration::from_secs(10)).await?;
    Ok(())
}
