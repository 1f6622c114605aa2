//! The scheduler loop: at each tick, for every schedule, the latest fire time that has come is
//! compared with the latest one recorded; a new one is claimed (once, across nodes) and handed
//! to the [`ActionRunner`] in its own task, or, if it is too late, handled by the missed-fire
//! policy. What an action does is the runner's business, not the scheduler's.

use super::{Action, Missed, Outcome, ScheduleSpec};
use crate::clock::millis;
use crate::store::Store;
use crate::store::StoreError;
use crate::telemetry;
use schema::NodeId;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Carries out the action of a firing this node claimed. Supplied from above (the daemon), so
/// the scheduler only decides and claims.
#[async_trait::async_trait]
pub trait ActionRunner: Send + Sync {
    /// Does `action` for the fire at `fire_time` (epoch ms), stopping early on `cancel`.
    /// Returns what it counted (recorded with the firing), or why it failed.
    async fn execute(
        &self,
        action: &Action,
        fire_time: i64,
        cancel: &CancellationToken,
    ) -> Result<serde_json::Value, String>;
}

/// What to do about one schedule now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// No new fire time has come.
    Nothing,
    /// A firing of this schedule is still going; the fire waits (and may become late).
    Wait,
    /// Fire it (late by this many ms; 0 on time).
    Fire {
        /// The fire time.
        fire_time: i64,
        /// How late, in ms.
        late_by: i64,
    },
    /// Record it as skipped.
    Skip {
        /// The fire time.
        fire_time: i64,
        /// Why (recorded as [`Outcome::Skipped`]).
        reason: String,
    },
}

/// The verdict on `spec` at `now` given the latest recorded fire time and whether a firing is
/// still going. A fire up to `on_time` late is on time. Pure, so the policies are tested
/// directly.
pub(crate) fn verdict(
    spec: &ScheduleSpec,
    now: i64,
    last_recorded: Option<i64>,
    going: bool,
    on_time: Duration,
) -> Verdict {
    let Some(due) = spec.cron.last_at_or_before(now) else { return Verdict::Nothing };
    if last_recorded.is_some_and(|last| last >= due) {
        return Verdict::Nothing;
    }
    if going {
        return Verdict::Wait;
    }
    let late_by = now - due;
    if late_by <= millis(on_time) {
        return Verdict::Fire { fire_time: due, late_by };
    }
    let late = humantime::format_duration(Duration::from_secs(u64::try_from(late_by / 1000).unwrap_or(0)));
    match spec.missed {
        Missed::RunOnceLate(limit) if late_by <= millis(limit) => Verdict::Fire { fire_time: due, late_by },
        Missed::RunOnceLate(limit) => Verdict::Skip {
            fire_time: due,
            reason: format!(
                "missed by {late}, beyond the catch-up limit of {}",
                humantime::format_duration(limit)
            ),
        },
        Missed::Skip => Verdict::Skip { fire_time: due, reason: format!("missed by {late}") },
    }
}

/// Fires schedules for one node.
pub struct Scheduler {
    store: Store,
    node: NodeId,
    schedules: Vec<ScheduleSpec>,
    runner: Arc<dyn ActionRunner>,
    /// A node without a heartbeat for this long is dead: its unfinished firings are closed
    /// before they hold back the next fire.
    dead_after: Duration,
    /// A fire taken this late or less is on time (ticks are not instantaneous).
    pub on_time: Duration,
}

/// A firing in progress.
pub type FiringHandle = JoinHandle<()>;

impl Scheduler {
    /// A scheduler for `node` that hands its firings to `runner`; a node silent for `dead_after`
    /// is dead.
    pub fn new(
        store: Store,
        node: NodeId,
        schedules: Vec<ScheduleSpec>,
        runner: Arc<dyn ActionRunner>,
        dead_after: Duration,
    ) -> Self {
        Self { store, node, schedules, runner, dead_after, on_time: Duration::from_secs(60) }
    }

    /// Handles every schedule at the clock's now: claims and starts due firings, records skips.
    /// Returns the firings this node started (the caller may await them).
    pub async fn tick(&self, cancel: &CancellationToken) -> Result<Vec<FiringHandle>, StoreError> {
        let now = self.store.clock().now_ms();
        // Alive as far as other nodes can tell (they close firings of dead nodes).
        if let Err(e) = self.store.node_beat(self.node).await {
            tracing::warn!(error = %e, "heartbeat failed");
        }
        let mut started = Vec::new();
        for spec in &self.schedules {
            let last = self.store.last_fire(&spec.name).await?;
            if spec.cron.last_at_or_before(now).is_none_or(|due| last.is_some_and(|l| l >= due)) {
                continue;
            }
            let mut open = self.store.running_firings(&spec.name).await?;
            if !open.is_empty() {
                let alive_since = now - millis(self.dead_after);
                super::abandon_dead_runs(&self.store, alive_since).await?;
                open = self.store.running_firings(&spec.name).await?;
            }
            match verdict(spec, now, last, !open.is_empty(), self.on_time) {
                Verdict::Nothing => {}
                Verdict::Wait => {
                    tracing::info!(schedule = %spec.name, "previous firing still going; this fire waits")
                }
                Verdict::Skip { fire_time, reason } => {
                    let skipped = Outcome::Skipped(reason);
                    let outcome = skipped.to_string();
                    if self
                        .store
                        .claim_firing(&spec.name, fire_time, self.node, Some(&outcome))
                        .await?
                        .is_some()
                    {
                        telemetry::schedule_run(&spec.name, skipped.kind());
                        tracing::warn!(schedule = %spec.name, fire_time, reason = %outcome, "fire skipped");
                    }
                }
                Verdict::Fire { fire_time, late_by } => {
                    let Some(id) = self.store.claim_firing(&spec.name, fire_time, self.node, None).await?
                    else {
                        continue; // another node took it
                    };
                    tracing::info!(schedule = %spec.name, action = spec.action.name(), late_by_ms = late_by, "fired");
                    started.push(self.start(id, spec, fire_time, cancel));
                }
            }
        }
        Ok(started)
    }

    /// Hands the claimed firing `id` to the runner in its own task, which records its end.
    fn start(
        &self,
        id: i64,
        spec: &ScheduleSpec,
        fire_time: i64,
        cancel: &CancellationToken,
    ) -> FiringHandle {
        let (store, runner, action, cancel) =
            (self.store.clone(), self.runner.clone(), spec.action.clone(), cancel.clone());
        let name = spec.name.clone();
        tokio::spawn(async move {
            let (outcome, counts) = match runner.execute(&action, fire_time, &cancel).await {
                Ok(counts) => (Outcome::Ok, counts),
                Err(e) => (Outcome::Error(e), json!({})),
            };
            if outcome != Outcome::Ok {
                tracing::error!(schedule = %name, %outcome, "firing failed");
            }
            if let Err(e) = store.finish_firing(id, &outcome.to_string(), &counts).await {
                tracing::error!(schedule = %name, error = %e, "cannot record the end of a firing");
            }
            // Counted even if its end could not be written: the firing did end so.
            telemetry::schedule_run(&name, outcome.kind());
        })
    }

    /// The next instant any schedule fires after `now` (epoch ms).
    fn next_fire(&self, now: i64) -> Option<i64> {
        self.schedules.iter().filter_map(|s| s.cron.next_after(now)).min()
    }

    /// Ticks until `cancel`: at each fire time, and at least every `max_sleep` (other nodes'
    /// firings end, clocks get adjusted). Waits for started firings before returning.
    pub async fn drive(self, max_sleep: Duration, cancel: CancellationToken) {
        let mut firings: Vec<FiringHandle> = Vec::new();
        while !cancel.is_cancelled() {
            match self.tick(&cancel).await {
                Ok(started) => firings.extend(started),
                Err(e) => tracing::warn!(error = %e, "scheduler tick failed; retrying"),
            }
            firings.retain(|h| !h.is_finished());
            let now = self.store.clock().now_ms();
            let until_next =
                self.next_fire(now).map(|t| u64::try_from(t - now).unwrap_or(0)).unwrap_or(u64::MAX);
            let sleep = Duration::from_millis(until_next).min(max_sleep);
            tokio::select! {
                _ = cancel.cancelled() => {}
                // A few ms past the fire time, so the tick sees it as come.
                _ = tokio::time::sleep(sleep + Duration::from_millis(5)) => {}
            }
        }
        for h in firings {
            let _ = h.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cron::Cron;

    /// An hour boundary (epoch ms); the schedules below fire on every hour.
    const H: i64 = 1_789_999_200_000;
    const S: i64 = 1000;

    fn hourly(missed: Missed) -> ScheduleSpec {
        ScheduleSpec {
            name: "hourly".into(),
            cron: Cron::parse("0 0 * * * *", "UTC").unwrap(),
            action: Action::Report,
            missed,
        }
    }

    fn fire(late_by: i64) -> Verdict {
        Verdict::Fire { fire_time: H, late_by }
    }

    fn skip(reason: &str) -> Verdict {
        Verdict::Skip { fire_time: H, reason: reason.into() }
    }

    /// Every policy at and around its boundaries: (missed, now, last recorded, going, verdict).
    #[test]
    fn every_policy_at_its_boundaries() {
        let catch_up = Missed::RunOnceLate(Duration::from_secs(300));
        let cases: Vec<(Missed, i64, Option<i64>, bool, Verdict)> = vec![
            // This hour's fire is recorded (or a later one is): nothing to do, going or not.
            (Missed::Skip, H, Some(H), false, Verdict::Nothing),
            (Missed::Skip, H + 5 * S, Some(H), true, Verdict::Nothing),
            (Missed::Skip, H + 5 * S, Some(H + 3_600 * S), false, Verdict::Nothing),
            // Only the previous hour's fire is recorded: this one has come.
            (Missed::Skip, H, Some(H - 3_600 * S), false, fire(0)),
            (Missed::Skip, H, None, false, fire(0)),
            // One ms before the hour, the previous fire is the latest, and it is recorded.
            (Missed::Skip, H - 1, Some(H - 3_600 * S), false, Verdict::Nothing),
            // A firing still going: the fire waits, on time or not, whatever the policy.
            (Missed::Skip, H, None, true, Verdict::Wait),
            (Missed::Skip, H + 3_000 * S, None, true, Verdict::Wait),
            (catch_up, H + 3_000 * S, None, true, Verdict::Wait),
            // Up to `on_time` (10 s) late is on time.
            (Missed::Skip, H + 10 * S, None, false, fire(10_000)),
            (Missed::Skip, H + 10 * S + 1, None, false, skip("missed by 10s")),
            (Missed::Skip, H + 125 * S, None, false, skip("missed by 2m 5s")),
            // Fire once late: within the catch-up limit (5 min) it fires, late; beyond it, skipped.
            (catch_up, H + 10 * S + 1, None, false, fire(10_001)),
            (catch_up, H + 300 * S, None, false, fire(300_000)),
            (catch_up, H + 300 * S + 1, None, false, skip("missed by 5m, beyond the catch-up limit of 5m")),
            // The latest fire is the one that counts: an hour and a bit later, the next hour's.
            (
                Missed::Skip,
                H + 3_605 * S,
                Some(H - 3_600 * S),
                false,
                Verdict::Fire { fire_time: H + 3_600 * S, late_by: 5_000 },
            ),
        ];
        for (k, (missed, now, last, going, want)) in cases.into_iter().enumerate() {
            let got = verdict(&hourly(missed), now, last, going, Duration::from_secs(10));
            assert_eq!(
                got,
                want,
                "case {k}: {missed:?}, now = H{:+} ms, last = {:?}, going = {going}",
                now - H,
                last.map(|l| l - H)
            );
        }
    }
}
