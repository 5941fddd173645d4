//! `cargo run -p echo-bot -- --url ws://127.0.0.1:8080/ws --room general` with the bot's
//! session token (or JWT) in `CHAT_TOKEN`: answers `!ping` with `pong` until its session ends.

use chat_client::{Auth, Client};
use clap::Parser;

/// Command line.
#[derive(Debug, Parser)]
struct Args {
    /// The chat's WebSocket URL.
    #[arg(long, default_value = "ws://127.0.0.1:8080/ws")]
    url: String,
    /// The room to answer in.
    #[arg(long, default_value = "general")]
    room: String,
    /// The bot's bearer token: a chat session token or a JWT.
    #[arg(long, env = "CHAT_TOKEN", hide_env_values = true)]
    token: String,
}

#[tokio::main]
async fn main() -> Result<(), chat_client::ClientError> {
    let args = Args::parse();
    let (client, events) = Client::connect(&args.url, Auth::bearer(args.token)).await?;
    println!("answering !ping in {}", args.room);
    Err(echo_bot::run(client, events, &args.room).await)
}
