//! `authflood`: floods a running server with password hashing work (signups, then logins of
//! unknown names, which verify a dummy hash) while a legitimate user logs in once a second,
//! and reports the server's memory (VmRSS of `--pid`, sampled every 100 ms), the legitimate
//! logins' latencies (retrying after a 503's `Retry-After`) and the flood's responses by
//! status. `scripts/auth-flood.sh` starts a server and runs it.
//!
//! ```text
//! authflood --server 127.0.0.1:8000 --pid 1234 --signups 400 --logins 600 --concurrency 128
//! ```
//! The exit code is 1 when a flood request got no HTTP answer or one other than 2xx, 4xx or
//! 503, a legitimate login failed, or the server exited or passed `--rss-cap-mib` (the flood
//! then stops early); missed targets only print.

use chat_benches::BoxError;
use chat_benches::http1;
use chat_benches::loadgen::procstat::rss_kb;
use clap::Parser;
use futures::StreamExt;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Password hashing flood against the JSON API (127.0.0.1 only).
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Server address, `127.0.0.1:PORT`.
    #[arg(long)]
    server: SocketAddr,
    /// The server's process id, for its VmRSS.
    #[arg(long)]
    pid: u32,
    /// Signups of new names, sent first.
    #[arg(long, default_value_t = 400)]
    signups: usize,
    /// Logins of unknown names, sent after the signups.
    #[arg(long, default_value_t = 600)]
    logins: usize,
    /// Flood requests in flight at once.
    #[arg(long, default_value_t = 128)]
    concurrency: usize,
    /// Keep sending unknown-name logins until this many seconds after the flood began.
    #[arg(long, default_value_t = 0.0)]
    sustain: f64,
    /// No legitimate user.
    #[arg(long)]
    no_legit: bool,
    /// Seconds after the flood before the last RSS sample.
    #[arg(long, default_value_t = 5.0)]
    settle: f64,
    /// Stop the flood when the server's RSS passes this many MiB (the machine is shared).
    #[arg(long, default_value_t = 6144)]
    rss_cap_mib: u64,
    /// Longest wait for one response, seconds.
    #[arg(long, default_value_t = 120.0)]
    timeout: f64,
}

const PASSWORD: &str = "flood-password-1";
/// Longest time a legitimate login may take, retries included.
const LEGIT_TARGET: Duration = Duration::from_secs(2);
/// A legitimate login that has not succeeded after this long counts as failed.
const LEGIT_GIVE_UP: Duration = Duration::from_secs(30);
const MIB: f64 = 1024.0;

fn main() {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("authflood: {e}");
            std::process::exit(2);
        }
    };
    match runtime.block_on(run(args)) {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(e) => {
            eprintln!("authflood: {e}");
            std::process::exit(2);
        }
    }
}

/// One login or signup: status, or `None` when no HTTP answer came (connection error, timeout).
async fn call(args: &Args, path: &str, username: &str) -> (Option<u16>, Option<u64>) {
    let body = serde_json::json!({"username": username, "password": PASSWORD}).to_string();
    let timeout = Duration::from_secs_f64(args.timeout);
    match http1::request(args.server, "POST", path, None, Some(&body), timeout).await {
        Ok(r) => {
            let retry_after = r
                .header_values("retry-after")
                .next()
                .and_then(|v| v.trim().parse().ok());
            (Some(r.status), retry_after)
        }
        Err(_) => (None, None),
    }
}

/// One legitimate login, retried after 503s: how long until it succeeded, or why it failed.
async fn legit_login(args: &Args, username: &str) -> Result<Duration, String> {
    let started = Instant::now();
    loop {
        match call(args, "/api/login", username).await {
            (Some(200), _) => return Ok(started.elapsed()),
            (Some(503), retry_after) if started.elapsed() < LEGIT_GIVE_UP => {
                tokio::time::sleep(Duration::from_secs(retry_after.unwrap_or(1))).await;
            }
            (Some(status), _) => return Err(format!("HTTP {status}")),
            (None, _) => return Err("no response".into()),
        }
    }
}

/// The server's RSS over the flood: the peak, and whether it passed the cap.
struct Memory {
    peak_kb: AtomicU64,
    last_kb: AtomicU64,
    capped: AtomicBool,
    gone: AtomicBool,
}

async fn sample(pid: u32, cap_kb: u64, memory: Arc<Memory>, stop: Arc<AtomicBool>) {
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    while !stop.load(Ordering::Relaxed) {
        tick.tick().await;
        let Some(kb) = rss_kb(pid) else {
            memory.gone.store(true, Ordering::Relaxed);
            return;
        };
        memory.last_kb.store(kb, Ordering::Relaxed);
        memory.peak_kb.fetch_max(kb, Ordering::Relaxed);
        if kb > cap_kb {
            memory.capped.store(true, Ordering::Relaxed);
        }
    }
}

fn mib(kb: u64) -> f64 {
    kb as f64 / MIB
}

async fn run(args: Args) -> Result<bool, BoxError> {
    let args = Arc::new(args);
    let prefix = format!("f{}x", args.pid);
    let legit = format!("{prefix}legit");

    // The legitimate user signs up first (retrying a busy server), then the server settles.
    if !args.no_legit {
        let started = Instant::now();
        loop {
            match call(&args, "/api/signup", &legit).await {
                (Some(201 | 409), _) => break,
                (Some(503), _) if started.elapsed() < LEGIT_GIVE_UP => {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                (status, _) => return Err(format!("legit signup: {status:?}").into()),
            }
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let before_kb = rss_kb(args.pid).ok_or("the server is not running")?;

    let memory = Arc::new(Memory {
        peak_kb: AtomicU64::new(before_kb),
        last_kb: AtomicU64::new(before_kb),
        capped: AtomicBool::new(false),
        gone: AtomicBool::new(false),
    });
    let stop_sampling = Arc::new(AtomicBool::new(false));
    let sampler = tokio::spawn(sample(
        args.pid,
        args.rss_cap_mib * 1024,
        Arc::clone(&memory),
        Arc::clone(&stop_sampling),
    ));

    // The legitimate user: a login a second until the flood is over.
    let flooding = Arc::new(AtomicBool::new(true));
    let legit_task = (!args.no_legit).then(|| {
        let (args, flooding, legit) = (Arc::clone(&args), Arc::clone(&flooding), legit.clone());
        tokio::spawn(async move {
            let mut results = Vec::new();
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            while flooding.load(Ordering::Relaxed) {
                tick.tick().await;
                results.push(legit_login(&args, &legit).await);
            }
            results
        })
    });

    // The flood: signups, then unknown-name logins (until `--sustain` seconds have passed).
    let started = Instant::now();
    let total = args.signups + args.logins;
    let sustain = Duration::from_secs_f64(args.sustain);
    let jobs = (0usize..).map_while(|i| {
        if memory.capped.load(Ordering::Relaxed) || memory.gone.load(Ordering::Relaxed) {
            None
        } else if i < args.signups {
            Some(("/api/signup", format!("{prefix}s{i}")))
        } else if i < total || started.elapsed() < sustain {
            Some(("/api/login", format!("{prefix}g{i}")))
        } else {
            None
        }
    });
    let statuses: BTreeMap<String, usize> = futures::stream::iter(jobs)
        .map(|(path, name)| {
            let args = Arc::clone(&args);
            async move { call(&args, path, &name).await.0 }
        })
        .buffer_unordered(args.concurrency.max(1))
        .fold(BTreeMap::new(), |mut counts, status| async move {
            let key = status.map_or_else(|| "no answer".to_owned(), |s| s.to_string());
            *counts.entry(key).or_insert(0) += 1;
            counts
        })
        .await;
    let flood_time = started.elapsed();
    flooding.store(false, Ordering::Relaxed);
    let legit_results = match legit_task {
        Some(task) => task.await?,
        None => Vec::new(),
    };
    let flood_peak_kb = memory.peak_kb.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs_f64(args.settle)).await;
    stop_sampling.store(true, Ordering::Relaxed);
    sampler.await?;
    let after_kb = rss_kb(args.pid).unwrap_or(0);
    let peak_kb = memory.peak_kb.load(Ordering::Relaxed).max(flood_peak_kb);

    // The report.
    let sent: usize = statuses.values().sum();
    let counts: Vec<String> = statuses.iter().map(|(s, n)| format!("{s}: {n}")).collect();
    let unanswered = statuses.get("no answer").copied().unwrap_or(0);
    let odd: usize = statuses
        .iter()
        .filter(|(s, _)| {
            s.parse::<u16>()
                .map_or(true, |s| !(200..500).contains(&s) && s != 503)
        })
        .map(|(_, n)| n)
        .sum();
    println!(
        "flood: {sent} requests ({} signups, then unknown-name logins), {} in parallel, in {:.2} s",
        args.signups.min(sent),
        args.concurrency,
        flood_time.as_secs_f64()
    );
    println!("  by status: {}", counts.join(", "));
    if memory.capped.load(Ordering::Relaxed) {
        println!(
            "  STOPPED EARLY: server RSS passed the {} MiB cap",
            args.rss_cap_mib
        );
    }
    if memory.gone.load(Ordering::Relaxed) {
        println!("  THE SERVER EXITED during the flood");
    }
    println!(
        "rss: before {:.1} MiB, peak {:.1} MiB (+{:.1}), {:.0} s after {:.1} MiB ({:+.1})",
        mib(before_kb),
        mib(peak_kb),
        mib(peak_kb.saturating_sub(before_kb)),
        args.settle,
        mib(after_kb),
        mib(after_kb) - mib(before_kb)
    );
    let legit_ok: Vec<Duration> = legit_results
        .iter()
        .filter_map(|r| r.as_ref().ok().copied())
        .collect();
    let legit_max = legit_ok.iter().max().copied().unwrap_or_default();
    if !args.no_legit {
        let failures: Vec<&String> = legit_results
            .iter()
            .filter_map(|r| r.as_ref().err())
            .collect();
        let latencies: Vec<String> = legit_ok
            .iter()
            .map(|d| format!("{}", d.as_millis()))
            .collect();
        println!(
            "legit: {} of {} logins succeeded, max {} ms (ms: {}){}",
            legit_ok.len(),
            legit_results.len(),
            legit_max.as_millis(),
            latencies.join(" "),
            if failures.is_empty() {
                String::new()
            } else {
                format!("; failed: {failures:?}")
            }
        );
    }

    let growth_ok = peak_kb.saturating_sub(before_kb) <= 64 * 1024;
    let back_ok = after_kb.abs_diff(before_kb) <= 16 * 1024;
    let legit_all_ok =
        legit_ok.len() == legit_results.len() && legit_ok.iter().all(|d| *d <= LEGIT_TARGET);
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    println!(
        "targets: growth <= 64 MiB {}; back within 16 MiB {}; every answer 2xx/4xx/503 {}{}",
        verdict(growth_ok),
        verdict(back_ok),
        verdict(unanswered == 0 && odd == 0),
        if args.no_legit {
            String::new()
        } else {
            format!(
                "; legit logins all succeed within {} s {}",
                LEGIT_TARGET.as_secs(),
                verdict(legit_all_ok)
            )
        }
    );
    let broken = unanswered > 0
        || odd > 0
        || memory.capped.load(Ordering::Relaxed)
        || memory.gone.load(Ordering::Relaxed)
        || legit_ok.len() != legit_results.len();
    Ok(!broken)
}
