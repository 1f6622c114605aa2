//! `/metrics`: the `metrics` crate's global recorder, rendered by `metrics-exporter-prometheus`.
//! What the engine counts (transitions, A3 requests, leases lost, …) is recorded where it
//! happens; what the database knows (items by state and by phase, windows, every node's
//! heartbeat) is set here on each scrape from the store's counters and the phase snapshot, so
//! every server of a database reports the same, and no scrape scans `workflows`.

use super::App;
use super::problem::Problem;
use crate::phase::WindowState;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;

/// The process's recorder handle (one recorder per process, however many servers).
static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Latency buckets (seconds) for every `_seconds` histogram: from a 1 ms local call to a 30 s
/// timeout.
const BUCKETS: [f64; 14] =
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// Installs the global recorder once; later calls keep the first.
pub(super) fn install() {
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &BUCKETS)
            .expect("the bucket list is not empty");
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was installed already; /metrics shows only this server's own");
        }
        crate::telemetry::describe();
        handle
    });
}

/// `GET /metrics`.
pub(super) async fn metrics(State(app): State<App>) -> Result<impl IntoResponse, Problem> {
    let Some(handle) = HANDLE.get() else {
        return Err(Problem::new(axum::http::StatusCode::SERVICE_UNAVAILABLE, "no recorder installed"));
    };
    database_gauges(&app).await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], handle.render()))
}

/// Sets the gauges that come from the database and the phase snapshot.
async fn database_gauges(app: &App) -> Result<(), Problem> {
    for (state, n) in app.store.state_counts().await? {
        metrics::gauge!("migrator_items", "state" => state.as_str()).set(n as f64);
    }
    let now = app.store.clock().now_ms();
    for node in app.store.nodes(24 * 3600 * 1000, 1000).await? {
        if node.stopped_at.is_some() {
            continue;
        }
        let age = (now - node.last_heartbeat).max(0) as f64 / 1000.0;
        metrics::gauge!("migrator_node_heartbeat_age_seconds", "node" => node.id.to_string()).set(age);
    }
    if let Some(view) = app.snapshot.phases() {
        for plan in &view.phases {
            for (state, n) in &plan.by_state {
                metrics::gauge!("migrator_phase_items", "phase" => plan.phase.clone(), "state" => state.as_str())
                    .set(*n as f64);
            }
            let open = !plan.paused && matches!(plan.window_now, WindowState::Open(_));
            metrics::gauge!("migrator_phase_window_open", "phase" => plan.phase.clone())
                .set(f64::from(u8::from(open)));
        }
        metrics::gauge!("migrator_phase_snapshot_timestamp_seconds").set(view.computed_at as f64 / 1000.0);
    }
    Ok(())
}
