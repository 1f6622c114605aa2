//! Schedules: cron expressions in a time zone that fire actions (open a phase's window, discover
//! new export files, sweep pending sync events, rescue expired leases, prune history, report).
//!
//! This module decides *when* and claims *who*; it does not know how an action is done. **A
//! firing happens once across all nodes**: the node that inserts the `(schedule, fire_time)` row
//! hands the action to the [`ActionRunner`] it was given (the daemon's); the others see the row
//! and do nothing. A fire missed while no node was up follows the schedule's policy: skip it, or
//! fire it once late within a catch-up limit. Firings of one schedule never overlap: while one is
//! going, the next fire waits and then counts as missed.
//!
//! Each firing is recorded as a row of `schedule_runs` (what `migrator runs` lists, hence
//! [`RunRecord`], [`claim_run`], [`finish_run`]) with a typed [`Outcome`].

mod outcome;
mod scheduler;

use crate::cron::Cron;
use crate::store::{Store, StoreError};
use schema::NodeId;
use serde::Serialize;
use std::time::Duration;

pub use crate::store::RunRecord;
pub use outcome::{Outcome, UnknownOutcome, WindowCounts};
pub use scheduler::{ActionRunner, FiringHandle, Scheduler};

/// Records the start of a firing of `schedule` at `fire_time` (None if that firing is taken).
pub async fn claim_run(
    store: &Store,
    schedule: &str,
    fire_time: i64,
    node: NodeId,
) -> Result<Option<i64>, StoreError> {
    store.claim_firing(schedule, fire_time, node, None).await
}

/// Records the end of a firing (`outcome` as [`Outcome`] displays it).
pub async fn finish_run(
    store: &Store,
    id: i64,
    outcome: &str,
    counts: &serde_json::Value,
) -> Result<(), StoreError> {
    store.finish_firing(id, outcome, counts).await
}

/// Closes unfinished firings whose node stopped or has not beaten its heartbeat since
/// `alive_since` (epoch ms): their work died with the node. Returns how many.
pub async fn abandon_dead_runs(store: &Store, alive_since: i64) -> Result<u64, StoreError> {
    let outcome = Outcome::Abandoned("its node stopped before the run finished".into());
    store.abandon_dead_firings(alive_since, &outcome.to_string()).await
}

/// The latest firings, newest first, optionally of one schedule.
pub async fn list_runs(
    store: &Store,
    schedule: Option<&str>,
    limit: u64,
) -> Result<Vec<RunRecord>, StoreError> {
    store.list_runs(schedule, limit).await
}

/// A named schedule.
#[derive(Debug, Clone)]
pub struct ScheduleSpec {
    /// Name (unique; the key of its firings).
    pub name: String,
    /// When it fires.
    pub cron: Cron,
    /// What it does.
    pub action: Action,
    /// What happens to a fire no node took on time.
    pub missed: Missed,
}

/// What a schedule does when it fires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "action", content = "phase")]
pub enum Action {
    /// Record a phase's window: the work left when it opens and when it closes (what `plan`
    /// learns its measured throughput from). Lasts as long as the window.
    OpenWindow(String),
    /// Import new export files from the inbox directory, each once.
    Discover,
    /// Make Synced items with unsynced events SyncPending.
    SyncSweep,
    /// Return expired leases to the queue; close firings of nodes that died.
    Rescue,
    /// Delete history older than the retention age of finished items (keeping each item's final
    /// state and last error).
    Prune,
    /// Record item counts per state.
    Report,
}

impl Action {
    /// The config spelling.
    pub fn name(&self) -> &'static str {
        match self {
            Action::OpenWindow(_) => "open-window",
            Action::Discover => "discover",
            Action::SyncSweep => "sync-sweep",
            Action::Rescue => "rescue",
            Action::Prune => "prune",
            Action::Report => "report",
        }
    }
}

/// The policy for a fire that no node took on time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Missed {
    /// Record it as skipped; wait for the next one.
    Skip,
    /// Fire it once, late, if no more than this late (older fires are skipped).
    RunOnceLate(Duration),
}

/// The schedule name under which a phase's window firings are recorded.
pub fn window_schedule_name(phase: &str) -> String {
    format!("window:{phase}")
}

/// The schedule name under which `run --once --phase` runs are recorded.
pub fn once_schedule_name(phase: &str) -> String {
    format!("once:{phase}")
}
