//! The six simulated endpoints and the per-endpoint call counters (total calls, and the most calls
//! that arrived within one wall-clock second).

use std::collections::BTreeMap;

pub(crate) use crate::a3::Endpoint;

/// The endpoint a request path names (ASCII case-insensitive, as ASP.NET routes).
pub(crate) fn endpoint_of(path: &str) -> Option<Endpoint> {
    let rest = path.strip_prefix('/')?;
    let base = crate::a3::client::BASE_PATH;
    let rest =
        rest.get(..base.len()).filter(|p| p.eq_ignore_ascii_case(base)).map(|_| &rest[base.len()..])?;
    let rest = rest.strip_prefix('/')?.trim_end_matches('/');
    Endpoint::ALL.into_iter().find(|e| e.path().eq_ignore_ascii_case(rest))
}

/// Calls of one endpoint.
#[derive(Debug, Default)]
pub(crate) struct RateCounter {
    calls: u64,
    max_per_second: u64,
    /// Calls by arrival second; only the last few seconds are kept (arrivals can be slightly out of order).
    recent: BTreeMap<i64, u64>,
}

/// Seconds kept in [`RateCounter::recent`].
const KEEP_SECONDS: i64 = 10;

impl RateCounter {
    /// Records one call arriving in unix second `second`.
    pub(crate) fn record(&mut self, second: i64) {
        self.calls += 1;
        let n = self.recent.entry(second).or_insert(0);
        *n += 1;
        self.max_per_second = self.max_per_second.max(*n);
        if let Some((&newest, _)) = self.recent.last_key_value() {
            self.recent = self.recent.split_off(&(newest - KEEP_SECONDS));
        }
    }

    /// Total calls.
    pub(crate) fn calls(&self) -> u64 {
        self.calls
    }

    /// Most calls in one second.
    pub(crate) fn max_per_second(&self) -> u64 {
        self.max_per_second
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_resolve_case_insensitively() {
        for e in Endpoint::ALL {
            let route = format!("/{}/{}", crate::a3::client::BASE_PATH, e.path());
            assert_eq!(endpoint_of(&route), Some(e));
            assert_eq!(endpoint_of(&route.to_ascii_lowercase()), Some(e));
        }
        assert_eq!(endpoint_of("/correspondence/api/v1/migration/nope"), None);
        assert_eq!(endpoint_of("/sim/inventory"), None);
        assert_eq!(endpoint_of("/é"), None);
    }

    #[test]
    fn counts_the_busiest_second() {
        let mut r = RateCounter::default();
        for s in [100, 100, 101, 100, 102, 102, 102, 102, 99] {
            r.record(s);
        }
        assert_eq!(r.calls(), 9);
        assert_eq!(r.max_per_second(), 4);
        for s in 200..300 {
            r.record(s);
        }
        assert!(r.recent.len() <= (KEEP_SECONDS + 1) as usize);
    }
}
