//! `Metrics`: lock-free counters of the HTTP and WebSocket layer, rendered in the Prometheus
//! text format at `/metrics`.

use chat_core::broker::FanOutStats;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (seconds) of the request latency histogram buckets.
pub const LATENCY_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// Counters shared by every connection and request. All fields are monotonic counters except
/// `connections_open`, a gauge.
#[derive(Debug, Default)]
pub struct Metrics {
    /// WebSocket connections open now.
    pub connections_open: AtomicU64,
    /// WebSocket connections accepted since start.
    pub connections_total: AtomicU64,
    /// Messages committed through this server (idempotent re-sends not counted).
    pub messages_posted: AtomicU64,
    /// `send` frames posted together with others that arrived with them (one store call for
    /// the run; see `Connection::on_texts`). High under load, zero when idle.
    pub sends_batched: AtomicU64,
    /// Server-to-client frames: room frames when written to the socket, the others when
    /// queued for it.
    pub deliveries: AtomicU64,
    /// Connections closed as slow consumers (a write or the outbound queue stalled for the
    /// grace period).
    pub send_queue_overflows: AtomicU64,
    /// Client frames received.
    pub frames_received: AtomicU64,
    /// Error frames sent.
    pub error_frames: AtomicU64,
    /// Frames refused by the per-user rate limit.
    pub rate_limited: AtomicU64,
    /// HTTP requests answered (WebSocket upgrades included).
    pub http_requests: AtomicU64,
    /// HTTP responses with a 4xx status.
    pub http_client_errors: AtomicU64,
    /// HTTP responses with a 5xx status.
    pub http_server_errors: AtomicU64,
    latency_buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    latency_sum_micros: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl Metrics {
    /// Records one answered HTTP request.
    pub fn record_request(&self, status: u16, elapsed: Duration) {
        bump(&self.http_requests);
        if (400..500).contains(&status) {
            bump(&self.http_client_errors);
        } else if status >= 500 {
            bump(&self.http_server_errors);
        }
        let secs = elapsed.as_secs_f64();
        if let Some(i) = LATENCY_BUCKETS.iter().position(|b| secs <= *b) {
            bump(&self.latency_buckets[i]);
        }
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.latency_sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// The Prometheus text exposition of every counter.
    pub fn render(&self) -> String {
        self.render_with(None)
    }

    /// [`Metrics::render`], plus the broker's fan-out counters when it keeps them (see
    /// [`chat_core::Broker::fan_out_stats`]).
    pub fn render_with(&self, fan_out: Option<FanOutStats>) -> String {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut out = String::with_capacity(2048);
        line(
            &mut out,
            "chat_ws_connections_open",
            "gauge",
            "WebSocket connections open now.",
            get(&self.connections_open),
        );
        line(
            &mut out,
            "chat_ws_connections_total",
            "counter",
            "WebSocket connections accepted.",
            get(&self.connections_total),
        );
        line(
            &mut out,
            "chat_messages_posted_total",
            "counter",
            "Messages committed through this server.",
            get(&self.messages_posted),
        );
        line(
            &mut out,
            "chat_ws_sends_batched_total",
            "counter",
            "Send frames posted in one store call with others that arrived with them.",
            get(&self.sends_batched),
        );
        line(
            &mut out,
            "chat_ws_deliveries_total",
            "counter",
            "Frames sent to WebSocket connections.",
            get(&self.deliveries),
        );
        line(
            &mut out,
            "chat_ws_send_queue_overflows_total",
            "counter",
            "Connections closed as slow consumers.",
            get(&self.send_queue_overflows),
        );
        line(
            &mut out,
            "chat_ws_frames_received_total",
            "counter",
            "Client frames received.",
            get(&self.frames_received),
        );
        line(
            &mut out,
            "chat_ws_error_frames_total",
            "counter",
            "Error frames sent.",
            get(&self.error_frames),
        );
        line(
            &mut out,
            "chat_rate_limited_total",
            "counter",
            "Actions refused by a rate limit.",
            get(&self.rate_limited),
        );
        line(
            &mut out,
            "chat_http_client_errors_total",
            "counter",
            "HTTP responses with a 4xx status.",
            get(&self.http_client_errors),
        );
        line(
            &mut out,
            "chat_http_server_errors_total",
            "counter",
            "HTTP responses with a 5xx status.",
            get(&self.http_server_errors),
        );
        if let Some(stats) = fan_out {
            line(
                &mut out,
                "chat_broker_rooms",
                "gauge",
                "Rooms with subscribers on this node.",
                stats.rooms as u64,
            );
            line(
                &mut out,
                "chat_broker_lags_total",
                "counter",
                "Times a subscriber fell more than its room's ring behind and re-read the store.",
                stats.lags,
            );
        }
        let _ = writeln!(
            out,
            "# HELP chat_http_request_duration_seconds HTTP request latency.\n# TYPE chat_http_request_duration_seconds histogram"
        );
        let mut cumulative = 0;
        for (bound, count) in LATENCY_BUCKETS.iter().zip(&self.latency_buckets) {
            cumulative += get(count);
            let _ = writeln!(
                out,
                "chat_http_request_duration_seconds_bucket{{le=\"{bound}\"}} {cumulative}"
            );
        }
        let total = get(&self.http_requests);
        let _ = writeln!(
            out,
            "chat_http_request_duration_seconds_bucket{{le=\"+Inf\"}} {total}"
        );
        let sum = get(&self.latency_sum_micros) as f64 / 1e6;
        let _ = writeln!(out, "chat_http_request_duration_seconds_sum {sum}");
        let _ = writeln!(out, "chat_http_request_duration_seconds_count {total}");
        out
    }
}

/// Writes one metric with its help and type lines.
fn line(out: &mut String, name: &str, kind: &str, help: &str, value: u64) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_cumulative_histogram() {
        let m = Metrics::default();
        m.record_request(200, Duration::from_micros(300));
        m.record_request(404, Duration::from_millis(30));
        m.record_request(500, Duration::from_secs(10));
        let text = m.render();
        assert!(text.contains("chat_http_request_duration_seconds_bucket{le=\"0.0005\"} 1"));
        assert!(text.contains("chat_http_request_duration_seconds_bucket{le=\"0.05\"} 2"));
        assert!(text.contains("chat_http_request_duration_seconds_bucket{le=\"2.5\"} 2"));
        assert!(text.contains("chat_http_request_duration_seconds_bucket{le=\"+Inf\"} 3"));
        assert!(text.contains("chat_http_client_errors_total 1"));
        assert!(text.contains("chat_http_server_errors_total 1"));
        assert!(text.contains("chat_ws_connections_open 0"));
        assert!(
            !text.contains("chat_broker_"),
            "no broker counters without a broker"
        );
    }

    #[test]
    fn renders_the_fan_out_counters() {
        let stats = FanOutStats { rooms: 3, lags: 7 };
        let text = Metrics::default().render_with(Some(stats));
        assert!(text.contains("# TYPE chat_broker_rooms gauge\nchat_broker_rooms 3\n"));
        assert!(text.contains("\nchat_broker_lags_total 7\n"));
    }
}
