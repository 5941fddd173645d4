//! Token buckets keyed by user (WebSocket sends) or username (log-in attempts), shared by every
//! connection of the process so several sockets of one user share one budget.

use crate::config::RateLimit;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard};
use tokio::time::Instant;

/// Above this many tracked keys, buckets that have refilled completely are forgotten.
const PRUNE_ABOVE: usize = 4096;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// A token bucket per key. With no limit configured every action is allowed.
#[derive(Debug)]
pub struct KeyedLimiter<K> {
    limit: Option<RateLimit>,
    buckets: Mutex<HashMap<K, Bucket>>,
}

impl<K: Eq + Hash + Clone> KeyedLimiter<K> {
    /// A limiter applying `limit` to each key; `None` allows everything.
    pub fn new(limit: Option<RateLimit>) -> KeyedLimiter<K> {
        KeyedLimiter {
            limit,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn buckets(&self) -> MutexGuard<'_, HashMap<K, Bucket>> {
        // Every update completes under the lock: a poisoned map is still consistent.
        self.buckets.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes one token for `key`. Returns `false` when the bucket is empty.
    pub fn try_acquire(&self, key: &K) -> bool {
        self.try_acquire_at(key, Instant::now())
    }

    /// [`try_acquire`](Self::try_acquire) at an explicit instant (for tests).
    pub fn try_acquire_at(&self, key: &K, now: Instant) -> bool {
        let Some(limit) = self.limit else {
            return true;
        };
        let burst = f64::from(limit.burst.max(1));
        let refill = |b: &Bucket| {
            let elapsed = now.saturating_duration_since(b.updated).as_secs_f64();
            (b.tokens + elapsed * limit.per_second.max(0.0)).min(burst)
        };
        let mut buckets = self.buckets();
        if buckets.len() > PRUNE_ABOVE {
            buckets.retain(|_, b| refill(b) < burst);
        }
        let bucket = buckets.entry(key.clone()).or_insert(Bucket {
            tokens: burst,
            updated: now,
        });
        let tokens = refill(bucket);
        bucket.updated = now;
        if tokens >= 1.0 {
            bucket.tokens = tokens - 1.0;
            true
        } else {
            bucket.tokens = tokens;
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bursts_then_refills_per_key() {
        let limiter = KeyedLimiter::new(Some(RateLimit::new(2, 1.0)));
        let t0 = Instant::now();
        assert!(limiter.try_acquire_at(&1, t0));
        assert!(limiter.try_acquire_at(&1, t0));
        assert!(!limiter.try_acquire_at(&1, t0));
        assert!(limiter.try_acquire_at(&2, t0), "keys are independent");
        assert!(!limiter.try_acquire_at(&1, t0 + Duration::from_millis(500)));
        assert!(limiter.try_acquire_at(&1, t0 + Duration::from_millis(1600)));
    }

    #[test]
    fn none_disables() {
        let limiter = KeyedLimiter::new(None);
        assert!((0..10_000).all(|_| limiter.try_acquire(&1)));
    }
}
