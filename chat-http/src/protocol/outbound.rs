//! The bounded outbound queue of one connection: shared `Bytes` frames go in; a producer may
//! wait a short grace period for room (bursts such as a resume catch-up pass), after which a
//! still-full queue marks the connection as a slow consumer and closes it. Every producer is
//! private to its connection (room feeds are per-connection tasks), so one stalled reader
//! never slows the others in its rooms.

use crate::metrics::Metrics;
use bytes::Bytes;
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// WebSocket close codes used by protocol 1.
pub mod close_code {
    /// The client closed, or the server ended the connection normally.
    pub const NORMAL: u16 = 1000;
    /// The server is shutting down.
    pub const GOING_AWAY: u16 = 1001;
    /// A message above the transport's hard size limit.
    pub const TOO_BIG: u16 = 1009;
    /// The server failed (for example a store error while streaming a room); resume with
    /// `after_seq`.
    pub const INTERNAL: u16 = 1011;
    /// Nothing arrived from the client within the idle timeout.
    pub const IDLE_TIMEOUT: u16 = 4000;
    /// The user was deactivated or deleted while connected.
    pub const SESSION_ENDED: u16 = 4001;
    /// The outbound queue stayed full for the grace period: the client reads too slowly.
    /// Resume with `after_seq`.
    pub const SLOW_CONSUMER: u16 = 4008;
    /// Too many rate-limited frames in a row.
    pub const RATE_ABUSE: u16 = 4029;
}

/// Why and how a connection closes. The first reason recorded wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloseReason {
    /// WebSocket close code.
    pub code: u16,
    /// Close reason text.
    pub reason: &'static str,
    /// Whether frames still queued are sent before the close frame.
    pub drain: bool,
}

/// A one-shot "close this connection" signal carrying the reason.
#[derive(Debug, Clone, Default)]
pub struct CloseSignal {
    token: CancellationToken,
    abort: CancellationToken,
    reason: Arc<OnceLock<CloseReason>>,
}

impl CloseSignal {
    /// A signal not yet raised.
    pub fn new() -> CloseSignal {
        CloseSignal::default()
    }

    /// Raises the signal (a no-op if it was raised already).
    pub fn close(&self, code: u16, reason: &'static str, drain: bool) {
        let _ = self.reason.set(CloseReason {
            code,
            reason,
            drain,
        });
        self.token.cancel();
        if !drain {
            self.abort.cancel();
        }
    }

    /// The recorded reason, if raised.
    pub fn reason(&self) -> Option<CloseReason> {
        self.reason.get().copied()
    }

    /// Whether the signal was raised.
    pub fn is_closed(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Waits until the signal is raised.
    pub async fn closed(&self) {
        self.token.cancelled().await;
    }

    /// Waits until the signal is raised with a reason that does not drain the queue: writes in
    /// progress are abandoned.
    pub async fn aborted(&self) {
        self.abort.cancelled().await;
    }
}

/// The sending side of a connection's queue. Cheap to clone (room forwarders hold one each).
#[derive(Debug, Clone)]
pub struct Outbound {
    tx: mpsc::Sender<Bytes>,
    close: CloseSignal,
    metrics: Arc<Metrics>,
    grace: Duration,
}

impl Outbound {
    /// A queue of `capacity` frames whose producers wait at most `grace` for room, returning
    /// its receiving end for the writer.
    pub fn new(
        capacity: usize,
        grace: Duration,
        close: CloseSignal,
        metrics: Arc<Metrics>,
    ) -> (Outbound, mpsc::Receiver<Bytes>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        (
            Outbound {
                tx,
                close,
                metrics,
                grace,
            },
            rx,
        )
    }

    /// Queues a frame. Returns `false` when the connection is closing. When the queue is full
    /// it waits up to the grace period; if it is still full, the connection is closed with
    /// [`close_code::SLOW_CONSUMER`].
    pub async fn push(&self, frame: Bytes) -> bool {
        if self.close.is_closed() {
            return false;
        }
        let frame = match self.tx.try_send(frame) {
            Ok(()) => return self.delivered(),
            Err(mpsc::error::TrySendError::Closed(_)) => return false,
            Err(mpsc::error::TrySendError::Full(frame)) => frame,
        };
        let waited = tokio::select! {
            r = tokio::time::timeout(self.grace, self.tx.send(frame)) => r,
            () = self.close.closed() => return false,
        };
        match waited {
            Ok(Ok(())) => self.delivered(),
            Ok(Err(_)) => false,
            Err(_) => {
                if self.close.reason().is_none() {
                    self.metrics
                        .send_queue_overflows
                        .fetch_add(1, Ordering::Relaxed);
                }
                self.close
                    .close(close_code::SLOW_CONSUMER, "slow consumer", false);
                false
            }
        }
    }

    fn delivered(&self) -> bool {
        self.metrics.deliveries.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// The connection's close signal.
    pub fn close_signal(&self) -> &CloseSignal {
        &self.close
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn overflow_closes_as_slow_consumer() {
        let metrics = Arc::new(Metrics::default());
        let close = CloseSignal::new();
        let grace = Duration::from_millis(20);
        let (out, mut rx) = Outbound::new(2, grace, close.clone(), metrics.clone());
        assert!(out.push(Bytes::from_static(b"1")).await);
        assert!(out.push(Bytes::from_static(b"2")).await);
        assert!(!out.push(Bytes::from_static(b"3")).await);
        assert!(
            !out.push(Bytes::from_static(b"4")).await,
            "closing: refused"
        );
        assert_eq!(
            close.reason().map(|r| r.code),
            Some(close_code::SLOW_CONSUMER)
        );
        assert_eq!(metrics.send_queue_overflows.load(Ordering::Relaxed), 1);
        assert_eq!(metrics.deliveries.load(Ordering::Relaxed), 2);
        assert_eq!(rx.try_recv().ok().as_deref(), Some(&b"1"[..]));
    }

    #[tokio::test]
    async fn a_burst_waits_for_the_writer() {
        let metrics = Arc::new(Metrics::default());
        let close = CloseSignal::new();
        let grace = Duration::from_secs(5);
        let (out, mut rx) = Outbound::new(1, grace, close.clone(), metrics);
        let reader = tokio::spawn(async move {
            let mut n = 0;
            while rx.recv().await.is_some() {
                n += 1;
            }
            n
        });
        for _ in 0..100 {
            assert!(out.push(Bytes::from_static(b"x")).await);
        }
        drop(out);
        assert_eq!(reader.await.unwrap(), 100);
        assert!(!close.is_closed());
    }
}
