//! The scheduler loop: at each tick, for every schedule, the latest fire time that has come is
//! compared with the latest one recorded; a new one is claimed (once, across nodes) and its
//! action runs in its own task, or, if it is too late, handled by the missed-fire policy.

use super::runs;
use super::{Action, Missed, ScheduleSpec};
use crate::import::ImportOptions;
use crate::phase::{Phase, Window, plan};
use crate::store::Store;
use crate::store::StoreError;
use serde_json::json;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// What actions need besides the store.
#[derive(Debug, Default)]
pub struct ActionContext {
    /// The configured phases (for open-window).
    pub phases: Vec<Phase>,
    /// Where `discover` finds export files.
    pub inbox: Option<PathBuf>,
    /// How `discover` imports them.
    pub import: ImportOptions,
    /// How long finished items keep their full history.
    pub history_retention: Duration,
    /// How often a long run (open-window) looks at the clock and the work left.
    pub poll: Duration,
    /// A node without a heartbeat for this long is dead: rescue closes its runs.
    pub dead_after: Duration,
    /// File sizes seen by the last `discover` run (a file is taken once its size held still
    /// from one run to the next).
    pub sizes: tokio::sync::Mutex<HashMap<PathBuf, u64>>,
}

/// What to do about one schedule now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// No new fire time has come.
    Nothing,
    /// A run of this schedule is still going; the fire waits (and may become late).
    Wait,
    /// Run it (late by this many ms; 0 on time).
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
        /// Why.
        reason: String,
    },
}

/// Decides about `spec` at `now` given the latest recorded fire time and whether a run is still
/// going. A fire up to `on_time` late is on time. Pure, so the policies are tested directly.
pub fn decide(
    spec: &ScheduleSpec,
    now: i64,
    last_recorded: Option<i64>,
    running: bool,
    on_time: Duration,
) -> Decision {
    let Some(due) = spec.cron.last_at_or_before(now) else { return Decision::Nothing };
    if last_recorded.is_some_and(|last| last >= due) {
        return Decision::Nothing;
    }
    if running {
        return Decision::Wait;
    }
    let late_by = now - due;
    if late_by <= on_time.as_millis() as i64 {
        return Decision::Fire { fire_time: due, late_by };
    }
    let late = humantime::format_duration(Duration::from_secs((late_by / 1000) as u64));
    match spec.missed {
        Missed::RunOnceLate(limit) if late_by <= limit.as_millis() as i64 => {
            Decision::Fire { fire_time: due, late_by }
        }
        Missed::RunOnceLate(limit) => Decision::Skip {
            fire_time: due,
            reason: format!(
                "skipped: missed by {late}, beyond the catch-up limit of {}",
                humantime::format_duration(limit)
            ),
        },
        Missed::Skip => Decision::Skip { fire_time: due, reason: format!("skipped: missed by {late}") },
    }
}

/// Fires schedules for one node.
pub struct Scheduler {
    store: Store,
    node: Uuid,
    schedules: Vec<ScheduleSpec>,
    ctx: Arc<ActionContext>,
    /// A fire taken this late or less is on time (ticks are not instantaneous).
    pub on_time: Duration,
}

/// A fired run in progress.
pub type RunHandle = JoinHandle<()>;

impl Scheduler {
    /// A scheduler for `node`.
    pub fn new(store: Store, node: Uuid, schedules: Vec<ScheduleSpec>, ctx: ActionContext) -> Self {
        Self { store, node, schedules, ctx: Arc::new(ctx), on_time: Duration::from_secs(60) }
    }

    /// The schedules.
    pub fn schedules(&self) -> &[ScheduleSpec] {
        &self.schedules
    }

    /// Handles every schedule at the clock's now: claims and starts due runs, records skips.
    /// Returns the runs this node started (the caller may await them).
    pub async fn tick(&self, cancel: &CancellationToken) -> Result<Vec<RunHandle>, StoreError> {
        let now = self.store.clock().now_ms();
        // Alive as far as other nodes can tell (they close runs of dead nodes).
        if let Err(e) = crate::node::beat(&self.store, self.node).await {
            tracing::warn!(error = %e, "heartbeat failed");
        }
        let mut started = Vec::new();
        for spec in &self.schedules {
            let last = runs::last_fire(&self.store, &spec.name).await?;
            if spec.cron.last_at_or_before(now).is_none_or(|due| last.is_some_and(|l| l >= due)) {
                continue;
            }
            let mut open = runs::running(&self.store, &spec.name).await?;
            if !open.is_empty() {
                let alive_since = now - self.ctx.dead_after.as_millis() as i64;
                runs::abandon_dead(&self.store, alive_since).await?;
                open = runs::running(&self.store, &spec.name).await?;
            }
            match decide(spec, now, last, !open.is_empty(), self.on_time) {
                Decision::Nothing => {}
                Decision::Wait => {
                    tracing::info!(schedule = %spec.name, "previous run still going; this fire waits")
                }
                Decision::Skip { fire_time, reason } => {
                    if runs::claim(&self.store, &spec.name, fire_time, self.node, Some(&reason))
                        .await?
                        .is_some()
                    {
                        tracing::warn!(schedule = %spec.name, fire_time, %reason, "fire skipped");
                    }
                }
                Decision::Fire { fire_time, late_by } => {
                    let Some(id) = runs::claim(&self.store, &spec.name, fire_time, self.node, None).await?
                    else {
                        continue; // another node took it
                    };
                    tracing::info!(schedule = %spec.name, action = spec.action.name(), late_by_ms = late_by, "fired");
                    let (store, ctx, action, cancel) =
                        (self.store.clone(), self.ctx.clone(), spec.action.clone(), cancel.clone());
                    let name = spec.name.clone();
                    started.push(tokio::spawn(async move {
                        let (outcome, counts) = match execute(&store, &ctx, &action, fire_time, &cancel).await
                        {
                            Ok(counts) => ("ok".to_string(), counts),
                            Err(e) => (format!("error: {e}"), json!({})),
                        };
                        if outcome != "ok" {
                            tracing::error!(schedule = %name, %outcome, "run failed");
                        }
                        if let Err(e) = runs::finish(&store, id, &outcome, &counts).await {
                            tracing::error!(schedule = %name, error = %e, "cannot record the end of a run");
                        }
                    }));
                }
            }
        }
        Ok(started)
    }

    /// The next instant any schedule fires after `now` (epoch ms).
    pub fn next_fire(&self, now: i64) -> Option<i64> {
        self.schedules.iter().filter_map(|s| s.cron.next_after(now)).min()
    }

    /// Ticks until `cancel`: at each fire time, and at least every `max_sleep` (other nodes'
    /// runs end, clocks get adjusted). Waits for started runs before returning.
    pub async fn run(self, max_sleep: Duration, cancel: CancellationToken) {
        let mut runs: Vec<RunHandle> = Vec::new();
        while !cancel.is_cancelled() {
            match self.tick(&cancel).await {
                Ok(started) => runs.extend(started),
                Err(e) => tracing::warn!(error = %e, "scheduler tick failed; retrying"),
            }
            runs.retain(|h| !h.is_finished());
            let now = self.store.clock().now_ms();
            let until_next = self.next_fire(now).map(|t| (t - now).max(0) as u64).unwrap_or(u64::MAX);
            let sleep = Duration::from_millis(until_next).min(max_sleep);
            tokio::select! {
                _ = cancel.cancelled() => {}
                // A few ms past the fire time, so the tick sees it as come.
                _ = tokio::time::sleep(sleep + Duration::from_millis(5)) => {}
            }
        }
        for h in runs {
            let _ = h.await;
        }
    }
}

/// Runs one action; returns what it counted.
async fn execute(
    store: &Store,
    ctx: &ActionContext,
    action: &Action,
    fire_time: i64,
    cancel: &CancellationToken,
) -> Result<serde_json::Value, String> {
    let db = |e: StoreError| e.to_string();
    match action {
        Action::OpenWindow(name) => {
            let phase =
                ctx.phases.iter().find(|p| &p.name == name).ok_or(format!("no phase named {name:?}"))?;
            let Window::Scheduled { duration, .. } = &phase.window else {
                return Err(format!("phase {name:?} is always on; it has no window to open"));
            };
            let close = fire_time + duration.as_millis() as i64;
            let opened = store.clock().now_ms();
            let at_open = plan::ready_work(store, phase).await.map_err(db)?;
            let mut left = at_open;
            let mut interrupted = false;
            loop {
                let now = store.clock().now_ms();
                if now >= close || left == 0 {
                    break;
                }
                let nap = ctx.poll.min(Duration::from_millis((close - now) as u64));
                tokio::select! {
                    _ = cancel.cancelled() => { interrupted = true; }
                    _ = tokio::time::sleep(nap) => {}
                }
                left = plan::ready_work(store, phase).await.map_err(db)?;
                if interrupted {
                    break;
                }
            }
            let secs = (store.clock().now_ms() - opened).max(0) as f64 / 1000.0;
            let counts = json!({
                "phase": name,
                "work_at_open": at_open,
                "work_at_close": left,
                "done": at_open.saturating_sub(left),
                "open_secs": secs,
            });
            if interrupted { Err(format!("interrupted: this node stopped; {counts}")) } else { Ok(counts) }
        }
        Action::Discover => {
            let dir = ctx.inbox.as_ref().ok_or("no inbox directory configured (discover.inbox)")?;
            // One scan at a time on this node (two discover schedules must not race on a file).
            let mut sizes = ctx.sizes.lock().await;
            let reports = crate::import::scan(store, dir, &ctx.import, &mut sizes, cancel).await;
            drop(sizes);
            let reports = reports.map_err(|e| e.to_string())?;
            Ok(json!({
                "files": reports.len(),
                "lines": reports.iter().map(|r| r.lines).sum::<u64>(),
                "new_items": reports.iter().map(|r| r.workflows_created).sum::<u64>(),
                "rejected": reports.iter().map(|r| r.rejected).sum::<u64>(),
            }))
        }
        Action::SyncSweep => Ok(json!({ "made_pending": store.sync_sweep().await.map_err(db)? })),
        Action::Rescue => {
            let released = store.release_expired().await.map_err(db)?;
            let alive_since = store.clock().now_ms() - ctx.dead_after.as_millis() as i64;
            let abandoned = runs::abandon_dead(store, alive_since).await.map_err(db)?;
            Ok(json!({ "leases_released": released, "runs_abandoned": abandoned }))
        }
        Action::Prune => {
            let before = store.clock().now_ms() - ctx.history_retention.as_millis() as i64;
            Ok(
                json!({ "history_rows_deleted": store.prune_history(before).await.map_err(db)?, "before": before }),
            )
        }
        Action::Report => {
            let s = store.status().await.map_err(db)?;
            Ok(json!({ "total": s.total, "leased": s.leased, "by_state": s.by_state }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::Cron;

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

    fn fire(late_by: i64) -> Decision {
        Decision::Fire { fire_time: H, late_by }
    }

    fn skip(reason: &str) -> Decision {
        Decision::Skip { fire_time: H, reason: reason.into() }
    }

    /// Every policy at and around its boundaries: (missed, now, last recorded, running, decision).
    #[test]
    fn every_policy_at_its_boundaries() {
        let catch_up = Missed::RunOnceLate(Duration::from_secs(300));
        let cases: Vec<(Missed, i64, Option<i64>, bool, Decision)> = vec![
            // This hour's fire is recorded (or a later one is): nothing to do, running or not.
            (Missed::Skip, H, Some(H), false, Decision::Nothing),
            (Missed::Skip, H + 5 * S, Some(H), true, Decision::Nothing),
            (Missed::Skip, H + 5 * S, Some(H + 3_600 * S), false, Decision::Nothing),
            // Only the previous hour's fire is recorded: this one has come.
            (Missed::Skip, H, Some(H - 3_600 * S), false, fire(0)),
            (Missed::Skip, H, None, false, fire(0)),
            // One ms before the hour, the previous fire is the latest, and it is recorded.
            (Missed::Skip, H - 1, Some(H - 3_600 * S), false, Decision::Nothing),
            // A run still going: the fire waits, on time or not, whatever the policy.
            (Missed::Skip, H, None, true, Decision::Wait),
            (Missed::Skip, H + 3_000 * S, None, true, Decision::Wait),
            (catch_up, H + 3_000 * S, None, true, Decision::Wait),
            // Up to `on_time` (10 s) late is on time.
            (Missed::Skip, H + 10 * S, None, false, fire(10_000)),
            (Missed::Skip, H + 10 * S + 1, None, false, skip("skipped: missed by 10s")),
            (Missed::Skip, H + 125 * S, None, false, skip("skipped: missed by 2m 5s")),
            // Run once late: within the catch-up limit (5 min) it fires, late; beyond it, skipped.
            (catch_up, H + 10 * S + 1, None, false, fire(10_001)),
            (catch_up, H + 300 * S, None, false, fire(300_000)),
            (
                catch_up,
                H + 300 * S + 1,
                None,
                false,
                skip("skipped: missed by 5m, beyond the catch-up limit of 5m"),
            ),
            // The latest fire is the one that counts: an hour and a bit later, the next hour's.
            (
                Missed::Skip,
                H + 3_605 * S,
                Some(H - 3_600 * S),
                false,
                Decision::Fire { fire_time: H + 3_600 * S, late_by: 5_000 },
            ),
        ];
        for (k, (missed, now, last, running, want)) in cases.into_iter().enumerate() {
            let got = decide(&hourly(missed), now, last, running, Duration::from_secs(10));
            assert_eq!(
                got,
                want,
                "case {k}: {missed:?}, now = H{:+} ms, last = {:?}, running = {running}",
                now - H,
                last.map(|l| l - H)
            );
        }
    }
}
