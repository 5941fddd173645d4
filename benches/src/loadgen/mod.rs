//! The WebSocket load generator: N authenticated clients in R rooms sending probes at a fixed
//! rate, measuring what arrives where and how late; or N idle connections to read the server's
//! memory per connection.
//!
//! - [`setup`]: the users, tokens, rooms, handshakes, joins.
//! - [`client`]: the per-connection task (send schedule + receive path).
//! - [`stats`]: order tracking, the [`Report`](stats::Report).
//! - [`latency`]: the latency histograms, per generator thread.
//! - [`idle`]: the `--connections-only` mode.
//! - [`procstat`]: CPU time and RSS from `/proc`.
//!
//! Connection `c` is in room `c % R` and is sender `c / R` of that room. Every message goes to
//! every connection of its room, its sender's included, so a message's expected deliveries are
//! its room's connection count.

pub mod client;
pub mod idle;
pub mod latency;
pub mod procstat;
pub mod setup;
pub mod stats;

use crate::BoxError;
use crate::wire::Scanner;
use client::{Client, Command, Live, Step, StepReport};
use serde::Serialize;
use stats::{Report, StepStats, ms};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// Share of a step's target deliveries per second that must be measured for the step to pass
/// (the knee is the target of the highest passing step).
pub const MIN_ACHIEVED: f64 = 0.99;

/// Everything a load run needs.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// Server address (loopback only).
    pub addr: SocketAddr,
    /// Connections.
    pub clients: usize,
    /// Rooms.
    pub rooms: usize,
    /// Distinct users (connections share their tokens round-robin).
    pub users: usize,
    /// Skip the JSON API: connect with a dummy bearer token (ceiling servers).
    pub no_auth: bool,
    /// Connect with `/ws?batch=1`: the server may join the frames it has ready into one.
    pub batch: bool,
    /// Prefix of user and room names.
    pub prefix: String,
    /// Password of the generator's users.
    pub password: String,
    /// Minimum message body length in bytes.
    pub body_size: usize,
    /// Per-connection send rates of the steps, messages per second.
    pub rates: Vec<f64>,
    /// Warm-up of the first step.
    pub warmup: Duration,
    /// Warm-up of later steps.
    pub step_warmup: Duration,
    /// Measured window of each step.
    pub duration: Duration,
    /// Longest wait for late deliveries after a step's sending stops.
    pub drain: Duration,
    /// A ramp step fails when its p99 exceeds this or when it loses anything.
    pub knee_p99_ms: f64,
    /// A ramp stops after this many failing steps in a row (1: at the first failure). More than
    /// one keeps a single step spoiled by a neighbour's CPU burst on a shared machine from
    /// ending the ramp; the knee is still the highest passing step.
    pub ramp_patience: usize,
    /// Handshakes in flight at once.
    pub connect_concurrency: usize,
    /// Read buffer of each connection, bytes.
    pub read_buffer: usize,
    /// Label in the report.
    pub label: String,
    /// The server's pid, to report its CPU time per delivery.
    pub server_pid: Option<u32>,
}

/// The summary of a ramp.
#[derive(Debug, Clone, Serialize)]
pub struct RampSummary {
    /// Always `"ramp"`.
    pub kind: &'static str,
    /// Label.
    pub label: String,
    /// The measured deliveries/s of the highest passing step: nothing lost, duplicated or
    /// reordered, p99 within the limit, at least [`MIN_ACHIEVED`] of its target delivered
    /// (0 when no step passed).
    pub knee_deliveries_per_s: f64,
    /// That step's target: the knee as a load level.
    pub knee_target_per_s: f64,
    /// That step's p99, ms.
    pub knee_p99_ms: f64,
    /// The first failing step's target (`None`: every step passed).
    pub failed_target_per_s: Option<f64>,
    /// Why it failed.
    pub failed_reason: Option<String>,
    /// Steps run.
    pub steps: usize,
    /// Steps that failed.
    pub failed_steps: usize,
    /// The p99 limit used, ms.
    pub p99_limit_ms: f64,
}

/// Rejects anything but loopback targets: this tool never loads another machine.
pub fn check_loopback(addr: SocketAddr) -> Result<(), BoxError> {
    if addr.ip().is_loopback() {
        Ok(())
    } else {
        Err(format!(
            "{addr} is not a loopback address; the load generator only targets 127.0.0.0/8 or ::1"
        )
        .into())
    }
}

/// Connects, runs every step and returns one report per step (a ramp stops at its first
/// failing step).
pub async fn run(config: LoadConfig) -> Result<(Vec<Report>, Option<RampSummary>), BoxError> {
    check_loopback(config.addr)?;
    let clients = config.clients.max(1);
    let rooms = config.rooms.clamp(1, clients);
    let users = config.users.clamp(1, clients);
    let scanner = Scanner::new();

    let setup_started = Instant::now();
    let tokens: Vec<String> = if config.no_auth {
        vec!["loadgen".to_owned()]
    } else {
        setup::tokens(config.addr, &config.prefix, &config.password, users, 4).await?
    };
    let room_names: Vec<String> = (0..rooms)
        .map(|r| format!("{}-r{r}", config.prefix))
        .collect();
    if !config.no_auth {
        for name in &room_names {
            setup::create_room(config.addr, &tokens[0], name).await?;
        }
    }
    let members: Vec<usize> = (0..rooms)
        .map(|r| (0..clients).filter(|c| c % rooms == r).count())
        .collect();
    // Sends are fed in bursts and flushed once per burst. tungstenite zero-fills the free part
    // of its read buffer (up to `read_buffer_size`) before every read: at the default 128 KiB
    // that memset was a quarter of the generator's CPU (perf, 400k deliveries/s).
    let ws_config = WebSocketConfig::default()
        .read_buffer_size(config.read_buffer.max(1024))
        .write_buffer_size(16 * 1024);
    let mut connected: Vec<Client> = Vec::with_capacity(clients);
    {
        use futures::{StreamExt, TryStreamExt};
        let futures = (0..clients).map(|c| {
            let token = tokens[c % tokens.len()].clone();
            let room = room_names[c % rooms].clone();
            let scanner = scanner.clone();
            let addr = config.addr;
            let member_count = members[c % rooms];
            let body_size = config.body_size;
            let batch = config.batch;
            async move {
                let mut ws = setup::connect(addr, &token, ws_config, &scanner, batch).await?;
                setup::join(&mut ws, &room, &scanner).await?;
                Ok::<Client, BoxError>(Client {
                    index: c,
                    room,
                    sender: u32::try_from(c / rooms)?,
                    members: member_count,
                    clients,
                    body_size,
                    ws,
                })
            }
        });
        let mut stream =
            futures::stream::iter(futures).buffer_unordered(config.connect_concurrency.max(1));
        while let Some(client) = stream.try_next().await? {
            connected.push(client);
        }
    }
    eprintln!(
        "loadgen: {clients} connections in {rooms} rooms ({} users) ready in {:.1} s",
        tokens.len(),
        setup_started.elapsed().as_secs_f64()
    );

    let origin = Instant::now();
    let (command_tx, command_rx) = watch::channel(Command::Idle);
    let (report_tx, mut report_rx) = mpsc::unbounded_channel::<StepReport>();
    let mut lives: Vec<(Arc<Live>, usize)> = Vec::with_capacity(clients);
    let mut tasks = Vec::with_capacity(clients);
    let threads = std::thread::available_parallelism().map_or(4, usize::from);
    let latencies = Arc::new(latency::Latencies::new(threads * 2));
    for client in connected {
        let live = Arc::new(Live::default());
        lives.push((Arc::clone(&live), client.members));
        tasks.push(tokio::spawn(client::run(
            client,
            origin,
            live,
            Arc::clone(&latencies),
            command_rx.clone(),
            report_tx.clone(),
        )));
    }
    drop(report_tx);

    // Deliveries per second per unit of per-connection rate: sum over rooms of members^2.
    let fanout: f64 = members.iter().map(|&m| (m * m) as f64).sum();
    let mut reports = Vec::new();
    let ramp = config.rates.len() > 1;
    let mut summary = RampSummary {
        kind: "ramp",
        label: config.label.clone(),
        knee_deliveries_per_s: 0.0,
        knee_target_per_s: 0.0,
        knee_p99_ms: 0.0,
        failed_target_per_s: None,
        failed_reason: None,
        steps: 0,
        failed_steps: 0,
        p99_limit_ms: config.knee_p99_ms,
    };
    let mut failures_in_a_row = 0usize;
    for (i, &rate) in config.rates.iter().enumerate() {
        let id = u32::try_from(i)?;
        let warmup = if i == 0 {
            config.warmup
        } else {
            config.step_warmup
        };
        let start_ns = origin.elapsed().as_nanos() as u64 + 100_000_000;
        let warm_end_ns = start_ns + warmup.as_nanos() as u64;
        let send_end_ns = warm_end_ns + config.duration.as_nanos() as u64;
        let step = Step {
            id,
            rate,
            start_ns,
            warm_end_ns,
            send_end_ns,
        };
        command_tx.send(Command::Run(step))?;
        let at = |ns: u64| tokio::time::Instant::from_std(origin + Duration::from_nanos(ns));
        tokio::time::sleep_until(at(warm_end_ns)).await;
        let cpu_start = (
            procstat::cpu_seconds(None),
            config
                .server_pid
                .and_then(|p| procstat::cpu_seconds(Some(p))),
        );
        tokio::time::sleep_until(at(send_end_ns)).await;
        let cpu_end = (
            procstat::cpu_seconds(None),
            config
                .server_pid
                .and_then(|p| procstat::cpu_seconds(Some(p))),
        );
        let used = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) => Some(b - a),
            _ => None,
        };
        let loadgen_cpu = used(cpu_start.0, cpu_end.0);
        let server_cpu = used(cpu_start.1, cpu_end.1);
        // Drain: wait until every delivery of everything sent so far has arrived, or the limit.
        let drain_until = Instant::now() + config.drain;
        loop {
            let (expected, delivered) = lives.iter().fold((0u64, 0u64), |(e, d), (l, m)| {
                (
                    e + l.sent.load(std::sync::atomic::Ordering::Relaxed) * *m as u64,
                    d + l.delivered.load(std::sync::atomic::Ordering::Relaxed),
                )
            });
            if delivered >= expected || Instant::now() >= drain_until {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        command_tx.send(Command::Collect(id))?;
        let mut total = StepStats::default();
        let mut expected = 0u64;
        let mut got = 0;
        while got < tasks.len() {
            match tokio::time::timeout(Duration::from_secs(10), report_rx.recv()).await {
                Ok(Some(r)) if r.step == id => {
                    expected += r.stats.sent * lives[r.index].1 as u64;
                    total.merge(&r.stats);
                    got += 1;
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
        }
        if got < tasks.len() {
            total.error(format!("{} connections did not report", tasks.len() - got));
        }
        let disconnected = lives.len() as u64 - got as u64;
        let window = config.duration.as_secs_f64();
        let h = &latencies.take(id);
        let report = Report {
            kind: "load",
            label: if ramp {
                format!("{} step {}", config.label, i + 1)
            } else {
                config.label.clone()
            },
            server: config.addr.to_string(),
            clients,
            rooms,
            users: tokens.len(),
            rate_per_client: rate,
            target_deliveries_per_s: rate * fanout,
            duration_s: window,
            warmup_s: warmup.as_secs_f64(),
            body_bytes: config.body_size,
            sent: total.sent,
            expected,
            delivered: total.delivered,
            lost: expected.saturating_sub(total.delivered),
            duplicated: total.duplicated,
            out_of_order: total.out_of_order,
            acks: total.acks,
            errors: total.errors,
            disconnected: disconnected + total.disconnected,
            p50_ms: ms(h.value_at_quantile(0.50)),
            p90_ms: ms(h.value_at_quantile(0.90)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
            mean_ms: h.mean() / 1000.0,
            deliveries_per_s: total.delivered as f64 / window,
            sends_per_s: total.sent as f64 / window,
            first_error: total.first_error.clone(),
            loadgen_cpu_s: loadgen_cpu,
            server_cpu_s: server_cpu,
            server_cpu_us_per_delivery: server_cpu
                .filter(|_| total.delivered > 0)
                .map(|s| s * 1e6 / total.delivered as f64),
            loadgen_cpu_us_per_delivery: loadgen_cpu
                .filter(|_| total.delivered > 0)
                .map(|s| s * 1e6 / total.delivered as f64),
        };
        print_report(&report);
        let failed = if !report.clean() {
            Some(format!(
                "lost {} duplicated {} out of order {} errors {} disconnected {}",
                report.lost,
                report.duplicated,
                report.out_of_order,
                report.errors,
                report.disconnected
            ))
        } else if report.p99_ms > config.knee_p99_ms {
            Some(format!(
                "p99 {:.3} ms > {} ms",
                report.p99_ms, config.knee_p99_ms
            ))
        } else if report.delivered == 0 {
            Some("nothing delivered".to_owned())
        } else if report.deliveries_per_s < MIN_ACHIEVED * report.target_deliveries_per_s {
            // The generator could not send on schedule: the step did not load the server
            // at its target, so it cannot count as passed at that target.
            Some(format!(
                "delivered {:.0}/s, under {:.0}% of the target",
                report.deliveries_per_s,
                MIN_ACHIEVED * 100.0
            ))
        } else {
            None
        };
        summary.steps += 1;
        match failed {
            None => {
                failures_in_a_row = 0;
                summary.knee_deliveries_per_s = report.deliveries_per_s;
                summary.knee_target_per_s = report.target_deliveries_per_s;
                summary.knee_p99_ms = report.p99_ms;
            }
            Some(reason) => {
                failures_in_a_row += 1;
                summary.failed_steps += 1;
                if summary.failed_target_per_s.is_none() {
                    summary.failed_target_per_s = Some(report.target_deliveries_per_s);
                    summary.failed_reason = Some(reason);
                }
            }
        }
        reports.push(report);
        if ramp && failures_in_a_row >= config.ramp_patience.max(1) {
            break;
        }
    }
    command_tx.send(Command::Quit)?;
    for task in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    }
    if ramp {
        println!(
            "== ramp {}: knee {:.0} deliveries/s (target {:.0}, p99 {:.3} ms); {} of {} steps failed, the first: {}",
            summary.label,
            summary.knee_deliveries_per_s,
            summary.knee_target_per_s,
            summary.knee_p99_ms,
            summary.failed_steps,
            summary.steps,
            match (&summary.failed_target_per_s, &summary.failed_reason) {
                (Some(t), Some(r)) => format!("{t:.0}/s ({r})"),
                _ => "none".to_owned(),
            }
        );
        println!("{}", serde_json::to_string(&summary)?);
        Ok((reports, Some(summary)))
    } else {
        Ok((reports, None))
    }
}

/// Prints the human table, then the report as one JSON line.
pub fn print_report(report: &Report) {
    print!("{}", report.table());
    match serde_json::to_string(report) {
        Ok(json) => println!("{json}"),
        Err(e) => eprintln!("loadgen: cannot encode the report: {e}"),
    }
}

/// The per-connection rate that yields `deliveries_per_s` with `clients` connections spread
/// over `rooms` rooms the way [`run`] spreads them.
pub fn rate_for(deliveries_per_s: f64, clients: usize, rooms: usize) -> f64 {
    let clients = clients.max(1);
    let rooms = rooms.clamp(1, clients);
    let fanout: f64 = (0..rooms)
        .map(|r| {
            let m = (0..clients).filter(|c| c % rooms == r).count();
            (m * m) as f64
        })
        .sum();
    deliveries_per_s / fanout
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_matches_the_issue_scenario() {
        // 200 clients in 10 rooms at 5 msgs/s each = 20,000 deliveries/s.
        assert!((rate_for(20_000.0, 200, 10) - 5.0).abs() < 1e-9);
        assert!(check_loopback("127.0.0.1:1".parse().unwrap()).is_ok());
        assert!(check_loopback("10.0.0.1:1".parse().unwrap()).is_err());
    }
}
