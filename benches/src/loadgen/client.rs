//! One load-generating connection: a single task that sends on its schedule and reads every
//! frame the server pushes, classifying frames by scanning bytes rather than parsing JSON.
//!
//! The main task drives every connection through a `watch` channel ([`Command`]): run a step,
//! hand in the step's counts, quit. Live totals for the drain check go through per-connection
//! cache-line-sized atomics, so the hot path never contends.

use super::latency::Latencies;
use super::setup::{self, Ws};
use super::stats::{Arrival, PairOrder, StepStats};
use crate::wire::{FrameKind, Probe, Scanner, write_probe_body};
use futures::{FutureExt, SinkExt, StreamExt};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::{Error as WsError, Message, Utf8Bytes};

/// Most messages sent in one burst when the schedule has fallen behind.
const MAX_BURST: u32 = 64;

/// Most frames handled in a row before the commands and the send timer are looked at again.
const MAX_READ_BATCH: usize = 256;

/// One timed load step, in nanoseconds since the generator's origin instant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    /// Step number.
    pub id: u32,
    /// Messages per second per connection.
    pub rate: f64,
    /// When sending starts (warm-up begins).
    pub start_ns: u64,
    /// When the measured window begins.
    pub warm_end_ns: u64,
    /// When sending stops.
    pub send_end_ns: u64,
}

/// What the main task tells every connection.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Command {
    /// Stay connected, read frames.
    Idle,
    /// Send on the step's schedule.
    Run(Step),
    /// Report the counts of step `id` and reset them.
    Collect(u32),
    /// Close and end.
    Quit,
}

/// Live totals of one connection, on a cache line of its own.
#[derive(Debug, Default)]
#[repr(align(128))]
pub struct Live {
    /// Messages sent since the start (all steps, warm-ups included).
    pub sent: AtomicU64,
    /// Distinct probe deliveries since the start.
    pub delivered: AtomicU64,
}

/// A connection ready to load the server.
pub struct Client {
    /// Index among all connections.
    pub index: usize,
    /// The joined room's name.
    pub room: String,
    /// Index of this connection within its room (the probe's sender field).
    pub sender: u32,
    /// Connections in the room, this one included.
    pub members: usize,
    /// Total connections (to spread send phases).
    pub clients: usize,
    /// Minimum body length.
    pub body_size: usize,
    /// The socket.
    pub ws: Ws,
}

/// What a connection hands back on [`Command::Collect`].
#[derive(Debug)]
pub struct StepReport {
    /// Step number.
    pub step: u32,
    /// Connection index.
    pub index: usize,
    /// Counts.
    pub stats: StepStats,
}

/// Runs a connection until [`Command::Quit`] or until the command channel closes.
pub async fn run(
    client: Client,
    origin: Instant,
    live: Arc<Live>,
    latencies: Arc<Latencies>,
    mut commands: watch::Receiver<Command>,
    reports: mpsc::UnboundedSender<StepReport>,
) {
    let Client {
        index,
        room,
        sender,
        members,
        clients,
        body_size,
        mut ws,
    } = client;
    let mut receiving = Receiving {
        scanner: Scanner::new(),
        order: vec![PairOrder::default(); members],
        delivered_total: 0,
        live: Arc::clone(&live),
        latencies,
    };
    let mut stats = StepStats::default();
    let mut counter: u64 = 0;
    let mut sent_total: u64 = 0;
    let mut open = true;
    // The current or last step: its window decides what is measured.
    let mut step: Option<Step> = None;
    let mut sending = false;
    let mut next_send_ns: u64 = 0;
    let mut period_ns: u64 = 0;
    let mut body = String::with_capacity(body_size + 32);
    let client_prefix = format!("c{index}-");
    let room_json = crate::wire::json_string(&room);
    let sleep = tokio::time::sleep(Duration::from_secs(3600));
    tokio::pin!(sleep);

    loop {
        tokio::select! {
            biased;
            changed = commands.changed() => {
                if changed.is_err() {
                    break;
                }
                let command = *commands.borrow_and_update();
                match command {
                    Command::Idle => {}
                    Command::Run(s) => {
                        step = Some(s);
                        stats = StepStats::default();
                        if !open {
                            stats.disconnected = 1;
                        }
                        if s.rate > 0.0 && open {
                            period_ns = (1e9 / s.rate).max(1.0) as u64;
                            // Spread the connections' phases evenly over one period.
                            let phase = period_ns.saturating_mul(index as u64) / clients.max(1) as u64;
                            next_send_ns = s.start_ns + phase;
                            sending = next_send_ns < s.send_end_ns;
                            sleep.as_mut().reset(tokio::time::Instant::from_std(origin + Duration::from_nanos(next_send_ns)));
                        } else {
                            sending = false;
                        }
                    }
                    Command::Collect(id) => {
                        sending = false;
                        let done = std::mem::take(&mut stats);
                        if reports.send(StepReport { step: id, index, stats: done }).is_err() {
                            break;
                        }
                    }
                    Command::Quit => break,
                }
            }
            frame = ws.next(), if open => {
                // Frames already received are handled here, without going back through the
                // select, which polls the command watch and the send timer each time (perf put
                // them at 8% of the generator's samples at 400k; at that rate most reads hold
                // one frame, so CPU per delivery did not measurably change).
                let mut next = Some(frame);
                let mut handled = 0;
                while let Some(frame) = next.take() {
                    let now_ns = origin.elapsed().as_nanos() as u64;
                    open = receiving.on_frame(frame, now_ns, step.as_ref(), &mut stats);
                    handled += 1;
                    if !open || handled >= MAX_READ_BATCH {
                        break;
                    }
                    next = ws.next().now_or_never();
                }
                if !open {
                    sending = false;
                }
            }
            () = &mut sleep, if sending => {
                let Some(s) = step else {
                    sending = false;
                    continue;
                };
                let mut burst = 0;
                let mut failed = None;
                loop {
                    let now_ns = origin.elapsed().as_nanos() as u64;
                    if next_send_ns > now_ns || burst >= MAX_BURST {
                        break;
                    }
                    if now_ns >= s.send_end_ns {
                        sending = false;
                        break;
                    }
                    let probe = Probe { sender, counter, sent_ns: now_ns };
                    write_probe_body(&mut body, probe, body_size);
                    let frame = format!(
                        r#"{{"type":"send","room":{room_json},"body":"{body}","client_id":"{client_prefix}{counter}"}}"#
                    );
                    if let Err(e) = ws.feed(Message::Text(Utf8Bytes::from(frame))).await {
                        failed = Some(e);
                        break;
                    }
                    counter += 1;
                    sent_total += 1;
                    stats.sent_all += 1;
                    if now_ns >= s.warm_end_ns {
                        stats.sent += 1;
                    }
                    next_send_ns += period_ns;
                    burst += 1;
                }
                if failed.is_none()
                    && let Err(e) = ws.flush().await
                {
                    failed = Some(e);
                }
                live.sent.store(sent_total, Ordering::Relaxed);
                if let Some(e) = failed {
                    open = false;
                    sending = false;
                    stats.disconnected = 1;
                    stats.error(format!("send failed: {e}"));
                }
                if next_send_ns >= s.send_end_ns {
                    sending = false;
                }
                if sending {
                    sleep.as_mut().reset(tokio::time::Instant::from_std(origin + Duration::from_nanos(next_send_ns)));
                }
            }
        }
    }
    if open {
        let _ = tokio::time::timeout(Duration::from_secs(2), ws.close(None)).await;
    }
}

/// The receiving side of a connection: what it needs to count the frames it reads.
struct Receiving {
    scanner: Scanner,
    order: Vec<PairOrder>,
    delivered_total: u64,
    live: Arc<Live>,
    latencies: Arc<Latencies>,
}

impl Receiving {
    /// Handles what the socket yielded; returns whether the connection is still open.
    fn on_frame(
        &mut self,
        frame: Option<Result<Message, WsError>>,
        now_ns: u64,
        step: Option<&Step>,
        stats: &mut StepStats,
    ) -> bool {
        match frame {
            Some(Ok(Message::Text(text))) => {
                for line in setup::lines(text.as_bytes()) {
                    match self.scanner.classify(line) {
                        FrameKind::Probe(p) => self.on_probe(p, now_ns, step, stats),
                        FrameKind::Ack => stats.acks += 1,
                        FrameKind::Error => stats.error(String::from_utf8_lossy(line)),
                        _ => {}
                    }
                }
                true
            }
            Some(Ok(Message::Close(c))) => {
                stats.disconnected = 1;
                stats.error(format!("closed by server: {c:?}"));
                false
            }
            Some(Ok(_)) => true,
            Some(Err(e)) => {
                stats.disconnected = 1;
                stats.error(format!("connection error: {e}"));
                false
            }
            None => {
                stats.disconnected = 1;
                stats.error("connection closed");
                false
            }
        }
    }

    /// Counts one probe delivery.
    fn on_probe(&mut self, p: Probe, now_ns: u64, step: Option<&Step>, stats: &mut StepStats) {
        let Some(pair) = self.order.get_mut(p.sender as usize) else {
            stats.error(format!("probe from unknown sender {}", p.sender));
            return;
        };
        match pair.arrive(p.counter) {
            Arrival::Duplicate => {
                stats.duplicated += 1;
                return;
            }
            Arrival::OutOfOrder => stats.out_of_order += 1,
            Arrival::InOrder => {}
        }
        self.delivered_total += 1;
        self.live
            .delivered
            .store(self.delivered_total, Ordering::Relaxed);
        if let Some(s) = step
            && p.sent_ns >= s.warm_end_ns
            && p.sent_ns < s.send_end_ns
        {
            stats.delivered += 1;
            let us = now_ns.saturating_sub(p.sent_ns) / 1000;
            self.latencies.record(s.id, us.max(1));
        }
    }
}
