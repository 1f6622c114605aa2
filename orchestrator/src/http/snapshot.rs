//! What is too costly to compute per request, computed in the background: each phase's plan
//! (its items by state, what remains, the estimate), which counts over the phase's selection of
//! `workflows`, and the overview's stuck count and largest failure groups, which look at the
//! rows themselves. Requests read the latest snapshot and say how old it is; `/metrics` and the
//! overview never wait for a scan.
//!
//! On SQLite the snapshot reads through its own read-only connection (WAL lets it read beside
//! the writer), so a long count never queues the requests and the engine behind it on the one
//! writing connection.

use super::App;
use crate::phase::plan::{PhasePlan, plan_phase};
use crate::store::{Failures, Selection};
use serde::Serialize;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The latest phase plans.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PhasesView {
    /// When they were computed (epoch ms).
    pub(crate) computed_at: i64,
    /// How long computing them took (ms).
    pub(crate) took_ms: u64,
    /// One per configured phase, in name order.
    pub(crate) phases: Vec<PhasePlan>,
    /// Items whose lease expired or that have not moved for [`STALLED_MS`].
    pub(crate) stalled: u64,
    /// The largest failure groups (up to [`GROUPS`]), without samples.
    pub(crate) failures: Failures,
    /// Why the last refresh failed, if it did (the values are then the previous ones).
    pub(crate) error: Option<String>,
}

/// What the overview counts as not moving.
pub(crate) const STALLED_MS: i64 = 10 * 60 * 1000;

/// Failure groups the snapshot keeps.
const GROUPS: usize = 20;

/// What one refresh computes.
struct Computed {
    phases: Vec<PhasePlan>,
    stalled: u64,
    failures: Failures,
}

/// The shared, swappable snapshot.
#[derive(Default)]
pub(crate) struct Snapshot(RwLock<Option<Arc<PhasesView>>>);

impl Snapshot {
    /// The latest view, None before the first one is done.
    pub(crate) fn phases(&self) -> Option<Arc<PhasesView>> {
        self.0.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    fn set(&self, view: PhasesView) {
        *self.0.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Arc::new(view));
    }
}

/// Recomputes the plans every `every` until `cancel`, and at once after an operator changed a
/// phase (see [`App::refresh_soon`]).
pub(crate) async fn refresh(app: App, every: Duration, cancel: CancellationToken) {
    loop {
        let started = std::time::Instant::now();
        let view = compute(&app).await;
        let took_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        match view {
            Ok(Computed { phases, stalled, failures }) => {
                let computed_at = app.store.clock().now_ms();
                app.snapshot.set(PhasesView { computed_at, took_ms, phases, stalled, failures, error: None });
            }
            Err(e) => {
                tracing::warn!(error = %e, "phase snapshot failed; keeping the previous one");
                let mut view = app.snapshot.phases().map(|v| (*v).clone()).unwrap_or(PhasesView {
                    computed_at: 0,
                    took_ms,
                    phases: Vec::new(),
                    stalled: 0,
                    failures: Failures::default(),
                    error: None,
                });
                view.error = Some(e.to_string());
                app.snapshot.set(view);
            }
        }
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(every) => {}
            () = app.wake.notified() => {}
        }
    }
}

async fn compute(app: &App) -> Result<Computed, crate::store::StoreError> {
    let store = &app.reader;
    let paused = store.paused_phases().await?;
    let mut phases = Vec::with_capacity(app.phases.len());
    for p in &app.phases {
        phases.push(plan_phase(store, p, paused.contains(&p.name), app.tz).await?);
    }
    let (stalled, _) = store.count_stuck(STALLED_MS).await?;
    let failures = store.failure_groups(&Selection::all(), None, Some(GROUPS)).await?;
    Ok(Computed { phases, stalled, failures })
}

impl App {
    /// Asks the snapshot to refresh now (after a phase was paused or resumed here).
    pub(crate) fn refresh_soon(&self) {
        self.wake.notify_one();
    }
}
