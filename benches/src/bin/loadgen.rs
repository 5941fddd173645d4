//! `loadgen`: the WebSocket load generator (see `chat_benches::loadgen`).
//!
//! ```text
//! # 200 clients in 10 rooms at 5 msgs/s each (20,000 deliveries/s), 10 s after 2 s warm-up
//! loadgen --server 127.0.0.1:8000 --clients 200 --rooms 10 --rate 5 --duration 10
//! # the same connections through rising load; stops at the first step with p99 > 50 ms or loss
//! loadgen --server 127.0.0.1:8000 --ramp 100000,200000,400000,800000,1200000
//! # 10,000 idle authenticated connections; prints the server's RSS per connection
//! loadgen --server 127.0.0.1:8000 --connections-only 10000 --server-pid 1234
//! ```
//! Output: a human table, then one JSON line per step (`"kind":"load"`), per ramp
//! (`"kind":"ramp"`) or per idle run (`"kind":"idle"`). With `--fail-on-loss` the exit code is 1
//! when anything was lost, duplicated, reordered or refused.

use chat_benches::BoxError;
use chat_benches::loadgen::{self, LoadConfig, idle::IdleConfig};
use clap::Parser;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

/// WebSocket load generator for the chat protocol (127.0.0.1 only).
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Server address, `127.0.0.1:PORT` (an `http://` prefix is accepted).
    #[arg(long, default_value = "127.0.0.1:8000")]
    server: String,
    /// Connections.
    #[arg(long, default_value_t = 200)]
    clients: usize,
    /// Rooms; connection c joins room c % rooms.
    #[arg(long, default_value_t = 10)]
    rooms: usize,
    /// Distinct users signed up (connections share their tokens); default min(clients, 50).
    #[arg(long)]
    users: Option<usize>,
    /// Messages per second per connection.
    #[arg(long, default_value_t = 5.0)]
    rate: f64,
    /// Instead of --rate: a target in deliveries per second for the whole run.
    #[arg(long)]
    deliveries: Option<f64>,
    /// Ramp through these targets (deliveries/s, comma-separated) on the same connections.
    #[arg(long, value_delimiter = ',')]
    ramp: Vec<f64>,
    /// Measured seconds per step.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Warm-up seconds before the first step's window.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Warm-up seconds before each later ramp step.
    #[arg(long, default_value_t = 1.0)]
    step_warmup: f64,
    /// Longest wait for late deliveries after each step, seconds.
    #[arg(long, default_value_t = 5.0)]
    drain: f64,
    /// Ramp knee: a step fails when its p99 exceeds this many milliseconds (or anything is lost).
    #[arg(long, default_value_t = 50.0)]
    knee_p99_ms: f64,
    /// Stop a ramp after this many failing steps in a row; the knee is the highest passing step.
    #[arg(long, default_value_t = 1)]
    ramp_patience: usize,
    /// Minimum body length, bytes.
    #[arg(long, default_value_t = 64)]
    body_size: usize,
    /// Prefix of the generated user and room names.
    #[arg(long, default_value = "lg")]
    prefix: String,
    /// Password of the generated users.
    #[arg(long, default_value = "loadgen-password-1")]
    password: String,
    /// Do not call the JSON API; connect with a dummy token (ceiling servers).
    #[arg(long)]
    no_auth: bool,
    /// Ask the server to batch frames (`GET /ws?batch=1`: what it has ready at once comes as
    /// one text frame, one JSON object per line).
    #[arg(long)]
    batch: bool,
    /// Handshakes in flight at once.
    #[arg(long, default_value_t = 64)]
    connect_concurrency: usize,
    /// Read buffer of each connection, bytes (tungstenite zero-fills its free part before every
    /// read, so a large one costs CPU on every read).
    #[arg(long, default_value_t = 8 * 1024)]
    read_buffer: usize,
    /// Hold this many idle authenticated connections instead of sending.
    #[arg(long)]
    connections_only: Option<usize>,
    /// Seconds to hold idle connections once open.
    #[arg(long, default_value_t = 3.0)]
    hold: f64,
    /// The server's pid: its RSS per idle connection, its CPU time per delivery (from /proc).
    #[arg(long)]
    server_pid: Option<u32>,
    /// Label in the report.
    #[arg(long, default_value = "run")]
    label: String,
    /// Exit with status 1 when anything was lost, duplicated, out of order or refused.
    #[arg(long)]
    fail_on_loss: bool,
    /// Runtime worker threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
    /// Hard limit on the whole run, seconds.
    #[arg(long, default_value_t = 600.0)]
    timeout: f64,
}

fn main() {
    let args = Args::parse();
    match run(args) {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(e) => {
            eprintln!("loadgen: {e}");
            std::process::exit(2);
        }
    }
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.0))
}

fn resolve(server: &str) -> Result<SocketAddr, BoxError> {
    let trimmed = server
        .trim_start_matches("http://")
        .trim_start_matches("ws://")
        .trim_end_matches('/');
    let addr = trimmed
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| format!("cannot resolve {server}"))?;
    loadgen::check_loopback(addr)?;
    Ok(addr)
}

/// Runs and returns whether the run was clean (only meaningful with `--fail-on-loss`).
fn run(args: Args) -> Result<bool, BoxError> {
    let addr = resolve(&args.server)?;
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all();
    if let Some(n) = args.threads {
        builder.worker_threads(n.max(1));
    }
    let runtime = builder.build()?;
    let limit = secs(args.timeout);
    let outcome = runtime.block_on(async {
        tokio::time::timeout(limit, run_async(args, addr))
            .await
            .map_err(|_| -> BoxError { format!("--timeout of {limit:?} reached").into() })?
    });
    // Connection tasks may still be parked; do not wait for them.
    runtime.shutdown_timeout(Duration::from_millis(500));
    outcome
}

async fn run_async(args: Args, addr: SocketAddr) -> Result<bool, BoxError> {
    if let Some(n) = args.connections_only {
        let report = loadgen::idle::run(IdleConfig {
            addr,
            connections: n,
            users: args.users.unwrap_or(4),
            no_auth: args.no_auth,
            prefix: args.prefix,
            password: args.password,
            hold: secs(args.hold),
            server_pid: args.server_pid,
            connect_concurrency: args.connect_concurrency,
            label: args.label,
        })
        .await?;
        print!("{}", report.table());
        println!("{}", serde_json::to_string(&report)?);
        return Ok(report.failed == 0 && report.closed_while_held == 0);
    }
    let clients = args.clients.max(1);
    let rates: Vec<f64> = if !args.ramp.is_empty() {
        args.ramp
            .iter()
            .map(|&d| loadgen::rate_for(d, clients, args.rooms))
            .collect()
    } else if let Some(d) = args.deliveries {
        vec![loadgen::rate_for(d, clients, args.rooms)]
    } else {
        vec![args.rate]
    };
    let (reports, _summary) = loadgen::run(LoadConfig {
        addr,
        clients,
        rooms: args.rooms,
        users: args.users.unwrap_or(clients.min(50)),
        no_auth: args.no_auth,
        batch: args.batch,
        prefix: args.prefix,
        password: args.password,
        body_size: args.body_size,
        rates,
        warmup: secs(args.warmup),
        step_warmup: secs(args.step_warmup),
        duration: secs(args.duration),
        drain: secs(args.drain),
        knee_p99_ms: args.knee_p99_ms,
        ramp_patience: args.ramp_patience,
        connect_concurrency: args.connect_concurrency,
        read_buffer: args.read_buffer,
        label: args.label,
        server_pid: args.server_pid,
    })
    .await?;
    let clean = reports.iter().all(|r| r.clean() && r.delivered > 0);
    Ok(!args.fail_on_loss || clean)
}
