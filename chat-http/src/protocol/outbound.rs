//! The bounded outbound queue of one connection, from its reader to its writer: direct frames
//! (`hello`, acks, errors, `joined`, history pages) as shared `Bytes`, plus the commands that
//! hand a room feed to the writer or take it back. One queue keeps them in order, so a room's
//! messages are written after its `joined` frame and none follows its `left` frame.
//!
//! A producer may wait a short grace period for room (bursts), after which a still-full queue
//! marks the connection as a slow consumer and closes it. Room messages do not pass through
//! here: the writer reads the room feeds itself (see [`super::feeds`]).

use crate::metrics::Metrics;
use bytes::Bytes;
use chat_core::{RoomFeed, RoomId, SessionEnd};
use futures::task::AtomicWaker;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::{Notify, mpsc};

/// WebSocket close codes used by protocol 1 (shared with the client).
pub use chat_protocol::close_code;

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
///
/// One allocation per connection (the reason and a wake-up list), shared by the reader, the
/// writer, the outbound queue and the session watch, each holding a pointer.
#[derive(Debug, Clone, Default)]
pub struct CloseSignal {
    state: Arc<CloseState>,
}

#[derive(Debug, Default)]
struct CloseState {
    reason: OnceLock<CloseReason>,
    raised: Notify,
    /// The writer's waker: polling it takes no lock, unlike `raised`.
    writer: AtomicWaker,
}

impl CloseState {
    fn close(&self, code: u16, reason: &'static str, drain: bool) {
        let _ = self.reason.set(CloseReason {
            code,
            reason,
            drain,
        });
        self.raised.notify_waiters();
        self.writer.wake();
    }
}

impl SessionEnd for CloseState {
    fn end(&self) {
        self.close(close_code::SESSION_ENDED, "session ended", true);
    }
}

impl CloseSignal {
    /// A signal not yet raised.
    pub fn new() -> CloseSignal {
        CloseSignal::default()
    }

    /// Raises the signal (a no-op if it was raised already).
    pub fn close(&self, code: u16, reason: &'static str, drain: bool) {
        self.state.close(code, reason, drain);
    }

    /// What the connection's session watch calls: closes with [`close_code::SESSION_ENDED`],
    /// without an allocation of its own.
    pub fn on_session_end(&self) -> Arc<dyn SessionEnd> {
        Arc::clone(&self.state) as Arc<dyn SessionEnd>
    }

    /// The recorded reason, if raised.
    pub fn reason(&self) -> Option<CloseReason> {
        self.state.reason.get().copied()
    }

    /// Whether the signal was raised (one atomic load: the writer checks it on every wake-up).
    pub fn is_closed(&self) -> bool {
        self.state.reason.get().is_some()
    }

    /// Polls for the signal without taking a lock, for the connection's writer, which polls
    /// it on every wake-up. It keeps one waker: only one task may poll it.
    pub fn poll_closed(&self, cx: &mut Context<'_>) -> Poll<()> {
        if !self.is_closed() {
            self.state.writer.register(cx.waker());
        }
        // Checked again after registering, so a raise in between is not missed.
        if self.is_closed() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }

    /// Waits until the signal is raised.
    pub async fn closed(&self) {
        loop {
            let raised = self.state.raised.notified();
            let mut raised = std::pin::pin!(raised);
            // Registered before the check, so a raise in between is not missed.
            raised.as_mut().enable();
            if self.is_closed() {
                return;
            }
            raised.await;
        }
    }
}

/// What the reader of a connection sends its writer, in order.
#[derive(Debug)]
pub enum Out {
    /// A frame to write as is.
    Frame(Bytes),
    /// Start or stop writing a room's feed.
    Room(RoomCommand),
}

/// Starts or stops the writing of a room's feed. A separate enum so that [`Out`] stays the size
/// of a frame (the queue allocates its slots up front).
#[derive(Debug)]
pub enum RoomCommand {
    /// Start writing a room's feed (sent right after the room's `joined` frame).
    Watch(Box<Watch>),
    /// Stop writing a room's feed (sent before the room's `left` frame, and before a re-join).
    Unwatch(RoomId),
}

/// A room feed handed to the writer. Boxed inside [`Out`] so the queue's slots stay the size of
/// a frame.
#[derive(Debug)]
pub struct Watch {
    /// The feed, already positioned (live, or catching up after a client's `after_seq`).
    pub feed: RoomFeed,
    /// The room's canonical name, as written in its frames.
    pub room: Arc<str>,
}

/// How often a producer waiting for the writer to take bytes out looks again. Waiting is rare
/// (a queue over its byte limit), so a plain re-check keeps every connection's count one
/// atomic, without a wake-up list.
const BYTES_RECHECK: Duration = Duration::from_millis(2);

/// The sending side of a connection's queue, held by the connection's reader.
#[derive(Debug, Clone)]
pub struct Outbound {
    tx: mpsc::Sender<Out>,
    /// Bytes of frames queued, shared with the writer's end.
    bytes: Arc<AtomicUsize>,
    max_bytes: usize,
    close: CloseSignal,
    metrics: Arc<Metrics>,
    grace: Duration,
}

/// The receiving side of a connection's queue, read by the connection's writer.
#[derive(Debug)]
pub struct OutboundRx {
    rx: mpsc::Receiver<Out>,
    bytes: Arc<AtomicUsize>,
}

impl OutboundRx {
    fn taken(&self, out: &Out) {
        if let Out::Frame(frame) = out {
            self.bytes.fetch_sub(frame.len(), Ordering::AcqRel);
        }
    }

    /// Polls for the next entry (see [`mpsc::Receiver::poll_recv`]).
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Out>> {
        let polled = self.rx.poll_recv(cx);
        if let Poll::Ready(Some(out)) = &polled {
            self.taken(out);
        }
        polled
    }

    /// Takes the next entry if one is queued.
    pub fn try_recv(&mut self) -> Result<Out, mpsc::error::TryRecvError> {
        let out = self.rx.try_recv()?;
        self.taken(&out);
        Ok(out)
    }
}

/// A bare channel as a queue without a byte limit, for writer tests that feed it directly.
#[cfg(test)]
impl From<mpsc::Receiver<Out>> for OutboundRx {
    fn from(rx: mpsc::Receiver<Out>) -> OutboundRx {
        let bytes = Arc::new(AtomicUsize::new(usize::MAX / 2));
        OutboundRx { rx, bytes }
    }
}

impl Outbound {
    /// A queue of `capacity` entries and `max_bytes` bytes of frames whose producers wait at
    /// most `grace` for room, returning its receiving end for the writer.
    pub fn new(
        capacity: usize,
        max_bytes: usize,
        grace: Duration,
        close: CloseSignal,
        metrics: Arc<Metrics>,
    ) -> (Outbound, OutboundRx) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let bytes = Arc::new(AtomicUsize::new(0));
        (
            Outbound {
                tx,
                bytes: Arc::clone(&bytes),
                max_bytes,
                close,
                metrics,
                grace,
            },
            OutboundRx { rx, bytes },
        )
    }

    /// Queues a frame. Returns `false` when the connection is closing. When the queue is full
    /// (in entries or in bytes) it waits up to the grace period; if it is still full, the
    /// connection is closed with [`close_code::SLOW_CONSUMER`].
    pub async fn push(&self, frame: Bytes) -> bool {
        let len = frame.len();
        if !self.reserve(len).await {
            return false;
        }
        if self.send(Out::Frame(frame)).await {
            self.delivered()
        } else {
            self.bytes.fetch_sub(len, Ordering::AcqRel);
            false
        }
    }

    /// Counts `len` bytes into the queue, waiting up to the grace period for the writer to
    /// take enough out. A frame larger than the limit passes when the queue is empty.
    async fn reserve(&self, len: usize) -> bool {
        let fits = || {
            self.bytes
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |queued| {
                    (queued == 0 || queued.saturating_add(len) <= self.max_bytes)
                        .then(|| queued.saturating_add(len))
                })
                .is_ok()
        };
        if fits() {
            return true;
        }
        let wait = async {
            while !fits() {
                tokio::time::sleep(BYTES_RECHECK).await;
            }
        };
        let waited = tokio::select! {
            r = tokio::time::timeout(self.grace, wait) => r,
            () = self.close.closed() => return false,
        };
        if waited.is_err() {
            self.overflowed();
            return false;
        }
        true
    }

    fn overflowed(&self) {
        if self.close.reason().is_none() {
            self.metrics
                .send_queue_overflows
                .fetch_add(1, Ordering::Relaxed);
        }
        self.close
            .close(close_code::SLOW_CONSUMER, "slow consumer", false);
    }

    /// Hands `feed` of the room called `room` to the writer, which writes its events from now
    /// on. Returns `false` when the connection is closing (the feed is dropped).
    pub async fn watch(&self, feed: RoomFeed, room: Arc<str>) -> bool {
        self.send(Out::Room(RoomCommand::Watch(Box::new(Watch {
            feed,
            room,
        }))))
        .await
    }

    /// Tells the writer to drop the feed of `room`: nothing of it is written after what is
    /// queued next. Returns `false` when the connection is closing.
    pub async fn unwatch(&self, room: RoomId) -> bool {
        self.send(Out::Room(RoomCommand::Unwatch(room))).await
    }

    /// Queues `out`, waiting up to the grace period for room (see [`Outbound::push`]).
    async fn send(&self, out: Out) -> bool {
        if self.close.is_closed() {
            return false;
        }
        let out = match self.tx.try_send(out) {
            Ok(()) => return true,
            Err(mpsc::error::TrySendError::Closed(_)) => return false,
            Err(mpsc::error::TrySendError::Full(out)) => out,
        };
        let waited = tokio::select! {
            r = tokio::time::timeout(self.grace, self.tx.send(out)) => r,
            () = self.close.closed() => return false,
        };
        match waited {
            Ok(Ok(())) => true,
            Ok(Err(_)) => false,
            Err(_) => {
                self.overflowed();
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

    #[test]
    fn queue_entries_stay_the_size_of_a_frame() {
        // The channel allocates its slots up front: an idle connection pays for them.
        assert_eq!(std::mem::size_of::<Out>(), std::mem::size_of::<Bytes>());
    }

    #[tokio::test]
    async fn overflow_closes_as_slow_consumer() {
        let metrics = Arc::new(Metrics::default());
        let close = CloseSignal::new();
        let grace = Duration::from_millis(20);
        let (out, mut rx) = Outbound::new(2, 1 << 20, grace, close.clone(), metrics.clone());
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
        assert!(matches!(rx.try_recv(), Ok(Out::Frame(f)) if f == b"1"[..]));
    }

    #[tokio::test]
    async fn the_queue_is_bounded_in_bytes() {
        let metrics = Arc::new(Metrics::default());
        let close = CloseSignal::new();
        let grace = Duration::from_millis(20);
        let (out, mut rx) = Outbound::new(100, 10, grace, close.clone(), metrics);
        assert!(
            out.push(Bytes::from(vec![b'a'; 64])).await,
            "alone, a big frame passes"
        );
        let waiting = {
            let out = out.clone();
            tokio::spawn(async move { out.push(Bytes::from(vec![b'b'; 4])).await })
        };
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert!(matches!(rx.try_recv(), Ok(Out::Frame(f)) if f.len() == 64));
        assert!(waiting.await.unwrap(), "taking a frame makes room");
        assert!(out.push(Bytes::from(vec![b'c'; 6])).await);
        assert!(
            !out.push(Bytes::from(vec![b'd'; 1])).await,
            "10 bytes queued, no room"
        );
        assert_eq!(
            close.reason().map(|r| r.code),
            Some(close_code::SLOW_CONSUMER)
        );
    }

    #[tokio::test]
    async fn a_burst_waits_for_the_writer() {
        let metrics = Arc::new(Metrics::default());
        let close = CloseSignal::new();
        let grace = Duration::from_secs(5);
        let (out, mut rx) = Outbound::new(1, 1 << 20, grace, close.clone(), metrics);
        let reader = tokio::spawn(async move {
            let mut n = 0;
            while std::future::poll_fn(|cx| rx.poll_recv(cx)).await.is_some() {
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
