//! What the two reference servers (`axum-server`, `warp-server`) share, so each of them is only
//! the few lines that mount `chat-http` on its framework.
//!
//! - [`cli`]: the clap command line (`serve` (default), `migrate`, `createsuperuser`), with every
//!   setting also readable from a `CHAT_*` environment variable.
//! - [`database`]: the `--database` URL (`sqlite:PATH` or `postgres://...`) and opening the
//!   store and broker behind a [`chat_core::ChatService`].
//! - [`open_files`]: raising the open-files limit to fit the connection cap.
//! - [`run`]: logging, the subcommands, and serving with graceful shutdown on SIGINT/SIGTERM.
//! - `testing` (feature `testing`): starting a server binary in tests and probing its
//!   connection limits.
//!
//! A server's `main` is:
//!
//! ```no_run
//! # async fn serve(
//! #     chat: chat_http::ChatHttp,
//! #     server: chat_http::server::HttpServer,
//! #     shutdown: server_common::ShutdownFuture,
//! # ) -> std::io::Result<()> { Ok(()) }
//! fn main() -> std::process::ExitCode {
//!     server_common::main("axum-server", serve)
//! }
//! ```

pub mod cli;
pub mod database;
pub mod open_files;
pub mod run;
#[cfg(test)]
mod server_tests;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use cli::{Cli, Command, CreateSuperuserArgs, GlobalArgs, ServeArgs};
pub use database::{Database, open_service};
pub use run::{BoxError, ShutdownFuture, main};
