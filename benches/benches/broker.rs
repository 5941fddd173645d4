//! Broker fan-out: `chat_core::LocalBroker` publishing one message event to 1, 100 and 10,000
//! subscribers of a room, until every subscriber has it.
//!
//! Two shapes: `drain` publishes and then reads every subscription in the same thread (the
//! broker's own cost: one `Arc` into the ring, one read per subscriber); `tasks` gives each
//! subscriber its own tokio task, as a server does, so the figure includes waking them all on
//! a 2-thread runtime.

use chat_core::{
    Broker, Delivery, Envelope, LocalBroker, Message, MessageId, RoomEvent, RoomId, Seq, Timestamp,
    UserId,
};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::Notify;

const ROOM: RoomId = RoomId(1);

fn event() -> RoomEvent {
    RoomEvent::MessagePosted {
        message: Message {
            id: MessageId(1),
            room: ROOM,
            seq: Seq(1),
            author: UserId(1),
            author_name: "alice".into(),
            body: "hello, world: a message of typical length for a chat room".into(),
            client_id: Some("c-1".into()),
            created_at: Timestamp(1_790_000_000_000),
            edited_at: None,
            deleted: false,
        },
    }
}

fn drain(c: &mut Criterion) {
    let mut group = c.benchmark_group("broker_fanout_drain");
    for n in [1usize, 100, 10_000] {
        let broker = LocalBroker::new(1024);
        let mut subs: Vec<_> = (0..n).map(|_| broker.subscribe_local(ROOM)).collect();
        let ev = event();
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| {
                let got = broker.deliver(Arc::new(Envelope::new(ROOM, ev.clone())));
                for s in subs.iter_mut() {
                    black_box(s.try_recv());
                }
                got
            });
        });
        assert_eq!(broker.subscriber_count(ROOM), n);
    }
    group.finish();
}

/// Counts deliveries of one event down to zero, then wakes the publisher.
struct Latch {
    remaining: AtomicUsize,
    n: usize,
    done: Notify,
}

fn tasks(c: &mut Criterion) {
    let Ok(rt) = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    else {
        eprintln!("broker bench: cannot build a tokio runtime; skipped");
        return;
    };
    let mut group = c.benchmark_group("broker_fanout_tasks");
    for n in [1usize, 100, 10_000] {
        let broker = LocalBroker::new(1024);
        let latch = Arc::new(Latch {
            remaining: AtomicUsize::new(n),
            n,
            done: Notify::new(),
        });
        let handles: Vec<_> = (0..n)
            .map(|_| {
                let mut sub = broker.subscribe_local(ROOM);
                let latch = Arc::clone(&latch);
                rt.spawn(async move {
                    loop {
                        match sub.recv().await {
                            Delivery::Event(e) => {
                                black_box(e);
                            }
                            Delivery::Lagged { .. } => {}
                            Delivery::Closed => return,
                        }
                        if latch.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
                            latch.remaining.store(latch.n, Ordering::Release);
                            latch.done.notify_one();
                        }
                    }
                })
            })
            .collect();
        let ev = event();
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.to_async(&rt).iter(|| async {
                let _ = broker.publish(ROOM, ev.clone()).await;
                latch.done.notified().await;
            });
        });
        for h in handles {
            h.abort();
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20);
    targets = drain, tasks
}
criterion_main!(benches);
