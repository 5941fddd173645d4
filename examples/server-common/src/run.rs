//! Running a reference server: parse the command line, set up logging, and carry out
//! `serve`, `migrate` or `createsuperuser`. Only the framework-specific "mount the chat and
//! serve it on this [`HttpServer`] until that future resolves" part differs between axum and
//! warp; it is passed in.
//!
//! Shutdown on SIGINT/SIGTERM is chat-http's [`shutdown`](chat_http::shutdown) order: sockets
//! finish the frame in hand and close with 1001 while the accept loop stops and lets in-flight
//! requests finish (bounded by `--shutdown-timeout`), then the database is closed within the
//! same bound again (SQLite: queued writes committed, the search index caught up, both
//! write-ahead logs checkpointed into their files, so the main file alone is a complete copy).
//! `migrate` and `createsuperuser` close it the same way before they exit.

use crate::cli::{Cli, Command, CreateSuperuserArgs, GlobalArgs, ServeArgs};
use crate::database::open_service;
use crate::open_files::raise_open_files_limit;
use chat_core::{ChatError, Config, Store};
use chat_http::ChatHttp;
use chat_http::server::HttpServer;
use std::future::Future;
use std::io::{self, BufRead, IsTerminal};
use std::net::SocketAddr;
use std::pin::Pin;
use std::process::ExitCode;
use std::time::Duration;
use tokio::net::{TcpListener, TcpSocket};
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

/// Any error, with a message fit for the terminal.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Resolves when the server should stop accepting connections and drain.
pub type ShutdownFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// How long `migrate` and `createsuperuser` wait for the database to close.
const CLOSE_GRACE: Duration = Duration::from_secs(10);

/// The whole program: parses the command line, runs the subcommand and returns the exit code.
///
/// `serve` mounts `chat` on the framework, serves it with the [`HttpServer`] (the bound
/// listener and the connection limits of the command line) and returns once the shutdown
/// future has resolved and in-flight requests are done.
pub fn main<F, Fut>(name: &str, serve: F) -> ExitCode
where
    F: FnOnce(ChatHttp, HttpServer, ShutdownFuture) -> Fut,
    Fut: Future<Output = io::Result<()>>,
{
    let (global, command) = Cli::parse_args().into_command();
    init_logging(&global.log);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{name}: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match command {
            Command::Serve(args) => run_serve(name, &global, &args, serve).await,
            Command::Migrate => migrate(&global).await,
            Command::Createsuperuser(args) => createsuperuser(&global, &args).await,
        }
    });
    // The store is closed by now; let other background tasks (the broker) wind down without
    // blocking forever.
    runtime.shutdown_timeout(Duration::from_secs(5));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{name}: error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|e| {
        eprintln!("invalid log filter `{filter}` ({e}); using `info`");
        EnvFilter::new("info")
    });
    // Fails only when a subscriber is already set, which is then used instead.
    let _ = tracing_subscriber::fmt().with_env_filter(filter).try_init();
}

async fn migrate(global: &GlobalArgs) -> Result<(), BoxError> {
    let service = open_service(&global.database, 16, Config::default()).await?;
    close_store(service.store().as_ref(), CLOSE_GRACE).await;
    println!("{} is migrated", global.database);
    Ok(())
}

async fn createsuperuser(global: &GlobalArgs, args: &CreateSuperuserArgs) -> Result<(), BoxError> {
    let password_stdin = args.password_stdin;
    let username = args.username.clone();
    let password = tokio::task::spawn_blocking(move || read_password(&username, password_stdin))
        .await
        .map_err(|e| format!("reading the password failed: {e}"))??;
    let service = open_service(&global.database, 16, Config::default()).await?;
    let created = service.create_user(&args.username, &password, true).await;
    close_store(service.store().as_ref(), CLOSE_GRACE).await;
    match created {
        Ok(user) => {
            println!("created admin `{}` (id {})", user.username, user.id.0);
            Ok(())
        }
        Err(ChatError::Conflict(_)) => {
            Err(format!("a user named `{}` already exists", args.username).into())
        }
        Err(e) => Err(e.to_string().into()),
    }
}

/// The password: the first line of stdin with `--password-stdin`, else asked twice on the
/// terminal without echo.
fn read_password(username: &str, from_stdin: bool) -> Result<String, BoxError> {
    if from_stdin {
        let mut line = String::new();
        io::stdin().lock().read_line(&mut line)?;
        let password = line.trim_end_matches(['\r', '\n']).to_owned();
        if password.is_empty() {
            return Err("no password on standard input".into());
        }
        return Ok(password);
    }
    if !io::stdin().is_terminal() {
        return Err("no terminal to ask for the password: use --password-stdin".into());
    }
    let first = rpassword::prompt_password(format!("Password for {username}: "))?;
    let second = rpassword::prompt_password("Password (again): ")?;
    if first != second {
        return Err("the passwords do not match".into());
    }
    Ok(first)
}

async fn run_serve<F, Fut>(
    name: &str,
    global: &GlobalArgs,
    args: &ServeArgs,
    serve: F,
) -> Result<(), BoxError>
where
    F: FnOnce(ChatHttp, HttpServer, ShutdownFuture) -> Fut,
    Fut: Future<Output = io::Result<()>>,
{
    // Bound first: a port that is taken ends the program before the database is opened, so
    // every return after the opening goes through `close_store`.
    let listener = listen(args.bind).map_err(|e| format!("cannot listen on {}: {e}", args.bind))?;
    let addr = listener.local_addr()?;
    raise_open_files_limit(args.max_connections);
    let http_server = HttpServer::new(listener, args.connection_limits());
    let service = open_service(&global.database, args.broker_capacity, args.core_config()).await?;
    let chat = ChatHttp::new(service, args.http_config());
    tracing::info!(database = %global.database, "{name} listening on http://{addr}");

    let stop = CancellationToken::new();
    let stopped = stop.clone();
    // Polled here rather than spawned: warp's server future is not `Send`.
    let server = serve(
        chat.clone(),
        http_server,
        Box::pin(chat.shutdown_on(async move { stopped.cancelled().await })),
    );
    tokio::pin!(server);
    let grace = args.shutdown_grace();

    let served = tokio::select! {
        finished = &mut server => finished.map_err(|e| format!("the server failed: {e}").into()),
        () = chat_http::shutdown_signal() => {
            tracing::info!(
                open_sockets = chat.open_connections(),
                "shutting down: closing sockets (1001 going away) and finishing open requests"
            );
            stop.cancel();
            match tokio::time::timeout(grace, &mut server).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(format!("the server failed while stopping: {e}").into()),
                Err(_) => {
                    tracing::warn!("requests still open after {}s; exiting anyway", grace.as_secs());
                    Ok(())
                }
            }
        }
    };
    match chat.finish_shutdown(grace).await {
        Ok(()) => tracing::info!("stopped; database closed"),
        // A database left open recovers at the next start (SQLite replays its log).
        Err(e) => tracing::warn!(error = %e, "stopped, but not cleanly"),
    }
    served
}

/// Closes the database within `grace` (see [`Store::close`]). A database left open is
/// recovered at the next start (SQLite replays its write-ahead log), so a failure or a
/// timeout is logged, not returned.
async fn close_store(store: &dyn Store, grace: Duration) {
    match tokio::time::timeout(grace, store.close()).await {
        Ok(Ok(())) => tracing::info!("database closed"),
        Ok(Err(e)) => tracing::warn!(error = %e, "closing the database failed"),
        Err(_) => tracing::warn!(
            "the database did not close within {}s; it recovers at the next start",
            grace.as_secs()
        ),
    }
}

/// Binds the listening socket with `TCP_NODELAY`, which accepted sockets inherit (checked on
/// Linux). Without it an `ack` written right after a `message` frame waits for the client's
/// delayed ACK, about 40 ms.
fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.set_nodelay(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}
