//! `cargo run -p embed-jwt --bin embed-jwt-warp`: the same app on warp, at
//! <http://127.0.0.1:3002>.

use std::time::Duration;

#[tokio::main]
async fn main() -> Result<(), embed_jwt::BoxError> {
    let secret = embed_jwt::secret_from_env();
    let chat = embed_jwt::chat("embed-jwt.db".as_ref(), &secret).await?;
    let app = embed_jwt::warp_app(chat.clone(), secret);
    // TCP_NODELAY on the listening socket, which accepted sockets inherit on Linux: an ack
    // right after a message must not wait for a delayed ACK.
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.set_nodelay(true)?;
    socket.bind(([127, 0, 0, 1], 3002).into())?;
    warp::serve(app)
        .incoming(socket.listen(1024)?)
        .graceful(chat.shutdown_on(chat_http::shutdown_signal()))
        .run()
        .await;
    chat.finish_shutdown(Duration::from_secs(10)).await?;
    Ok(())
}
