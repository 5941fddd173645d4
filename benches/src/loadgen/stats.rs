//! What the generator counts: per receiver and sender, the order of the sender's counters
//! (duplicates, out-of-order arrivals), and per step the measured sends, deliveries and the
//! end-to-end latency histogram; then the aggregated [`Report`] printed as a table and as JSON.

use hdrhistogram::Histogram;
use serde::Serialize;
use std::collections::HashSet;
use std::fmt::Write as _;

/// Most counters remembered as "skipped, may still arrive" per (receiver, sender) pair.
const MAX_MISSING: usize = 100_000;

/// The order of one sender's messages as seen by one receiver.
#[derive(Debug, Default, Clone)]
pub struct PairOrder {
    next: u64,
    missing: HashSet<u64>,
}

/// How a probe arrival relates to the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// The next counter, or a later one (earlier ones skipped so far).
    InOrder,
    /// A counter that had been skipped: it arrived late.
    OutOfOrder,
    /// A counter already received.
    Duplicate,
}

impl PairOrder {
    /// Records the arrival of `counter`.
    pub fn arrive(&mut self, counter: u64) -> Arrival {
        if counter >= self.next {
            if counter > self.next {
                let mut skipped = self.next;
                while skipped < counter && self.missing.len() < MAX_MISSING {
                    self.missing.insert(skipped);
                    skipped += 1;
                }
            }
            self.next = counter + 1;
            Arrival::InOrder
        } else if self.missing.remove(&counter) {
            Arrival::OutOfOrder
        } else {
            Arrival::Duplicate
        }
    }
}

/// A new latency histogram in microseconds (1 us to 10 minutes, 3 significant figures).
pub fn new_histogram() -> Histogram<u64> {
    // The bounds are valid constants; `new_with_bounds` only fails on invalid bounds.
    Histogram::new_with_bounds(1, 600_000_000, 3).unwrap_or_else(|_| {
        Histogram::new(3).unwrap_or_else(|_| unreachable!("3 significant figures are valid"))
    })
}

/// One connection's counts for one step (its latencies go to [`super::latency::Latencies`]).
#[derive(Debug, Clone, Default)]
pub struct StepStats {
    /// Messages sent inside the measured window.
    pub sent: u64,
    /// Messages sent in this step, warm-up included.
    pub sent_all: u64,
    /// Distinct measured messages received.
    pub delivered: u64,
    /// Messages received twice or more.
    pub duplicated: u64,
    /// Messages received after a later message of the same sender.
    pub out_of_order: u64,
    /// `ack` frames.
    pub acks: u64,
    /// `error` frames.
    pub errors: u64,
    /// The first error frame or connection error.
    pub first_error: Option<String>,
    /// Connections that closed during the step (0 or 1 per connection before merging).
    pub disconnected: u64,
}

impl StepStats {
    /// Notes an error, keeping the first message.
    pub fn error(&mut self, message: impl Into<String>) {
        self.errors += 1;
        if self.first_error.is_none() {
            let mut m: String = message.into();
            if m.len() > 300 {
                let mut cut = 300;
                while !m.is_char_boundary(cut) {
                    cut -= 1;
                }
                m.truncate(cut);
            }
            self.first_error = Some(m);
        }
    }

    /// Adds another connection's counts.
    pub fn merge(&mut self, other: &StepStats) {
        self.sent += other.sent;
        self.sent_all += other.sent_all;
        self.delivered += other.delivered;
        self.duplicated += other.duplicated;
        self.out_of_order += other.out_of_order;
        self.acks += other.acks;
        self.errors += other.errors;
        self.disconnected += other.disconnected;
        if self.first_error.is_none() {
            self.first_error.clone_from(&other.first_error);
        }
    }
}

/// The result of one load step: the table row and the JSON line.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Always `"load"`.
    pub kind: &'static str,
    /// Free-form label (`--label`).
    pub label: String,
    /// Server address.
    pub server: String,
    /// Connections.
    pub clients: usize,
    /// Rooms.
    pub rooms: usize,
    /// Distinct users behind the connections.
    pub users: usize,
    /// Messages per second per connection.
    pub rate_per_client: f64,
    /// Deliveries per second the step asks for.
    pub target_deliveries_per_s: f64,
    /// Length of the measured window, seconds.
    pub duration_s: f64,
    /// Warm-up before it, seconds.
    pub warmup_s: f64,
    /// Body length in bytes.
    pub body_bytes: usize,
    /// Messages sent in the window.
    pub sent: u64,
    /// `sent` times the members of each message's room.
    pub expected: u64,
    /// Distinct deliveries received.
    pub delivered: u64,
    /// `expected - delivered`.
    pub lost: u64,
    /// Deliveries received more than once.
    pub duplicated: u64,
    /// Deliveries received after a later one of the same sender.
    pub out_of_order: u64,
    /// Acks received (all phases).
    pub acks: u64,
    /// Error frames and connection errors.
    pub errors: u64,
    /// Connections that closed during the step.
    pub disconnected: u64,
    /// Latency percentiles and maximum, milliseconds.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p999_ms: f64,
    /// Maximum.
    pub max_ms: f64,
    /// Mean.
    pub mean_ms: f64,
    /// Measured deliveries per second (`delivered / duration`).
    pub deliveries_per_s: f64,
    /// Measured sends per second.
    pub sends_per_s: f64,
    /// The first error seen, if any.
    pub first_error: Option<String>,
    /// CPU seconds the generator used during the window (all its threads).
    pub loadgen_cpu_s: Option<f64>,
    /// CPU seconds the server used during the window (with `--server-pid`).
    pub server_cpu_s: Option<f64>,
    /// Server CPU microseconds per measured delivery: a figure other processes on a shared
    /// machine disturb far less than latency.
    pub server_cpu_us_per_delivery: Option<f64>,
    /// Generator CPU microseconds per measured delivery (its receive path dominates).
    pub loadgen_cpu_us_per_delivery: Option<f64>,
}

impl Report {
    /// Nothing lost, duplicated, reordered or refused.
    pub fn clean(&self) -> bool {
        self.lost == 0
            && self.duplicated == 0
            && self.out_of_order == 0
            && self.errors == 0
            && self.disconnected == 0
    }

    /// The human table.
    pub fn table(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "== {} @ {}: {} clients, {} rooms, {} users, {:.1} msg/s each, body {} B, warm-up {:.1} s, window {:.1} s",
            self.label,
            self.server,
            self.clients,
            self.rooms,
            self.users,
            self.rate_per_client,
            self.body_bytes,
            self.warmup_s,
            self.duration_s
        );
        let opt = |v: Option<f64>, unit: &str| {
            v.map_or_else(|| "-".to_owned(), |v| format!("{v:.2}{unit}"))
        };
        let rows: [(&str, String); 16] = [
            (
                "target deliveries/s",
                format!("{:.0}", self.target_deliveries_per_s),
            ),
            ("deliveries/s", format!("{:.0}", self.deliveries_per_s)),
            ("sends/s", format!("{:.0}", self.sends_per_s)),
            ("sent", self.sent.to_string()),
            ("expected deliveries", self.expected.to_string()),
            ("delivered", self.delivered.to_string()),
            ("lost", self.lost.to_string()),
            ("duplicated", self.duplicated.to_string()),
            ("out of order", self.out_of_order.to_string()),
            (
                "errors / disconnected",
                format!("{} / {}", self.errors, self.disconnected),
            ),
            (
                "latency p50 / p90",
                format!("{:.3} / {:.3} ms", self.p50_ms, self.p90_ms),
            ),
            (
                "latency p99 / p99.9",
                format!("{:.3} / {:.3} ms", self.p99_ms, self.p999_ms),
            ),
            (
                "latency max / mean",
                format!("{:.3} / {:.3} ms", self.max_ms, self.mean_ms),
            ),
            (
                "CPU loadgen / server",
                format!(
                    "{} / {}",
                    opt(self.loadgen_cpu_s, " s"),
                    opt(self.server_cpu_s, " s")
                ),
            ),
            (
                "CPU/delivery srv / gen",
                format!(
                    "{} / {}",
                    opt(self.server_cpu_us_per_delivery, " us"),
                    opt(self.loadgen_cpu_us_per_delivery, " us")
                ),
            ),
            (
                "first error",
                self.first_error.clone().unwrap_or_else(|| "-".into()),
            ),
        ];
        for (k, v) in rows {
            let _ = writeln!(s, "  {k:<22} {v}");
        }
        s
    }
}

/// Milliseconds from a microsecond histogram value.
pub fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracks_order_duplicates_and_late_arrivals() {
        let mut o = PairOrder::default();
        assert_eq!(o.arrive(0), Arrival::InOrder);
        assert_eq!(o.arrive(1), Arrival::InOrder);
        assert_eq!(o.arrive(1), Arrival::Duplicate);
        assert_eq!(o.arrive(4), Arrival::InOrder);
        assert_eq!(o.arrive(2), Arrival::OutOfOrder);
        assert_eq!(o.arrive(2), Arrival::Duplicate);
        assert_eq!(o.arrive(3), Arrival::OutOfOrder);
        assert_eq!(o.arrive(5), Arrival::InOrder);
    }

    #[test]
    fn merges_step_stats() {
        let mut a = StepStats::default();
        let mut b = StepStats::default();
        a.sent = 2;
        b.sent = 3;
        b.error("boom");
        a.merge(&b);
        assert_eq!(a.sent, 5);
        assert_eq!(a.first_error.as_deref(), Some("boom"));
    }
}
