//! Retry delays: the `backoff` crate's exponential policy, keyed by attempt number.
//!
//! The delay is computed when the outcome is committed and stored as `next_run_at`, so a retry
//! survives a restart.

use backoff::ExponentialBackoff;
use backoff::backoff::Backoff;
use std::time::Duration;

/// Parameters of the exponential policy, plus the attempt limit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Delay after the first failure.
    pub initial: Duration,
    /// Growth per attempt.
    pub multiplier: f64,
    /// Cap on one delay.
    pub max_interval: Duration,
    /// Jitter: each delay is drawn from `[d·(1−r), d·(1+r)]`.
    pub randomization: f64,
    /// Attempts per step before the item fails.
    pub max_attempts: i32,
    /// Identical server errors (same 5xx status and body, ids aside) in a row after which the
    /// item fails at once instead of using up its remaining attempts.
    pub max_identical_server_errors: i32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            initial: Duration::from_secs(1),
            multiplier: 2.0,
            max_interval: Duration::from_secs(600),
            randomization: 0.2,
            max_attempts: 10,
            max_identical_server_errors: 3,
        }
    }
}

impl RetryPolicy {
    /// The delay before attempt number `attempt + 1`, where `attempt >= 1` failures happened.
    pub fn delay(&self, attempt: i32) -> Duration {
        let mut policy = ExponentialBackoff {
            current_interval: self.initial,
            initial_interval: self.initial,
            randomization_factor: self.randomization,
            multiplier: self.multiplier,
            max_interval: self.max_interval,
            max_elapsed_time: None,
            ..ExponentialBackoff::default()
        };
        let mut delay = self.initial;
        for _ in 0..attempt.max(1) {
            delay = policy.next_backoff().unwrap_or(self.max_interval);
        }
        delay
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponential_without_jitter() {
        let p = RetryPolicy { randomization: 0.0, ..RetryPolicy::default() };
        let secs: Vec<u64> = (1..=12).map(|a| p.delay(a).as_secs()).collect();
        assert_eq!(secs, vec![1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 600, 600]);
    }

    #[test]
    fn jitter_stays_in_bounds() {
        let p = RetryPolicy::default();
        for _ in 0..200 {
            let d = p.delay(3).as_secs_f64();
            assert!((3.2..=4.8).contains(&d), "{d}");
        }
    }
}
