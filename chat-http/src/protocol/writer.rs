//! The writer task of one connection: the only task that touches the socket's sending half.
//!
//! It reads the reader's outbound queue and the connection's room feeds itself, so a room
//! message costs one wake-up of one task. Each wake-up takes whatever is ready in the queue and
//! in every feed (without waiting, up to [`WRITE_BATCH`] frames), hands it all to the sink and
//! flushes once. It also pings on schedule and sends the close frame. A connection that opted
//! into [batching](super::batch) gets what one wake-up finds ready as one text frame.
//!
//! A client that stops reading makes a write stall. Its room feeds are then not read, so the
//! broker's rings lag for this connection only and its feeds later catch up from the store by
//! seq: no memory grows and nothing is lost. A write (frames and flush) that stalls for the
//! slow-consumer grace period closes the connection with 4008.

use super::batch::{Batch, Joined, MAX_BATCH_BYTES, cut};
use super::engine::{CLOSE_GRACE, WsOut};
use super::feeds::{self, Feeds};
use super::outbound::{CloseReason, CloseSignal, Out, OutboundRx, close_code};
use crate::metrics::Metrics;
use bytes::Bytes;
use futures::{Sink, SinkExt};
use std::fmt::Display;
use std::future::{Future, poll_fn};
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::Poll;
use std::time::Duration;
use tokio::time::{Instant, Interval, MissedTickBehavior};

/// Most frames taken from the sources between two flushes.
pub const WRITE_BATCH: usize = 64;

/// A frame to send, and how many room frames it holds (counted as deliveries once written).
type Held = (WsOut, u64);

/// A text frame (or a batch of them) to send, and its room frames.
fn text((frame, rooms): Joined) -> Held {
    (WsOut::Text(frame), rooms)
}

/// Why the write loop stopped.
enum Stop {
    /// The close signal was raised.
    Closed,
    /// The reader is gone (the queue closed).
    ReaderGone,
    /// The transport failed.
    Failed,
    /// A write did not complete within the grace period.
    Stalled,
}

/// The state of a connection's writer. What was taken from the sources but not yet accepted
/// by the sink stays here, so a write cut short by the close signal loses nothing.
pub(crate) struct Writer {
    rx: OutboundRx,
    feeds: Feeds,
    metrics: Arc<Metrics>,
    ping: Interval,
    grace: Duration,
    /// Taken from a source; waits for the sink to accept it.
    held: Option<Held>,
    /// The part of a run of room frames (joined by newlines) not yet handed on: a
    /// non-batching connection writes them one frame at a time, a batching one in batches of
    /// at most [`MAX_BATCH_BYTES`]; and how many frames it holds.
    rest: Option<(Bytes, u64)>,
    /// The frames taken in this wake-up, when the connection batches them (boxed: most
    /// connections do not).
    batch: Option<Box<Batch>>,
    /// Room frames written and not yet added to the metrics.
    room_frames: u64,
}

impl Writer {
    /// A writer of the reader's queue `rx` and the room `feeds`, pinging every `ping_every`
    /// and closing as a slow consumer after a write stalled for `grace`; with `batch`, the
    /// text frames of one wake-up go out as one frame.
    pub(crate) fn new(
        rx: OutboundRx,
        feeds: Feeds,
        metrics: Arc<Metrics>,
        ping_every: Duration,
        grace: Duration,
        batch: bool,
    ) -> Writer {
        let ping_every = ping_every.max(Duration::from_millis(10));
        let mut ping = tokio::time::interval_at(Instant::now() + ping_every, ping_every);
        ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
        Writer {
            rx,
            feeds,
            metrics,
            ping,
            grace,
            held: None,
            rest: None,
            batch: batch.then(|| Box::new(Batch::new())),
            room_frames: 0,
        }
    }

    /// Writes into `sink` until `close` is raised or the reader is gone, then sends the close
    /// frame. Not an `async fn`: its arguments would be stored twice in the future.
    #[allow(
        clippy::manual_async_fn,
        reason = "an async fn stores its arguments twice in its future"
    )]
    pub(crate) fn run<Si>(mut self, close: CloseSignal, mut sink: Si) -> impl Future<Output = ()>
    where
        Si: Sink<WsOut> + Unpin,
        Si::Error: Display,
    {
        async move {
            let stop = loop {
                tokio::select! {
                    biased;
                    () = poll_fn(|cx| close.poll_closed(cx)) => break Stop::Closed,
                    _ = self.ping.tick() => self.held = Some((WsOut::Ping(Bytes::new()), 0)),
                    next = poll_fn(|cx| {
                        feeds::poll_next(cx, &mut self.rx, &mut self.feeds, &close)
                    }) => match next {
                        Some((frames, count)) => self.held = self.accept(frames, count),
                        None => break Stop::ReaderGone,
                    },
                }
                let grace = self.grace;
                let written = {
                    let mut write = pin!(self.write(&mut sink, &close));
                    // Most writes complete at once: only one that waits gets a grace timer.
                    match futures::poll!(write.as_mut()) {
                        Poll::Ready(written) => written,
                        Poll::Pending => tokio::select! {
                            biased;
                            () = poll_fn(|cx| close.poll_closed(cx)) => Err(Stop::Closed),
                            written = write => written,
                            () = Box::pin(tokio::time::sleep(grace)) => Err(Stop::Stalled),
                        },
                    }
                };
                if self.room_frames > 0 {
                    let written = std::mem::take(&mut self.room_frames);
                    self.metrics
                        .deliveries
                        .fetch_add(written, Ordering::Relaxed);
                }
                match written {
                    // More may be ready: let the other tasks of this thread run first.
                    Ok(true) => tokio::task::yield_now().await,
                    Ok(false) => {}
                    Err(stop) => break stop,
                }
            };
            match stop {
                Stop::Closed | Stop::ReaderGone => {}
                Stop::Failed => close.close(close_code::NORMAL, "connection lost", false),
                Stop::Stalled => {
                    if close.reason().is_none() {
                        self.metrics
                            .send_queue_overflows
                            .fetch_add(1, Ordering::Relaxed);
                    }
                    close.close(close_code::SLOW_CONSUMER, "slow consumer", false);
                }
            }
            // The subscriptions go now, not after the close handshake.
            self.feeds.clear();
            // Boxed: only the closing connection pays for the closing handshake's state.
            Box::pin(self.finish(&mut sink, &close)).await;
        }
    }

    /// Hands the held frame and whatever else is ready (up to [`WRITE_BATCH`] frames taken
    /// in all) to the sink, then flushes. `Ok(true)` when it stopped at the limit.
    async fn write<Si>(&mut self, sink: &mut Si, close: &CloseSignal) -> Result<bool, Stop>
    where
        Si: Sink<WsOut> + Unpin,
        Si::Error: Display,
    {
        let mut taken = 1;
        loop {
            if self.held.is_some() {
                poll_fn(|cx| sink.poll_ready_unpin(cx))
                    .await
                    .map_err(failed)?;
                // Taken only now: a write cut short keeps the frame.
                if let Some((out, rooms)) = self.held.take() {
                    sink.start_send_unpin(out).map_err(failed)?;
                    self.room_frames += rooms;
                }
            }
            if let Some((frames, count)) = self.rest.take() {
                self.held = self.accept(frames, count);
                continue;
            }
            if taken < WRITE_BATCH {
                // Polled with the task's context: registers its waker with every source that
                // has nothing ready.
                let next = poll_fn(|cx| {
                    Poll::Ready(feeds::poll_next(cx, &mut self.rx, &mut self.feeds, close))
                });
                match next.await {
                    Poll::Ready(Some((frames, count))) => {
                        taken += 1;
                        self.held = self.accept(frames, count);
                        continue;
                    }
                    Poll::Ready(None) => return Err(Stop::ReaderGone),
                    Poll::Pending => {}
                }
            }
            match self.batch.as_mut().and_then(|b| b.take()) {
                Some(joined) => self.held = Some(text(joined)),
                None => break,
            }
        }
        poll_fn(|cx| sink.poll_flush_unpin(cx))
            .await
            .map_err(failed)?;
        Ok(taken >= WRITE_BATCH)
    }

    /// Takes frames from a source (`count` room frames joined by newlines, or one direct
    /// frame with `count` 0): what to hand to the sink now, if anything. Batching, frames are
    /// held only once the batch is full (a run longer than a batch is cut at a line); else a
    /// run goes out one frame per line. What is left of a run waits in `rest`.
    fn accept(&mut self, frames: Bytes, count: u64) -> Option<Held> {
        match self.batch.as_mut() {
            Some(batch) => {
                let ((head, n), rest) = cut(frames, count, MAX_BATCH_BYTES);
                self.rest = rest;
                batch.push(head, n).map(text)
            }
            None => {
                let ((head, n), rest) = cut(frames, count, 0);
                self.rest = rest;
                Some(text((head, n)))
            }
        }
    }

    /// Sends the held frame and the queued direct frames (when the close reason drains), then
    /// the close frame, within [`CLOSE_GRACE`].
    async fn finish<Si>(&mut self, sink: &mut Si, close: &CloseSignal)
    where
        Si: Sink<WsOut> + Unpin,
        Si::Error: Display,
    {
        let reason = close.reason().unwrap_or(CloseReason {
            code: close_code::NORMAL,
            reason: "bye",
            drain: true,
        });
        tracing::debug!(
            code = reason.code,
            reason = reason.reason,
            "closing websocket"
        );
        // What was taken, in order: the held frame, the rest of a run, then the batch being
        // joined.
        let mut held: Vec<Held> = self.held.take().into_iter().collect();
        while let Some((frames, count)) = self.rest.take() {
            held.extend(self.accept(frames, count));
        }
        held.extend(self.batch.as_mut().and_then(|b| b.take()).map(text));
        let (rx, metrics) = (&mut self.rx, &self.metrics);
        let finish = async {
            if reason.drain {
                for (out, rooms) in held {
                    sink.feed(out).await?;
                    metrics.deliveries.fetch_add(rooms, Ordering::Relaxed);
                }
                while let Ok(out) = rx.try_recv() {
                    if let Out::Frame(frame) = out {
                        sink.feed(WsOut::Text(frame)).await?;
                    }
                }
            }
            sink.send(WsOut::Close {
                code: reason.code,
                reason: reason.reason,
            })
            .await?;
            sink.close().await
        };
        match tokio::time::timeout(CLOSE_GRACE, finish).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::debug!(error = %e, "closing websocket failed"),
            Err(_) => tracing::debug!("closing websocket timed out"),
        }
    }
}

/// Logs a failed write.
fn failed(e: impl Display) -> Stop {
    tracing::debug!(error = %e, "websocket write failed");
    Stop::Failed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::outbound::{RoomCommand, Watch};
    use chat_core::{Envelope, LocalBroker, RoomEvent, RoomFeed, RoomId, Seq, UserId};
    use std::convert::Infallible;
    use std::pin::Pin;
    use std::sync::Mutex;
    use std::task::{Context, Waker};

    /// A sink that logs what it is asked to do, and can be made to wait.
    #[derive(Clone, Default)]
    struct Recorder(Arc<Mutex<Recorded>>);

    #[derive(Default)]
    struct Recorded {
        log: Vec<String>,
        blocked: bool,
        waker: Option<Waker>,
    }

    impl Recorder {
        fn log(&self) -> Vec<String> {
            self.0.lock().unwrap().log.clone()
        }

        fn frames(&self) -> Vec<String> {
            let ops = ["flush", "closed", "ping"];
            let log = self.log().into_iter();
            log.filter(|l| !ops.contains(&l.as_str()) && !l.starts_with("close "))
                .collect()
        }

        fn set_blocked(&self, blocked: bool) {
            let mut r = self.0.lock().unwrap();
            r.blocked = blocked;
            if let Some(w) = r.waker.take() {
                w.wake();
            }
        }

        fn poll_unblocked(&self, cx: &mut Context<'_>, log: Option<&str>) -> Poll<()> {
            let mut r = self.0.lock().unwrap();
            if r.blocked {
                r.waker = Some(cx.waker().clone());
                return Poll::Pending;
            }
            r.log.extend(log.map(String::from));
            Poll::Ready(())
        }

        async fn wait_for(&self, what: impl Fn(&[String]) -> bool) {
            let wait = async {
                while !what(&self.log()) {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            };
            tokio::time::timeout(Duration::from_secs(5), wait)
                .await
                .unwrap_or_else(|_| panic!("timed out; log: {:?}", self.log()));
        }
    }

    impl Sink<WsOut> for Recorder {
        type Error = Infallible;

        fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            self.poll_unblocked(cx, None).map(Ok)
        }

        fn start_send(self: Pin<&mut Self>, item: WsOut) -> Result<(), Infallible> {
            let entry = match item {
                WsOut::Text(b) => String::from_utf8(b.to_vec()).unwrap(),
                WsOut::Ping(_) => "ping".into(),
                WsOut::Close { code, .. } => format!("close {code}"),
            };
            self.0.lock().unwrap().log.push(entry);
            Ok(())
        }

        fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            self.poll_unblocked(cx, Some("flush")).map(Ok)
        }

        fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            self.poll_unblocked(cx, Some("closed")).map(Ok)
        }
    }

    struct Setup {
        tx: tokio::sync::mpsc::Sender<Out>,
        close: CloseSignal,
        metrics: Arc<Metrics>,
        sink: Recorder,
        broker: LocalBroker,
        service: chat_core::ChatService,
        task: tokio::task::JoinHandle<()>,
    }

    fn start(grace: Duration) -> Setup {
        start_with(grace, false)
    }

    fn start_with(grace: Duration, batch: bool) -> Setup {
        let broker = LocalBroker::default();
        let service = chat_core::ChatService::new(
            Arc::new(chat_store_memory::MemoryStore::new()),
            Arc::new(broker.clone()),
            chat_core::Config::for_tests(),
        );
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        let feeds = Feeds::new(UserId(1), service.clone());
        let (close, metrics, sink) = (
            CloseSignal::new(),
            Arc::new(Metrics::default()),
            Recorder::default(),
        );
        let writer = Writer::new(
            rx.into(),
            feeds,
            metrics.clone(),
            Duration::from_secs(3600),
            grace,
            batch,
        );
        let task = tokio::spawn(writer.run(close.clone(), sink.clone()));
        Setup {
            tx,
            close,
            metrics,
            sink,
            broker,
            service,
            task,
        }
    }

    impl Setup {
        /// Queues the command to read `feed` (room 1, named "r").
        fn watch(&self, feed: RoomFeed) {
            let watch = Watch {
                feed,
                room: Arc::from("r"),
            };
            self.tx
                .try_send(Out::Room(RoomCommand::Watch(Box::new(watch))))
                .unwrap();
        }

        /// A live feed of room 1.
        fn live_feed(&self) -> RoomFeed {
            let subscription = self.broker.subscribe_local(RoomId(1));
            RoomFeed::new(
                RoomId(1),
                subscription,
                self.service.store().clone(),
                Seq(0),
                false,
            )
        }
    }

    fn frame(text: &str) -> Out {
        Out::Frame(Bytes::from(text.to_string()))
    }

    fn typing(user: i64) -> Arc<Envelope> {
        let event = RoomEvent::Typing {
            user: UserId(user),
            username: format!("u{user}"),
        };
        Arc::new(Envelope::new(RoomId(1), event))
    }

    #[tokio::test]
    async fn what_is_ready_is_written_with_one_flush() {
        let s = start(Duration::from_secs(5));
        for i in 0..10 {
            s.tx.try_send(frame(&i.to_string())).unwrap();
        }
        s.sink
            .wait_for(|log| log.iter().any(|l| l == "flush"))
            .await;
        s.close.close(close_code::NORMAL, "bye", true);
        s.task.await.unwrap();
        let expected: Vec<String> = (0..10)
            .map(|i| i.to_string())
            .chain(["flush".into()])
            .collect();
        assert_eq!(s.sink.log()[..11], expected[..]);
        assert_eq!(s.sink.log()[11..], ["close 1000", "flush", "closed"]);
    }

    #[tokio::test]
    async fn a_batching_writer_joins_what_is_ready_into_one_frame() {
        let s = start_with(Duration::from_secs(5), true);
        let feed = s.live_feed();
        s.broker.deliver(typing(2));
        s.broker.deliver(typing(3));
        s.tx.try_send(frame(r#"{"type":"joined"}"#)).unwrap();
        s.watch(feed);
        s.sink
            .wait_for(|log| log.iter().any(|l| l == "flush"))
            .await;
        // A lone frame later goes out as it is.
        s.tx.try_send(frame(r#"{"type":"pong"}"#)).unwrap();
        s.sink
            .wait_for(|log| log.iter().filter(|l| *l == "flush").count() == 2)
            .await;
        s.close.close(close_code::NORMAL, "bye", true);
        s.task.await.unwrap();
        let log = s.sink.log();
        assert_eq!(log[1], "flush", "one frame, one flush: {log:?}");
        let lines: Vec<&str> = log[0].split('\n').collect();
        assert_eq!(lines.len(), 3, "{log:?}");
        assert_eq!(lines[0], r#"{"type":"joined"}"#);
        assert!(lines[1].contains(r#""user":"u2""#), "{log:?}");
        assert!(lines[2].contains(r#""user":"u3""#), "{log:?}");
        assert_eq!(log[2..4], [r#"{"type":"pong"}"#, "flush"]);
        assert_eq!(s.metrics.deliveries.load(Ordering::Relaxed), 2);
    }

    /// The frames written for a run of messages of room 1 (seqs 1..=`bodies.len()`), and the
    /// deliveries counted.
    async fn write_a_run(batch: bool, bodies: &[String]) -> (Vec<String>, u64) {
        let s = start_with(Duration::from_secs(5), batch);
        let feed = s.live_feed();
        let messages = (1..)
            .zip(bodies)
            .map(|(seq, body)| chat_core::testing::sample_message(1, seq, body))
            .collect();
        let event = RoomEvent::posted(messages).unwrap();
        s.broker.deliver(Arc::new(Envelope::new(RoomId(1), event)));
        s.watch(feed);
        s.sink
            .wait_for(|log| log.iter().any(|l| l == "flush"))
            .await;
        s.close.close(close_code::NORMAL, "bye", true);
        s.task.await.unwrap();
        let frames = s.sink.frames();
        (frames, s.metrics.deliveries.load(Ordering::Relaxed))
    }

    fn seqs(frame: &str) -> Vec<i64> {
        frame
            .split('\n')
            .map(|line| {
                let v: serde_json::Value = serde_json::from_str(line).unwrap();
                assert_eq!(v["type"], "message", "{line}");
                v["seq"].as_i64().unwrap()
            })
            .collect()
    }

    #[tokio::test]
    async fn a_run_of_messages_is_one_frame_each_unless_batching() {
        let bodies: Vec<String> = ["a", "b", "c"].map(String::from).into();
        let (frames, delivered) = write_a_run(false, &bodies).await;
        let each: Vec<Vec<i64>> = frames.iter().map(|f| seqs(f)).collect();
        assert_eq!(each, [[1], [2], [3]], "{frames:?}");
        assert_eq!(delivered, 3);
        let (frames, delivered) = write_a_run(true, &bodies).await;
        let each: Vec<Vec<i64>> = frames.iter().map(|f| seqs(f)).collect();
        assert_eq!(each, [vec![1, 2, 3]], "{frames:?}");
        assert_eq!(delivered, 3);
    }

    #[tokio::test]
    async fn a_batched_run_above_the_batch_limit_is_cut_at_a_line() {
        let bodies = vec!["x".repeat(MAX_BATCH_BYTES / 3); 4];
        let (frames, delivered) = write_a_run(true, &bodies).await;
        let each: Vec<Vec<i64>> = frames.iter().map(|f| seqs(f)).collect();
        assert_eq!(each, [vec![1, 2], vec![3, 4]], "{frames:?}");
        assert!(frames.iter().all(|f| f.len() <= MAX_BATCH_BYTES));
        assert_eq!(delivered, 4);
    }

    #[tokio::test]
    async fn a_closing_batching_writer_drains_what_it_joined() {
        let s = start_with(Duration::from_secs(5), true);
        s.sink.set_blocked(true);
        s.tx.try_send(frame("a")).unwrap();
        s.tx.try_send(frame("b")).unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        s.tx.try_send(frame("c")).unwrap();
        s.close
            .close(close_code::GOING_AWAY, "server shutting down", true);
        s.sink.set_blocked(false);
        s.task.await.unwrap();
        let frames = s.sink.frames();
        assert_eq!(
            frames.join("\n"),
            "a\nb\nc",
            "in order, nothing lost: {frames:?}"
        );
        assert!(
            s.sink
                .log()
                .ends_with(&["close 1001".into(), "flush".into(), "closed".into()])
        );
    }

    #[tokio::test]
    async fn room_frames_come_between_joined_and_left() {
        let s = start(Duration::from_secs(5));
        let feed = s.live_feed();
        s.broker.deliver(typing(2));
        s.broker.deliver(typing(1)); // the connection's own: skipped
        s.broker.deliver(typing(3));
        s.tx.try_send(frame("joined")).unwrap();
        s.watch(feed);
        s.sink.wait_for(|log| log.len() >= 4).await;
        // Queued before the writer runs again: the feed's next event is not written.
        s.tx.try_send(Out::Room(RoomCommand::Unwatch(RoomId(1))))
            .unwrap();
        s.tx.try_send(frame("left")).unwrap();
        s.broker.deliver(typing(4));
        s.sink.wait_for(|log| log.iter().any(|l| l == "left")).await;
        s.close.close(close_code::NORMAL, "bye", true);
        s.task.await.unwrap();
        let frames = s.sink.frames();
        assert_eq!(frames.len(), 4, "{frames:?}");
        assert_eq!(frames[0], "joined");
        assert!(frames[1].contains(r#""user":"u2""#), "{frames:?}");
        assert!(frames[2].contains(r#""user":"u3""#), "{frames:?}");
        assert_eq!(frames[3], "left");
        assert_eq!(s.metrics.deliveries.load(Ordering::Relaxed), 2);
        assert_eq!(
            s.broker.subscriber_count(RoomId(1)),
            0,
            "the feed was dropped"
        );
    }

    #[tokio::test]
    async fn a_stalled_batch_closes_as_slow_consumer() {
        let s = start(Duration::from_millis(50));
        s.sink.set_blocked(true);
        s.tx.try_send(frame("stuck")).unwrap();
        let closed = async {
            while s.close.reason().is_none() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(5), closed)
            .await
            .unwrap();
        assert_eq!(
            s.close.reason().map(|r| r.code),
            Some(close_code::SLOW_CONSUMER)
        );
        assert_eq!(s.metrics.send_queue_overflows.load(Ordering::Relaxed), 1);
        s.sink.set_blocked(false);
        s.task.await.unwrap();
        assert_eq!(s.sink.log(), ["close 4008", "flush", "closed"]);
    }
}
