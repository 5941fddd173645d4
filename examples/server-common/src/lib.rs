//! What the two reference servers (`axum-server`, `warp-server`) share, so each of them is only
//! the few lines that mount `chat-http` on its framework.
//!
//! - [`cli`]: the clap command line (`serve` (default), `migrate`, `createsuperuser`), with every
//!   setting also readable from a `CHAT_*` environment variable.
//! - [`database`]: the `--database` URL (`sqlite:PATH` or `postgres://...`) and opening the
//!   store and broker behind a [`chat_core::ChatService`].
//! - [`run`]: logging, the subcommands, and serving with graceful shutdown on SIGINT/SIGTERM.
//!
//! A server's `main` is:
//!
//! ```no_run
//! # async fn serve(
//! #     chat: chat_http::ChatHttp,
//! #     listener: tokio::net::TcpListener,
//! #     shutdown: server_common::ShutdownFuture,
//! # ) -> std::io::Result<()> { Ok(()) }
//! fn main() -> std::process::ExitCode {
//!     server_common::main("axum-server", serve)
//! }
//! ```

pub mod cli;
pub mod database;
pub mod run;

pub use cli::{Cli, Command, CreateSuperuserArgs, GlobalArgs, ServeArgs};
pub use database::{Database, OpenStore, open_service};
pub use run::{BoxError, ShutdownFuture, main};
