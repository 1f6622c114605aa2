//! A real rate limit, as a gateway in front of A3 would enforce one: a token bucket per endpoint
//! that refills at `per_second` tokens a second up to `burst`; a call finding it empty is answered
//! 429 with the Retry-After (whole seconds, rounded up) until the next token. Unlike the random
//! 429s of [`crate::faults`], its refusals depend on how fast the client calls, which is what a
//! client's rate control has to find out.

use crate::rates::Endpoint;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// A token bucket's size.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RateLimit {
    /// Calls per second each endpoint takes in the long run.
    pub per_second: f64,
    /// Calls an endpoint takes at once after a quiet spell (the bucket's size; at least 1).
    pub burst: u32,
}

/// One endpoint's bucket.
#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
    refused: u64,
}

/// The buckets of all endpoints (absent when no limit is set).
#[derive(Debug)]
pub(crate) struct Buckets {
    limit: RateLimit,
    buckets: BTreeMap<Endpoint, Bucket>,
}

impl Buckets {
    /// Full buckets for `limit` at `now`; `None` when the rate is not a positive number.
    pub(crate) fn new(limit: RateLimit, now: Instant) -> Option<Self> {
        if !(limit.per_second.is_finite() && limit.per_second > 0.0) {
            return None;
        }
        let limit = RateLimit { burst: limit.burst.max(1), ..limit };
        let full = f64::from(limit.burst);
        let buckets =
            Endpoint::ALL.into_iter().map(|e| (e, Bucket { tokens: full, at: now, refused: 0 })).collect();
        Some(Self { limit, buckets })
    }

    /// Takes a token of `ep` at `now`, or says how long until one is there (the call is refused).
    pub(crate) fn take(&mut self, ep: Endpoint, now: Instant) -> Result<(), Duration> {
        let RateLimit { per_second, burst } = self.limit;
        let b = self.buckets.get_mut(&ep).expect("a bucket per endpoint");
        let earned = now.saturating_duration_since(b.at).as_secs_f64() * per_second;
        b.tokens = (b.tokens + earned).min(f64::from(burst));
        b.at = b.at.max(now);
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            return Ok(());
        }
        b.refused += 1;
        Err(Duration::from_secs_f64((1.0 - b.tokens) / per_second))
    }

    /// Calls refused so far, by endpoint name (endpoints without refusals left out).
    pub(crate) fn refused(&self) -> BTreeMap<String, u64> {
        self.buckets
            .iter()
            .filter(|(_, b)| b.refused > 0)
            .map(|(e, b)| (e.name().to_string(), b.refused))
            .collect()
    }
}

/// Retry-After in whole seconds, rounded up: a client that waits it finds a token.
pub(crate) fn retry_after_secs(wait: Duration) -> u64 {
    let ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
    ms.div_ceil(1000).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_takes_its_burst_then_its_rate() {
        let t0 = Instant::now();
        let mut b = Buckets::new(RateLimit { per_second: 10.0, burst: 3 }, t0).unwrap();
        let ep = Endpoint::Correspondence;
        assert!((0..3).all(|_| b.take(ep, t0).is_ok()), "the burst");
        let wait = b.take(ep, t0).unwrap_err();
        assert_eq!(wait, Duration::from_millis(100));
        assert_eq!(retry_after_secs(wait), 1);
        // Other endpoints have buckets of their own.
        assert!(b.take(Endpoint::Attachment, t0).is_ok());
        // 10 per second: one second later ten more calls go through, the eleventh does not.
        let t1 = t0 + Duration::from_secs(1);
        assert!((0..3).all(|_| b.take(ep, t1).is_ok()), "refilled up to the burst only");
        assert!(b.take(ep, t1).is_err());
        let mut taken = 0;
        for ms in (1000..3000).step_by(10) {
            taken += u32::from(b.take(ep, t0 + Duration::from_millis(ms)).is_ok());
        }
        assert!((19..=21).contains(&taken), "{taken} calls in two seconds at 10/s");
        assert_eq!(b.refused()["correspondence"], 2 + 200 - u64::from(taken));
        assert!(!b.refused().contains_key("attachment"));
    }

    #[test]
    fn no_positive_rate_no_bucket() {
        let t0 = Instant::now();
        for per_second in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(Buckets::new(RateLimit { per_second, burst: 5 }, t0).is_none());
        }
    }
}
