//! The warp server runs on server-common's accept loop: it answers through it, drops a client
//! that does not finish its request head within `--header-read-timeout`, and holds
//! connections above `CHAT_MAX_CONNECTIONS` until one closes.

use server_common::testing::{ServerProcess, check_connection_cap, check_header_read_timeout, get};

const EXE: &str = env!("CARGO_BIN_EXE_warp-server");

#[tokio::test]
async fn serves_health_and_the_ui() {
    let server = ServerProcess::start(EXE, &[], &[]).await;
    assert_eq!(get(server.addr, "/healthz").await, Ok(200));
    assert_eq!(get(server.addr, "/").await, Ok(200));
    assert_eq!(get(server.addr, "/static/app.js").await, Ok(200));
}

#[tokio::test]
async fn drops_a_partial_request_head_after_the_header_read_timeout() {
    let server = ServerProcess::start(EXE, &["--header-read-timeout", "1"], &[]).await;
    check_header_read_timeout(&server).await;
}

#[tokio::test]
async fn holds_connections_above_the_cap_until_one_closes() {
    let server = ServerProcess::start(EXE, &[], &[("CHAT_MAX_CONNECTIONS", "2")]).await;
    check_connection_cap(&server).await;
}
