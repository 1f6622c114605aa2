//! The daemon's warning about failures: a `warn!` per failure group when it first appears and
//! each time it reaches the next power of ten (1, 10, 100, … items), so a growing problem shows
//! in the log without one line per item.

use crate::store::{FailureGroup, Selection, Store};
use std::collections::HashMap;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Groups looked at per check (the largest); smaller ones are warned about once they grow.
const GROUPS: usize = 100;

/// Remembers, per group, the last power of ten it was warned about.
#[derive(Debug, Default)]
pub(crate) struct FailureWatch {
    warned: HashMap<(String, schema::WorkflowState), u64>,
}

impl FailureWatch {
    /// The groups to warn about now, with the threshold each reached: a group is reported when
    /// its count reaches a power of ten higher than the last one reported for it.
    pub(crate) fn observe<'a>(&mut self, groups: &'a [FailureGroup]) -> Vec<(&'a FailureGroup, u64)> {
        let mut out = Vec::new();
        for g in groups {
            let reached = power_of_ten_at_most(g.count);
            let last = self.warned.entry((g.reason.clone(), g.state)).or_insert(0);
            if reached > *last {
                *last = reached;
                out.push((g, reached));
            }
        }
        out
    }
}

/// The largest power of ten not above `n` (0 for 0).
fn power_of_ten_at_most(n: u64) -> u64 {
    if n == 0 {
        return 0;
    }
    let mut p = 1;
    while p <= n / 10 {
        p *= 10;
    }
    p
}

/// Checks the failure groups every `every` until `cancel`, warning as they grow.
pub(crate) async fn run(store: Store, every: Duration, cancel: CancellationToken) {
    let mut watch = FailureWatch::default();
    loop {
        match store.failure_groups(&Selection::all(), None, Some(GROUPS)).await {
            Ok(f) => {
                for (g, reached) in watch.observe(&f.groups) {
                    let samples = store.failure_samples(g).await.unwrap_or_default();
                    tracing::warn!(
                        count = g.count,
                        reached,
                        state = %g.state,
                        reason = %g.reason,
                        sample_a2_ids = ?samples,
                        "failure group has {} item(s): see `migrator failures`",
                        g.count
                    );
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot read failure groups; trying again"),
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use schema::WorkflowState;

    fn group(reason: &str, count: u64) -> FailureGroup {
        FailureGroup {
            reason: reason.into(),
            state: WorkflowState::Failed,
            step: "migrate".into(),
            endpoint: None,
            status: None,
            message: reason.into(),
            count,
            first_seen: 0,
            last_seen: 0,
            sample_a2_ids: vec![],
        }
    }

    #[test]
    fn warns_when_a_group_appears_and_at_powers_of_ten() {
        let mut w = FailureWatch::default();
        let seen = |w: &mut FailureWatch, groups: &[FailureGroup]| -> Vec<(String, u64)> {
            w.observe(groups).into_iter().map(|(g, n)| (g.reason.clone(), n)).collect()
        };
        assert_eq!(seen(&mut w, &[group("a", 1)]), vec![("a".into(), 1)]);
        assert_eq!(seen(&mut w, &[group("a", 9)]), vec![]);
        assert_eq!(seen(&mut w, &[group("a", 10), group("b", 3)]), vec![("a".into(), 10), ("b".into(), 1)]);
        assert_eq!(seen(&mut w, &[group("a", 99), group("b", 3)]), vec![]);
        assert_eq!(seen(&mut w, &[group("a", 2500)]), vec![("a".into(), 1000)], "jumps report the highest");
        assert_eq!(seen(&mut w, &[group("a", 2600)]), vec![]);
        assert_eq!(
            (power_of_ten_at_most(0), power_of_ten_at_most(1), power_of_ten_at_most(100)),
            (0, 1, 100)
        );
    }
}
