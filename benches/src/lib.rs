//! # chat-benches
//!
//! Benchmarks for the chat library, and the tools to measure a running server from outside:
//!
//! - [`loadgen`]: the WebSocket load generator behind the `loadgen` binary (authenticated
//!   clients in rooms sending timestamped probes; loss, duplicates, order, latency,
//!   throughput; idle connections for RSS per connection).
//! - [`ceiling`]: the `ceiling` binary's minimal tokio-tungstenite broadcast server (optionally
//!   writing to SQLite in batches), the yardstick the reference server is compared with.
//! - [`wire`]: the bytes of protocol 1 both need, scanned without a JSON parse on the hot path.
//! - [`http1`]: a tiny HTTP/1.1 client and request reader for the JSON API calls.
//!
//! The criterion suites live in `benches/benches/`; `scripts/bench.sh` runs everything and
//! `BENCHMARKS.md` records the results.

pub mod ceiling;
pub mod http1;
pub mod loadgen;
pub mod wire;

/// The error type of the tools: anything printable, sendable across tasks.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;
