//! Token buckets by key (a user, a username, a client address), shared by every connection and
//! request of the process.
//!
//! The keys come from clients, so the map is bounded: it is split into shards, each with its own
//! lock, and each shard keeps two generations of buckets. When the young generation fills up it
//! becomes the old one and the previous old one is dropped, outside the lock, whole. A bucket
//! that is used again moves to the young generation, so active keys stay; a forgotten bucket
//! was idle through a whole generation and starts full again. No operation scans the map.

use crate::config::RateLimit;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, RandomState};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;
use tokio::time::Instant;

/// Shards of a limiter: independent locks.
const SHARDS: usize = 16;

/// Default number of keys a limiter remembers (young and old generation together, all shards).
pub const DEFAULT_KEYS: usize = 64 * 1024;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

#[derive(Debug)]
struct Shard<K> {
    young: HashMap<K, Bucket>,
    old: HashMap<K, Bucket>,
}

/// A token bucket per key. With no limit configured every action is allowed.
#[derive(Debug)]
pub struct KeyedLimiter<K> {
    limit: Option<RateLimit>,
    shards: Vec<Mutex<Shard<K>>>,
    /// Keys per generation and shard.
    generation: usize,
    hasher: RandomState,
}

impl<K: Eq + Hash> KeyedLimiter<K> {
    /// A limiter applying `limit` to each key, remembering about [`DEFAULT_KEYS`] keys;
    /// `None` allows everything.
    pub fn new(limit: Option<RateLimit>) -> KeyedLimiter<K> {
        KeyedLimiter::with_keys(limit, DEFAULT_KEYS)
    }

    /// A limiter remembering about `keys` keys at most.
    pub fn with_keys(limit: Option<RateLimit>, keys: usize) -> KeyedLimiter<K> {
        let shards = if limit.is_some() { SHARDS } else { 0 };
        KeyedLimiter {
            limit,
            shards: (0..shards)
                .map(|_| {
                    Mutex::new(Shard {
                        young: HashMap::new(),
                        old: HashMap::new(),
                    })
                })
                .collect(),
            generation: (keys / (2 * SHARDS)).max(1),
            hasher: RandomState::new(),
        }
    }

    /// The configured limit.
    pub fn limit(&self) -> Option<RateLimit> {
        self.limit
    }

    fn shard(&self, key: &K) -> Option<MutexGuard<'_, Shard<K>>> {
        let n = self.shards.len();
        if n == 0 {
            return None;
        }
        let i = (self.hasher.hash_one(key) as usize) % n;
        // Every update completes under the lock: a poisoned shard is still consistent.
        Some(self.shards[i].lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Takes one token for `key`. Returns `false` when the bucket is empty.
    pub fn try_acquire(&self, key: K) -> bool {
        self.acquire_at(key, Instant::now()).is_ok()
    }

    /// [`try_acquire`](Self::try_acquire) at an explicit instant (for tests).
    pub fn try_acquire_at(&self, key: K, now: Instant) -> bool {
        self.acquire_at(key, now).is_ok()
    }

    /// Takes one token for `key`, or says how long until the bucket has one again.
    pub fn acquire(&self, key: K) -> Result<(), Duration> {
        self.acquire_at(key, Instant::now())
    }

    fn acquire_at(&self, key: K, now: Instant) -> Result<(), Duration> {
        let (Some(limit), Some(mut shard)) = (self.limit, self.shard(&key)) else {
            return Ok(());
        };
        let burst = f64::from(limit.burst.max(1));
        let bucket = match shard.young.get(&key) {
            Some(b) => *b,
            None => shard.old.remove(&key).unwrap_or(Bucket {
                tokens: burst,
                updated: now,
            }),
        };
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        let tokens = (bucket.tokens + elapsed * limit.per_second.max(0.0)).min(burst);
        let allowed = tokens >= 1.0;
        let bucket = Bucket {
            tokens: if allowed { tokens - 1.0 } else { tokens },
            updated: now,
        };
        let mut dropped = None;
        if !shard.young.contains_key(&key) && shard.young.len() >= self.generation {
            let young = std::mem::take(&mut shard.young);
            dropped = Some(std::mem::replace(&mut shard.old, young));
        }
        shard.young.insert(key, bucket);
        drop(shard);
        drop(dropped);
        if allowed {
            return Ok(());
        }
        let rate = limit.per_second.max(f64::MIN_POSITIVE);
        Err(Duration::try_from_secs_f64((1.0 - tokens) / rate).unwrap_or(Duration::MAX))
    }

    /// How many keys are remembered now (for tests).
    pub fn keys(&self) -> usize {
        self.shards
            .iter()
            .map(|s| {
                let s = s.lock().unwrap_or_else(|e| e.into_inner());
                s.young.len() + s.old.len()
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_then_refills_per_key() {
        let limiter = KeyedLimiter::new(Some(RateLimit::new(2, 1.0)));
        let t0 = Instant::now();
        assert!(limiter.try_acquire_at(1, t0));
        assert!(limiter.try_acquire_at(1, t0));
        assert!(!limiter.try_acquire_at(1, t0));
        assert!(limiter.try_acquire_at(2, t0), "keys are independent");
        assert!(!limiter.try_acquire_at(1, t0 + Duration::from_millis(500)));
        assert!(limiter.try_acquire_at(1, t0 + Duration::from_millis(1600)));
        let wait = limiter
            .acquire_at(1, t0 + Duration::from_millis(1600))
            .unwrap_err();
        // 0.6 tokens left: 0.4 s to the next one.
        assert!(
            wait.abs_diff(Duration::from_millis(400)) < Duration::from_millis(1),
            "{wait:?}"
        );
    }

    #[test]
    fn none_disables() {
        let limiter = KeyedLimiter::new(None);
        assert!((0..10_000).all(|_| limiter.try_acquire(1)));
        assert_eq!(limiter.keys(), 0);
    }

    #[test]
    fn keys_are_bounded_and_active_keys_stay_limited() {
        let limiter = KeyedLimiter::with_keys(Some(RateLimit::new(1, 0.0)), 1024);
        let t0 = Instant::now();
        assert!(limiter.try_acquire_at(u64::MAX, t0));
        for key in 0..100_000u64 {
            limiter.try_acquire_at(key, t0);
            if key % 64 == 0 {
                // The victim keeps trying while an attacker cycles through keys.
                assert!(
                    !limiter.try_acquire_at(u64::MAX, t0),
                    "an active key is never forgotten"
                );
            }
        }
        assert!(limiter.keys() <= 1024 + SHARDS, "{} keys", limiter.keys());
    }
}
