//! `migrator plan`: a dry run for planners. Per phase: its items by state, how many still need
//! one of its steps, and when it will be done at its rate inside its windows.
//!
//! The rate is per step (each of a phase's steps may start `rate` items per second; the steps run
//! side by side), so a phase with N items left needs N / rate seconds of open window. When the
//! phase has run windows before, the measured rate (items finished per open second, from its
//! window firings) is used instead of the configured one.

use super::{Phase, Window, WindowState};
use crate::schedule::{RunRecord, list_runs, once_schedule_name, window_schedule_name};
use crate::store::Store;
use crate::store::StoreError;
use chrono::TimeZone;
use schema::WorkflowState;
use serde::Serialize;
use std::collections::BTreeMap;
use workers::StepKind;

/// How far ahead an estimate looks for windows before it gives up.
const HORIZON_WINDOWS: usize = 100_000;

/// One phase's plan.
#[derive(Debug, Clone, Serialize)]
pub struct PhasePlan {
    /// Phase name.
    pub phase: String,
    /// Its steps.
    pub steps: Vec<String>,
    /// Its claim order.
    pub order: crate::store::ClaimOrder,
    /// Its window, described.
    pub window: String,
    /// Open now (until when) or closed (until when).
    pub window_now: WindowState,
    /// Paused by an operator.
    pub paused: bool,
    /// Its items per state.
    pub by_state: BTreeMap<WorkflowState, u64>,
    /// All its items.
    pub total: u64,
    /// Items that still need one of its steps.
    pub remaining: u64,
    /// Of those, the ones its steps can take now (the others wait for another phase's steps).
    pub ready: u64,
    /// Items per second per step, as configured.
    pub rate_configured: Option<f64>,
    /// Items finished per open second in its recorded firings, if it has had any.
    pub rate_measured: Option<f64>,
    /// The rate the estimate uses (measured if known, else configured).
    pub rate_used: Option<f64>,
    /// Seconds of open window the remaining items need.
    pub work_secs: Option<f64>,
    /// Windows it takes (1 = finishes in the current or next one).
    pub windows_needed: Option<u64>,
    /// When it finishes (epoch ms).
    pub finishes_at: Option<i64>,
    /// The same, in the phase's time zone.
    pub finishes_local: Option<String>,
    /// The start of the window it finishes in (the night), in the phase's time zone.
    pub finishing_window: Option<String>,
    /// Why there is no estimate, if there is none.
    pub no_estimate: Option<String>,
}

/// The runnable states whose items still need one of `steps`.
pub fn states_needing(steps: &[StepKind]) -> Vec<WorkflowState> {
    let last = steps.iter().filter_map(|s| StepKind::ALL.iter().position(|k| k == s)).max();
    WorkflowState::RUNNABLE
        .iter()
        .copied()
        .filter(|s| {
            let at = StepKind::for_state(*s).and_then(|k| StepKind::ALL.iter().position(|x| *x == k));
            matches!((at, last), (Some(a), Some(l)) if a <= l)
        })
        .collect()
}

/// Items of `phase` its steps can advance now (the rest wait for another phase's steps).
pub async fn ready_work(store: &Store, phase: &Phase) -> Result<u64, StoreError> {
    store.count_waiting(&phase.selection, &phase.states()).await
}

/// Items finished per open second over `phase`'s last recorded firings (window and `--once`
/// ones).
async fn measured_rate(store: &Store, phase: &str) -> Result<Option<f64>, StoreError> {
    let mut firings: Vec<RunRecord> = list_runs(store, Some(&window_schedule_name(phase)), 5).await?;
    firings.extend(list_runs(store, Some(&once_schedule_name(phase)), 5).await?);
    let (mut done, mut secs) = (0.0, 0.0);
    // Firings that did their work (a window that closed with work left did too); not failed,
    // abandoned or skipped ones.
    for r in firings.iter().filter(|r| r.ended().is_some_and(|o| o.did_work())) {
        let Some(c) = r.window_counts() else { continue };
        if c.done > 0 && c.open_secs > 0.0 {
            done += c.done as f64;
            secs += c.open_secs;
        }
    }
    Ok((secs > 0.0).then(|| done / secs))
}

/// When an amount of work is done inside a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Finish {
    /// The instant (epoch ms).
    pub at: i64,
    /// Windows used (0: nothing to do).
    pub windows: u64,
    /// When the window it finishes in opened (the "night" it finishes in; `now` if that is the
    /// current one).
    pub window_start: i64,
}

/// When `work_secs` of open window, starting at `now`, are used up. None if the window never
/// opens again within the horizon.
pub fn finish_time(window: &Window, now: i64, work_secs: f64) -> Option<Finish> {
    // `as` saturates (and NaN is 0): an estimate beyond i64 ms simply outlasts the horizon.
    #[allow(clippy::cast_possible_truncation)]
    let mut left = (work_secs * 1000.0).ceil() as i64;
    if left <= 0 {
        return Some(Finish { at: now, windows: 0, window_start: now });
    }
    for (n, (start, end)) in window.intervals(now).take(HORIZON_WINDOWS).enumerate() {
        let len = end.saturating_sub(start);
        if left <= len {
            return Some(Finish { at: start + left, windows: n as u64 + 1, window_start: start });
        }
        left -= len;
    }
    None
}

/// Plans one phase at the store clock's now.
pub async fn plan_phase(
    store: &Store,
    phase: &Phase,
    paused: bool,
    tz: chrono_tz::Tz,
) -> Result<PhasePlan, StoreError> {
    let now = store.clock().now_ms();
    let by_state = store.count_selected(&phase.selection).await?;
    let needing = states_needing(&phase.steps);
    let count = |states: &[WorkflowState]| states.iter().map(|s| by_state.get(s).copied().unwrap_or(0)).sum();
    let remaining: u64 = count(&needing);
    let ready: u64 = count(&phase.states());
    let rate_measured = measured_rate(store, &phase.name).await?;
    let rate_used = rate_measured.or(phase.rate);
    let work_secs = rate_used.filter(|r| *r > 0.0).map(|r| remaining as f64 / r);
    let finish = work_secs.map(|s| finish_time(&phase.window, now, s));
    let no_estimate = match (&work_secs, &finish) {
        (None, _) => Some("no rate configured and no measured run yet".to_string()),
        (Some(_), Some(None)) => Some("the window does not open again within the horizon".to_string()),
        _ => None,
    };
    let finish = finish.flatten();
    let tz = match &phase.window {
        Window::Scheduled { cron, .. } => cron.tz(),
        Window::Always => tz,
    };
    Ok(PhasePlan {
        phase: phase.name.clone(),
        steps: phase.steps.iter().map(|s| s.as_str().to_string()).collect(),
        order: phase.order,
        window: describe(&phase.window),
        window_now: phase.window.at(now),
        paused,
        total: by_state.values().sum(),
        by_state,
        remaining,
        ready,
        rate_configured: phase.rate,
        rate_measured,
        rate_used,
        work_secs,
        windows_needed: finish.map(|f| f.windows),
        finishes_at: finish.map(|f| f.at),
        finishes_local: finish.and_then(|f| local(tz, f.at)),
        finishing_window: finish.and_then(|f| local(tz, f.window_start)),
        no_estimate,
    })
}

fn local(tz: chrono_tz::Tz, ms: i64) -> Option<String> {
    tz.timestamp_millis_opt(ms).single().map(|t| t.format("%Y-%m-%d %H:%M %Z").to_string())
}

/// A window in words.
fn describe(window: &Window) -> String {
    match window {
        Window::Always => "always".into(),
        Window::Scheduled { cron, duration } => {
            format!("{} ({}) for {}", cron.source(), cron.tz(), humantime::format_duration(*duration))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cron::Cron;
    use std::time::Duration;

    #[test]
    fn states_a_phase_still_has_work_in() {
        use WorkflowState::*;
        assert_eq!(states_needing(&[StepKind::Migrate]), vec![CreatedInA2]);
        assert_eq!(states_needing(&[StepKind::MakeAvailable]), vec![CreatedInA2, Migrated]);
        assert_eq!(states_needing(&StepKind::ALL), vec![CreatedInA2, Migrated, DialogCreated, SyncPending]);
    }

    #[test]
    fn work_is_spread_over_the_windows() {
        let oslo = |d: u32, h: u32, m: u32| {
            chrono_tz::Europe::Oslo.with_ymd_and_hms(2026, 11, d, h, m, 0).unwrap().timestamp_millis()
        };
        let w = Window::Scheduled {
            cron: Cron::parse("0 0 22 * * *", "Europe/Oslo").unwrap(),
            duration: Duration::from_secs(8 * 3600),
        };
        // At noon: 10 hours of work = the whole first night (8h) and 2h of the second.
        let f = |at, windows, window_start| Some(Finish { at, windows, window_start });
        assert_eq!(finish_time(&w, oslo(27, 12, 0), 10.0 * 3600.0), f(oslo(29, 0, 0), 2, oslo(28, 22, 0)));
        // Inside a window at 23:00: 7h are left of it.
        assert_eq!(finish_time(&w, oslo(27, 23, 0), 7.0 * 3600.0), f(oslo(28, 6, 0), 1, oslo(27, 23, 0)));
        assert_eq!(
            finish_time(&w, oslo(27, 23, 0), 7.0 * 3600.0 + 60.0),
            f(oslo(28, 22, 1), 2, oslo(28, 22, 0))
        );
        assert_eq!(finish_time(&Window::Always, 1_000, 2.5), f(3_500, 1, 1_000));
        assert_eq!(finish_time(&w, 5, 0.0), f(5, 0, 5));
    }
}
