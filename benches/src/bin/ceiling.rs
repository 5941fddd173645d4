//! `ceiling`: the minimal room broadcast server the reference server is measured against, in
//! the same run on the same machine (see `chat_benches::ceiling`).
//!
//! ```text
//! ceiling --bind 127.0.0.1:0                      # no persistence
//! ceiling --bind 127.0.0.1:0 --durable /tmp/c.db  # SQLite batches before broadcast
//! ```
//! It prints `ceiling listening on ADDR` once it accepts connections, and exits by itself after
//! `--exit-after` seconds (a safety net for a script that dies without killing it).

use chat_benches::BoxError;
use chat_benches::ceiling::{self, CeilingConfig};
use clap::Parser;
use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

/// Minimal tokio-tungstenite room broadcast server (benchmark ceiling).
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Address to listen on (loopback).
    #[arg(long, default_value = "127.0.0.1:0")]
    bind: String,
    /// Write every message to this SQLite file, in batches, before broadcasting it.
    #[arg(long)]
    durable: Option<PathBuf>,
    /// Frames queued per connection before it is closed as slow.
    #[arg(long, default_value_t = 8192)]
    queue: usize,
    /// Most messages per SQLite transaction.
    #[arg(long, default_value_t = 4096)]
    batch_max: usize,
    /// WebSocket read buffer per connection, bytes.
    #[arg(long, default_value_t = 4096)]
    read_buffer: usize,
    /// Worker threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
    /// Exit after this many seconds.
    #[arg(long, default_value_t = 3600)]
    exit_after: u64,
}

fn main() {
    let args = Args::parse();
    if let Err(e) = run(args) {
        eprintln!("ceiling: {e}");
        std::process::exit(2);
    }
}

fn run(args: Args) -> Result<(), BoxError> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all();
    if let Some(n) = args.threads {
        builder.worker_threads(n.max(1));
    }
    let runtime = builder.build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&args.bind).await?;
        let addr = listener.local_addr()?;
        let config = CeilingConfig {
            durable: args.durable.clone(),
            queue: args.queue.max(16),
            batch_max: args.batch_max,
            read_buffer: args.read_buffer.max(256),
        };
        let mode = if args.durable.is_some() {
            "durable"
        } else {
            "memory"
        };
        println!("ceiling listening on {addr} ({mode})");
        std::io::stdout().flush()?;
        tokio::select! {
            result = ceiling::serve(listener, config) => result,
            _ = tokio::signal::ctrl_c() => Ok(()),
            () = tokio::time::sleep(Duration::from_secs(args.exit_after)) => {
                eprintln!("ceiling: --exit-after reached");
                Ok(())
            }
        }
    })
}
