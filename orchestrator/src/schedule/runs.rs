//! A schedule's firings as the scheduler sees them; the rows (`schedule_runs`) live in the store.

use crate::store::{Store, StoreError};
use schema::entity::schedule_run;

pub use crate::store::RunRecord;

/// Inserts the run row for `(schedule, fire_time)` unless it exists. Returns its id when this
/// call inserted it (this node owns the firing). `finished` closes it at once (a skip).
pub(crate) async fn claim(
    store: &Store,
    schedule: &str,
    fire_time: i64,
    node: schema::NodeId,
    finished: Option<&str>,
) -> Result<Option<i64>, StoreError> {
    store.claim_firing(schedule, fire_time, node, finished).await
}

/// Closes a run with its outcome and counts.
pub(crate) async fn finish(
    store: &Store,
    id: i64,
    outcome: &str,
    counts: &serde_json::Value,
) -> Result<(), StoreError> {
    store.finish_firing(id, outcome, counts).await
}

/// The latest fire time recorded for `schedule`.
pub(crate) async fn last_fire(store: &Store, schedule: &str) -> Result<Option<i64>, StoreError> {
    store.last_fire(schedule).await
}

/// Unfinished runs of `schedule`.
pub(crate) async fn running(store: &Store, schedule: &str) -> Result<Vec<schedule_run::Model>, StoreError> {
    store.running_firings(schedule).await
}

/// Closes unfinished runs whose node stopped or has not beaten its heartbeat since `alive_since`.
pub(crate) async fn abandon_dead(store: &Store, alive_since: i64) -> Result<u64, StoreError> {
    let outcome = super::Outcome::Abandoned("its node stopped before the run finished".into());
    store.abandon_dead_firings(alive_since, &outcome.to_string()).await
}

/// The latest runs, newest first, optionally of one schedule.
pub async fn list(store: &Store, schedule: Option<&str>, limit: u64) -> Result<Vec<RunRecord>, StoreError> {
    store.list_runs(schedule, limit).await
}
