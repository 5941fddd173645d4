//! How long to wait before reconnecting: exponential backoff with full jitter. Each delay is
//! drawn uniformly from zero to `min(max, initial * 2^attempt)`, so clients cut off together
//! (a server restart) do not all come back at the same instant; a penalty (the server closed
//! for abuse or a slow consumer, or answered 429/503) adds a fixed floor.

use std::time::Duration;

/// Reconnect delays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffConfig {
    /// Ceiling of the first delay.
    pub initial: Duration,
    /// Largest ceiling.
    pub max: Duration,
    /// Added to the delay after a penalty close (4008, 4029, 1013) or a 429/503 handshake.
    pub penalty: Duration,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        BackoffConfig {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(30),
            penalty: Duration::from_secs(10),
        }
    }
}

/// The delays handed out since the last reset.
#[derive(Debug)]
pub(crate) struct Backoff {
    config: BackoffConfig,
    attempt: u32,
    rng: u64,
}

impl Backoff {
    pub(crate) fn new(config: BackoffConfig) -> Backoff {
        Backoff {
            config,
            attempt: 0,
            rng: seed(),
        }
    }

    /// Delays handed out since the last reset.
    pub(crate) fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The next delay; `penalty` adds the penalty floor.
    pub(crate) fn next(&mut self, penalty: bool) -> Duration {
        let factor = 1u32 << self.attempt.min(20);
        let ceiling = self
            .config
            .initial
            .saturating_mul(factor)
            .min(self.config.max);
        self.attempt = self.attempt.saturating_add(1);
        let jittered = ceiling.mul_f64(self.uniform());
        if penalty {
            self.config.penalty + jittered
        } else {
            jittered
        }
    }

    /// Starts over from the initial ceiling (after a connection that stayed up).
    pub(crate) fn reset(&mut self) {
        self.attempt = 0;
    }

    /// A number in [0, 1) (xorshift64*: jitter needs spread, not secrecy).
    fn uniform(&mut self) -> f64 {
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        let x = self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D);
        (x >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A non-zero seed from the OS, or the clock when that fails.
fn seed() -> u64 {
    let mut bytes = [0u8; 8];
    let seed = match getrandom::fill(&mut bytes) {
        Ok(()) => u64::from_le_bytes(bytes),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9E37_79B9_7F4A_7C15),
    };
    seed | 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_stay_under_a_growing_capped_ceiling() {
        let config = BackoffConfig {
            initial: Duration::from_millis(100),
            max: Duration::from_millis(1000),
            penalty: Duration::from_secs(5),
        };
        let mut backoff = Backoff::new(config);
        for attempt in 0..12u32 {
            let ceiling = Duration::from_millis(100 * (1u64 << attempt.min(20))).min(config.max);
            assert!(backoff.next(false) <= ceiling);
        }
        assert!(backoff.next(true) >= config.penalty);
        backoff.reset();
        assert_eq!(backoff.attempt(), 0);
        assert!(backoff.next(false) <= config.initial);
    }
}
