//! The simulator's configuration and its fault injection (copied from the old simulator; it encodes
//! no contract): latency, 503, 429 with Retry-After, and
//! dropped connections (before or after the request was processed), all drawn from one seeded RNG;
//! and the option of a real rate limit ([`crate::bucket`]).

use crate::bucket::RateLimit;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use std::sync::Mutex;
use std::time::Duration;

/// How the simulator is run.
///
/// `Debug` is written by hand so that the token never appears in logs; `Serialize` does write it
/// (a config file needs it).
#[derive(Clone, Serialize, Deserialize)]
pub struct SimConfig {
    /// The bearer token every API call must carry (`Authorization: Bearer <token>`).
    pub token: String,
    /// Seed of the fault-injection RNG: the same seed and the same call sequence give the same faults.
    #[serde(default)]
    pub seed: u64,
    /// Faults to inject (none by default).
    #[serde(default)]
    pub faults: Faults,
    /// How A3 creates the dialog a migrate call with `makeAvailable: true` asks for.
    #[serde(default)]
    pub dialog_job: crate::DialogJob,
}

impl std::fmt::Debug for SimConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimConfig")
            .field("token", &"***")
            .field("seed", &self.seed)
            .field("faults", &self.faults)
            .field("dialog_job", &self.dialog_job)
            .finish()
    }
}

/// Faults injected into the six API endpoints (never into `/sim/*`).
///
/// Rates are probabilities in `[0, 1]` (out-of-range values are clamped, NaN counts as 0). One draw
/// per call picks at most one fault: 503 first, then 429, then drop, so their sum should stay <= 1.
/// In JSON the durations are whole milliseconds: `retry_after_ms`, `latency_min_ms`, `latency_max_ms`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    /// Probability of answering 503 without processing.
    pub error_5xx_rate: f64,
    /// Probability of answering 429 (with `Retry-After`) without processing.
    pub rate_429: f64,
    /// The `Retry-After` of a 429, sent in whole seconds (rounded up).
    #[serde(rename = "retry_after_ms", with = "millis")]
    pub retry_after: Duration,
    /// Probability of dropping the connection; drops alternate between before and after processing.
    pub drop_rate: f64,
    /// Least added latency per call.
    #[serde(rename = "latency_min_ms", with = "millis")]
    pub latency_min: Duration,
    /// Most added latency per call (uniform between min and max).
    #[serde(rename = "latency_max_ms", with = "millis")]
    pub latency_max: Duration,
    /// A real rate limit (a token bucket per endpoint; see [`crate::bucket`]), checked before the
    /// random faults. Not random: what it refuses depends on how fast the client calls.
    pub rate_limit: Option<RateLimit>,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            error_5xx_rate: 0.0,
            rate_429: 0.0,
            retry_after: Duration::from_secs(1),
            drop_rate: 0.0,
            latency_min: Duration::ZERO,
            latency_max: Duration::ZERO,
            rate_limit: None,
        }
    }
}

impl Faults {
    /// `Retry-After` in whole seconds, rounded up.
    pub(crate) fn retry_after_secs(&self) -> u64 {
        let ms = u64::try_from(self.retry_after.as_millis()).unwrap_or(u64::MAX);
        ms.div_ceil(1000)
    }
}

/// Durations as whole milliseconds.
pub(crate) mod millis {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub(crate) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

/// Number of faults injected, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultCounts {
    /// 503 answers.
    pub error_5xx: u64,
    /// 429 answers.
    pub rate_429: u64,
    /// Connections dropped before the request was processed (nothing stored).
    pub drop_before: u64,
    /// Connections dropped after the request was processed (stored, answer lost).
    pub drop_after: u64,
}

impl std::fmt::Display for FaultCounts {
    /// For users: "3 errors, 2 rate limits, 1 dropped connection" (zero kinds left out; "no faults"
    /// when nothing was injected).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let drops = self.drop_before + self.drop_after;
        let parts: Vec<String> = [
            (self.error_5xx, "error", "errors"),
            (self.rate_429, "rate limit", "rate limits"),
            (drops, "dropped connection", "dropped connections"),
        ]
        .into_iter()
        .filter(|(n, _, _)| *n > 0)
        .map(|(n, one, many)| format!("{n} {}", if n == 1 { one } else { many }))
        .collect();
        if parts.is_empty() { f.write_str("no faults") } else { f.write_str(&parts.join(", ")) }
    }
}

/// The fault picked for one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// 503 without processing.
    Error5xx,
    /// 429 without processing.
    Rate429,
    /// Drop without processing.
    DropBefore,
    /// Process, then drop.
    DropAfter,
}

impl Fault {
    /// Short name for logs.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Error5xx => "503",
            Self::Rate429 => "429",
            Self::DropBefore => "drop_before",
            Self::DropAfter => "drop_after",
        }
    }
}

/// What to do to one call.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Decision {
    /// Sleep this long first.
    pub latency: Duration,
    /// Then inject this, if any.
    pub fault: Option<Fault>,
}

/// The seeded RNG and the fault counters.
pub(crate) struct Injector {
    faults: Faults,
    inner: Mutex<InjectorState>,
}

struct InjectorState {
    rng: StdRng,
    counts: FaultCounts,
    drops: u64,
}

fn probability(p: f64) -> f64 {
    if p.is_finite() { p.clamp(0.0, 1.0) } else { 0.0 }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

impl Injector {
    /// An injector for `faults`, seeded with `seed`.
    pub(crate) fn new(faults: Faults, seed: u64) -> Self {
        let faults = Faults {
            error_5xx_rate: probability(faults.error_5xx_rate),
            rate_429: probability(faults.rate_429),
            drop_rate: probability(faults.drop_rate),
            ..faults
        };
        let rng = StdRng::seed_from_u64(seed);
        Self { faults, inner: Mutex::new(InjectorState { rng, counts: FaultCounts::default(), drops: 0 }) }
    }

    /// The (sanitised) faults.
    pub(crate) fn faults(&self) -> &Faults {
        &self.faults
    }

    /// Faults injected so far.
    pub(crate) fn counts(&self) -> FaultCounts {
        crate::lock(&self.inner).counts
    }

    /// Draws latency and fault for one call, and counts the fault.
    pub(crate) fn decide(&self) -> Decision {
        let f = &self.faults;
        let mut st = crate::lock(&self.inner);
        let (lo, hi) = (micros(f.latency_min), micros(f.latency_max));
        let latency =
            if hi > lo { Duration::from_micros(st.rng.random_range(lo..=hi)) } else { f.latency_min };
        let any = f.error_5xx_rate > 0.0 || f.rate_429 > 0.0 || f.drop_rate > 0.0;
        let fault = if any {
            let r: f64 = st.rng.random();
            if r < f.error_5xx_rate {
                Some(Fault::Error5xx)
            } else if r < f.error_5xx_rate + f.rate_429 {
                Some(Fault::Rate429)
            } else if r < f.error_5xx_rate + f.rate_429 + f.drop_rate {
                st.drops += 1;
                // Alternate, so that exactly half of the drops (give or take one) happen after processing.
                Some(if st.drops % 2 == 1 { Fault::DropBefore } else { Fault::DropAfter })
            } else {
                None
            }
        } else {
            None
        };
        match fault {
            Some(Fault::Error5xx) => st.counts.error_5xx += 1,
            Some(Fault::Rate429) => st.counts.rate_429 += 1,
            Some(Fault::DropBefore) => st.counts.drop_before += 1,
            Some(Fault::DropAfter) => st.counts.drop_after += 1,
            None => {}
        }
        Decision { latency, fault }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_serialize_durations_as_millis() {
        let f = Faults { latency_max: Duration::from_millis(250), ..Faults::default() };
        let v = serde_json::to_value(&f).unwrap();
        assert_eq!(v["retry_after_ms"], 1000);
        assert_eq!(v["latency_max_ms"], 250);
        let back: Faults = serde_json::from_value(v).unwrap();
        assert_eq!(back, f);
        let partial: Faults = serde_json::from_str(r#"{"drop_rate":0.5}"#).unwrap();
        assert_eq!(partial.drop_rate, 0.5);
        assert_eq!(partial.retry_after, Duration::from_secs(1));
        assert_eq!(partial.rate_limit, None);
        let limited: Faults =
            serde_json::from_str(r#"{"rate_limit":{"per_second":50.0,"burst":10}}"#).unwrap();
        assert_eq!(limited.rate_limit, Some(RateLimit { per_second: 50.0, burst: 10 }));
    }

    #[test]
    fn sim_config_debug_hides_the_token() {
        let cfg = SimConfig {
            token: "s3cret".into(),
            seed: 1,
            faults: Faults::default(),
            dialog_job: crate::DialogJob::default(),
        };
        assert!(!format!("{cfg:?}").contains("s3cret"));
    }

    #[test]
    fn fault_counts_display_for_users() {
        let c = FaultCounts { error_5xx: 3, rate_429: 2, drop_before: 1, drop_after: 0 };
        assert_eq!(c.to_string(), "3 errors, 2 rate limits, 1 dropped connection");
        let c = FaultCounts { error_5xx: 1, rate_429: 0, drop_before: 1, drop_after: 1 };
        assert_eq!(c.to_string(), "1 error, 2 dropped connections");
        assert_eq!(FaultCounts::default().to_string(), "no faults");
    }

    #[test]
    fn same_seed_same_faults() {
        let faults = Faults { error_5xx_rate: 0.3, rate_429: 0.3, drop_rate: 0.3, ..Faults::default() };
        let a = Injector::new(faults.clone(), 7);
        let b = Injector::new(faults, 7);
        let da: Vec<_> = (0..50).map(|_| a.decide().fault).collect();
        let db: Vec<_> = (0..50).map(|_| b.decide().fault).collect();
        assert_eq!(da, db);
        assert!(da.iter().any(Option::is_some));
    }
}
