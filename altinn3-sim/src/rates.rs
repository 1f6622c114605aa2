//! The six simulated endpoints (the simulator's own enum, routed as ASP.NET routes: ASCII
//! case-insensitively, trailing slash ignored) and the per-endpoint call counters (total calls, and
//! the most calls that arrived within one wall-clock second, and the time from the first to the last).

use std::collections::BTreeMap;

/// Route prefix of upstream's `MigrationController` (`MigrationController.cs:22`).
pub(crate) const BASE_PATH: &str = "correspondence/api/v1/migration";

/// One endpoint of the migration API (`MigrationController.cs:42,65,102,127,153,179`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Endpoint {
    /// POST `attachment`: upload of one attachment (octet-stream body, metadata in the query).
    Attachment,
    /// POST `correspondence`: migrate one correspondence (or remigrate it).
    Correspondence,
    /// POST `makemigratedcorrespondenceavailable`.
    MakeAvailable,
    /// POST `correspondence/syncStatusEvent`.
    SyncStatus,
    /// POST `correspondence/syncNotificationEvent`.
    SyncNotification,
    /// POST `correspondence/syncForwardingEvent`.
    SyncForwarding,
}

impl Endpoint {
    /// All six.
    pub const ALL: [Endpoint; 6] = [
        Self::Attachment,
        Self::Correspondence,
        Self::MakeAvailable,
        Self::SyncStatus,
        Self::SyncNotification,
        Self::SyncForwarding,
    ];

    /// The route below `correspondence/api/v1/migration`, as upstream spells it.
    pub fn path(self) -> &'static str {
        match self {
            Self::Attachment => "attachment",
            Self::Correspondence => "correspondence",
            Self::MakeAvailable => "makemigratedcorrespondenceavailable",
            Self::SyncStatus => "correspondence/syncStatusEvent",
            Self::SyncNotification => "correspondence/syncNotificationEvent",
            Self::SyncForwarding => "correspondence/syncForwardingEvent",
        }
    }

    /// Name used as key in the inventory's `calls` and `max_calls_per_second`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Attachment => "attachment",
            Self::Correspondence => "correspondence",
            Self::MakeAvailable => "make_available",
            Self::SyncStatus => "sync_status",
            Self::SyncNotification => "sync_notification",
            Self::SyncForwarding => "sync_forwarding",
        }
    }
}

/// The endpoint a request path names (ASCII case-insensitive, trailing slash ignored, as ASP.NET).
pub(crate) fn endpoint_of(path: &str) -> Option<Endpoint> {
    let rest = path.strip_prefix('/')?;
    let head = rest.get(..BASE_PATH.len()).filter(|p| p.eq_ignore_ascii_case(BASE_PATH))?;
    let rest = rest[head.len()..].strip_prefix('/')?.trim_end_matches('/');
    Endpoint::ALL.into_iter().find(|e| e.path().eq_ignore_ascii_case(rest))
}

/// Calls of one endpoint.
#[derive(Debug, Default)]
pub(crate) struct RateCounter {
    calls: u64,
    max_per_second: u64,
    /// Calls by arrival second; only the last few seconds are kept (arrivals can be slightly out of order).
    recent: BTreeMap<i64, u64>,
    /// Arrival of the first and of the latest call, unix milliseconds.
    span: Option<(i64, i64)>,
}

/// Seconds kept in [`RateCounter::recent`].
const KEEP_SECONDS: i64 = 10;

impl RateCounter {
    /// Records one call arriving at unix millisecond `ms`.
    pub(crate) fn record(&mut self, ms: i64) {
        let second = ms.div_euclid(1000);
        self.span = Some(self.span.map_or((ms, ms), |(first, last)| (first.min(ms), last.max(ms))));
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

    /// Milliseconds from the first call to the latest (0 before two calls).
    pub(crate) fn active_ms(&self) -> u64 {
        self.span.map_or(0, |(first, last)| u64::try_from(last - first).unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_resolve_case_insensitively() {
        for e in Endpoint::ALL {
            let route = format!("/{BASE_PATH}/{}", e.path());
            assert_eq!(endpoint_of(&route), Some(e));
            assert_eq!(endpoint_of(&route.to_ascii_lowercase()), Some(e));
            assert_eq!(endpoint_of(&format!("{}/", route.to_ascii_uppercase())), Some(e));
        }
        assert_eq!(endpoint_of("/correspondence/api/v1/migration/nope"), None);
        assert_eq!(endpoint_of("/sim/inventory"), None);
        assert_eq!(endpoint_of("/é"), None);
    }

    #[test]
    fn counts_the_busiest_second() {
        let mut r = RateCounter::default();
        for s in [100, 100, 101, 100, 102, 102, 102, 102, 99] {
            r.record(s * 1000 + 7);
        }
        assert_eq!(r.calls(), 9);
        assert_eq!(r.max_per_second(), 4);
        assert_eq!(r.active_ms(), 3000);
        for s in 200..300 {
            r.record(s * 1000);
        }
        assert!(r.recent.len() <= usize::try_from(KEEP_SECONDS + 1).unwrap());
    }
}
