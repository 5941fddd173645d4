//! Every tunable of the domain in one place: size limits, page sizes, session lifetime,
//! password hashing cost and bounds, and broker buffers.

use std::time::Duration;

/// Size limits checked by [`validation`](crate::validation). Lengths count Unicode scalar values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Shortest username.
    pub username_min: usize,
    /// Longest username.
    pub username_max: usize,
    /// Shortest password.
    pub password_min: usize,
    /// Longest password (bounds the hashing work an attacker can ask for).
    pub password_max: usize,
    /// Longest room name.
    pub room_name_max: usize,
    /// Longest room description.
    pub description_max: usize,
    /// Longest message body, after trimming.
    pub body_max: usize,
    /// Longest client-chosen idempotency id.
    pub client_id_max: usize,
    /// Largest page of messages, rooms or users one call returns; bigger requests are clamped.
    pub page_max: usize,
    /// A page of history stops once its message bodies reach this many bytes (it always holds
    /// at least one message); `has_more` tells the client to ask for the rest.
    pub page_bytes_max: usize,
    /// Longest search query.
    pub search_query_max: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            username_min: 3,
            username_max: 32,
            password_min: 8,
            password_max: 1024,
            room_name_max: 64,
            description_max: 500,
            body_max: 4000,
            client_id_max: 64,
            page_max: 200,
            page_bytes_max: 256 * 1024,
            search_query_max: 200,
        }
    }
}

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashCost {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Number of passes.
    pub iterations: u32,
    /// Degree of parallelism.
    pub parallelism: u32,
}

impl HashCost {
    /// OWASP's recommended minimum for argon2id: 19 MiB, 2 passes, 1 lane.
    pub const RECOMMENDED: HashCost = HashCost {
        memory_kib: 19 * 1024,
        iterations: 2,
        parallelism: 1,
    };

    /// A deliberately weak cost that keeps test suites fast. Never use it in production.
    pub const FAST_INSECURE_FOR_TESTS: HashCost = HashCost {
        memory_kib: 256,
        iterations: 1,
        parallelism: 1,
    };
}

impl Default for HashCost {
    fn default() -> Self {
        HashCost::RECOMMENDED
    }
}

/// How much password hashing may run at once (see [`HashPool`](crate::password::HashPool)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashingConfig {
    /// Dedicated hashing threads (at least 1). Each holds one work buffer of
    /// [`HashCost::memory_kib`] while it has work, so this bounds hashing memory.
    pub threads: usize,
    /// Hashes that may wait for a thread. Past `threads + queue` in flight, new ones fail at
    /// once with [`ChatError::Busy`](crate::ChatError::Busy). An accepted hash waits for
    /// about `queue / threads` hash times at most.
    pub queue: usize,
    /// How long a thread keeps its work buffer without work before giving it back.
    pub release_after: Duration,
}

impl HashingConfig {
    /// `threads` threads, a queue of four hashes per thread, and work buffers given back after
    /// a second without work.
    pub fn with_threads(threads: usize) -> HashingConfig {
        let threads = threads.max(1);
        HashingConfig {
            threads,
            queue: threads.saturating_mul(4),
            release_after: Duration::from_secs(1),
        }
    }
}

impl Default for HashingConfig {
    /// [`HashingConfig::with_threads`] one thread per core (as
    /// [`std::thread::available_parallelism`] reports).
    fn default() -> Self {
        HashingConfig::with_threads(std::thread::available_parallelism().map_or(1, |n| n.get()))
    }
}

/// Configuration of a [`ChatService`](crate::ChatService).
#[derive(Debug, Clone)]
pub struct Config {
    /// Size limits.
    pub limits: Limits,
    /// How long a session token stays valid after log in.
    pub session_ttl: Duration,
    /// How often the service deletes expired sessions from the store, by itself (`None`: never;
    /// call [`ChatService::purge_expired_sessions`](crate::ChatService::purge_expired_sessions)).
    pub purge_sessions_every: Option<Duration>,
    /// Password hashing cost.
    pub hash_cost: HashCost,
    /// How much password hashing may run at once.
    pub hashing: HashingConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            limits: Limits::default(),
            session_ttl: Duration::from_secs(14 * 24 * 3600),
            purge_sessions_every: Some(Duration::from_secs(3600)),
            hash_cost: HashCost::default(),
            hashing: HashingConfig::default(),
        }
    }
}

impl Config {
    /// The default configuration with the fast, insecure hash cost: for tests only.
    pub fn for_tests() -> Config {
        Config {
            hash_cost: HashCost::FAST_INSECURE_FOR_TESTS,
            ..Config::default()
        }
    }
}
