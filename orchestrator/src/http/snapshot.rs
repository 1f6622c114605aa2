//! What is too costly to compute per request, computed in the background: each phase's plan
//! (its items by state, what remains, the estimate), which counts over the phase's selection of
//! `workflows`. Requests read the latest snapshot and say how old it is; `/metrics` and the
//! overview never wait for a count.

use super::App;
use crate::phase::plan::{PhasePlan, plan_phase};
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
    /// Why the last refresh failed, if it did (the plans are then the previous ones).
    pub(crate) error: Option<String>,
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
            Ok(phases) => {
                let computed_at = app.store.clock().now_ms();
                app.snapshot.set(PhasesView { computed_at, took_ms, phases, error: None });
            }
            Err(e) => {
                tracing::warn!(error = %e, "phase snapshot failed; keeping the previous one");
                let mut view = app.snapshot.phases().map(|v| (*v).clone()).unwrap_or(PhasesView {
                    computed_at: 0,
                    took_ms,
                    phases: Vec::new(),
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

async fn compute(app: &App) -> Result<Vec<PhasePlan>, crate::store::StoreError> {
    let paused = app.store.paused_phases().await?;
    let mut out = Vec::with_capacity(app.phases.len());
    for p in &app.phases {
        out.push(plan_phase(&app.store, p, paused.contains(&p.name), app.tz).await?);
    }
    Ok(out)
}

impl App {
    /// Asks the snapshot to refresh now (after a phase was paused or resumed here).
    pub(crate) fn refresh_soon(&self) {
        self.wake.notify_one();
    }
}
