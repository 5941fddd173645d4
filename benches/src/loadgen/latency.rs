//! End-to-end latency histograms, kept per generator thread rather than per connection.
//!
//! A histogram of 1 us to 10 minutes at 3 significant figures holds about 20,000 counters
//! (160 KB). With one per connection, 200 connections spread their records over 32 MB, so
//! nearly every record missed the caches: `record` was 9% of the generator's CPU at 400k
//! deliveries/s. Here a connection records into the shard of the thread it runs on (a mutex
//! that only that thread takes while a step runs), and the main task merges the shards of a
//! step when it collects the step.

use super::stats::new_histogram;
use hdrhistogram::Histogram;
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// The next shard slot handed to a thread that records for the first time.
static NEXT_SLOT: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// This thread's shard slot, taken from [`NEXT_SLOT`] on first use.
    static SLOT: Cell<Option<usize>> = const { Cell::new(None) };
}

/// The histograms of one shard, by step.
type Shard = Vec<(u32, Histogram<u64>)>;

/// Latency histograms of every step of a run, sharded by recording thread.
#[derive(Debug)]
pub struct Latencies {
    shards: Vec<Mutex<Shard>>,
}

impl Latencies {
    /// Room for `shards` recording threads without sharing (more threads share shards, which
    /// stays correct).
    pub fn new(shards: usize) -> Latencies {
        Latencies {
            shards: (0..shards.max(1)).map(|_| Mutex::new(Vec::new())).collect(),
        }
    }

    /// Records one latency in microseconds for step `step` (clamped to the histogram's range).
    pub fn record(&self, step: u32, us: u64) {
        let slot = SLOT.with(|slot| match slot.get() {
            Some(i) => i,
            None => {
                let i = NEXT_SLOT.fetch_add(1, Ordering::Relaxed);
                slot.set(Some(i));
                i
            }
        });
        let mut shard = lock(&self.shards[slot % self.shards.len()]);
        match shard.iter_mut().find(|(s, _)| *s == step) {
            Some((_, histogram)) => histogram.saturating_record(us),
            None => {
                let mut histogram = new_histogram();
                histogram.saturating_record(us);
                shard.push((step, histogram));
            }
        }
    }

    /// Takes every latency recorded for `step`, merged; later records for it start anew.
    pub fn take(&self, step: u32) -> Histogram<u64> {
        let mut total = new_histogram();
        for shard in &self.shards {
            let mut shard = lock(shard);
            if let Some(at) = shard.iter().position(|(s, _)| *s == step) {
                let (_, histogram) = shard.swap_remove(at);
                // Every histogram here has the same bounds; adding fails only on a mismatch.
                let _ = total.add(&histogram);
            }
        }
        total
    }
}

fn lock(shard: &Mutex<Shard>) -> MutexGuard<'_, Shard> {
    shard.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn merges_the_threads_records_of_a_step_and_keeps_steps_apart() {
        let latencies = Arc::new(Latencies::new(2));
        let threads: Vec<_> = (0..4u64)
            .map(|t| {
                let latencies = Arc::clone(&latencies);
                std::thread::spawn(move || {
                    for i in 0..100 {
                        latencies.record(0, 1000 + t * 100 + i);
                    }
                    latencies.record(1, 7);
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let step0 = latencies.take(0);
        assert_eq!(step0.len(), 400);
        assert_eq!(step0.min(), 1000);
        assert_eq!(step0.max(), 1399);
        assert_eq!(latencies.take(0).len(), 0, "a taken step starts anew");
        let step1 = latencies.take(1);
        assert_eq!(step1.len(), 4);
        assert_eq!(step1.max(), 7);
    }
}
