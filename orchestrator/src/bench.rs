//! `migrator bench`: N items through the three steps with in-process no-op steps, measuring the
//! engine itself (claim, commit, history) on the chosen database.

use crate::dispatcher::{Dispatcher, DispatcherConfig, RunReport};
use crate::store::StoreError;
use crate::store::{NewItem, Store};
use serde::Serialize;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use workers::StepKind;
use workers::noop::NoopStep;

/// The import batch label bench items carry; bench only ever deletes rows of this batch.
pub const BENCH_BATCH: &str = "bench";

/// What to run.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Items to enqueue.
    pub items: u64,
    /// Time each step takes per item.
    pub step_delay: Duration,
    /// Concurrent items per step.
    pub concurrency: usize,
    /// Keep existing bench items and just finish them (after a crash).
    pub resume: bool,
    /// Dispatcher settings.
    pub dispatcher: DispatcherConfig,
}

/// What was measured.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// Items enqueued by this run.
    pub enqueued: u64,
    /// Seconds spent enqueueing.
    pub enqueue_secs: f64,
    /// The dispatcher's report.
    pub run: RunReport,
    /// Seconds spent dispatching.
    pub run_secs: f64,
    /// Items that reached Synced per second of dispatching.
    pub items_per_sec: f64,
    /// Transitions committed per second.
    pub transitions_per_sec: f64,
    /// Peak resident set size of this process, in MiB.
    pub peak_rss_mib: f64,
    /// Bench items now in Synced.
    pub synced: u64,
}

/// Errors of the bench command.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The database holds items that are not bench items.
    #[error("the database holds {0} items outside the `bench` batch; run bench on its own database")]
    NotABenchDatabase(u64),
    /// A database error.
    #[error(transparent)]
    Db(#[from] StoreError),
}

/// Enqueues (unless resuming) and runs the items to the end, or until `cancel`.
pub async fn run(
    store: Store,
    opts: BenchOptions,
    cancel: CancellationToken,
) -> Result<BenchReport, BenchError> {
    let mut enqueued = 0;
    let enqueue_started = Instant::now();
    if !opts.resume {
        enqueued = enqueue(&store, opts.items).await?;
    }
    let enqueue_secs = enqueue_started.elapsed().as_secs_f64();

    let mut cfg = opts.dispatcher.clone();
    cfg.exit_when_idle = true;
    let mut dispatcher = Dispatcher::new(store.clone(), cfg);
    for kind in StepKind::ALL {
        dispatcher = dispatcher.with_step(Arc::new(NoopStep::new(kind, opts.step_delay)), opts.concurrency);
    }
    let started = Instant::now();
    let report = dispatcher.drive(cancel).await?;
    let run_secs = started.elapsed().as_secs_f64();
    // Past the shutdown deadline the database is not answering: nothing more to ask it.
    let synced = if report.cut_short {
        0
    } else {
        store.status().await?.by_state.get(&schema::WorkflowState::Synced).copied().unwrap_or(0)
    };
    Ok(BenchReport {
        enqueued,
        enqueue_secs,
        items_per_sec: (report.transitions as f64 / 3.0) / run_secs.max(1e-9),
        transitions_per_sec: report.transitions as f64 / run_secs.max(1e-9),
        run: report,
        run_secs,
        peak_rss_mib: peak_rss_mib(),
        synced,
    })
}

/// Empties the bench batch and enqueues `items` new bench items (refusing a database that holds
/// other items). Returns how many were enqueued.
pub async fn enqueue(store: &Store, items: u64) -> Result<u64, BenchError> {
    let status = store.status().await?;
    let foreign = status.total - status.by_batch.get(BENCH_BATCH).map(|b| b.values().sum()).unwrap_or(0);
    if foreign > 0 {
        return Err(BenchError::NotABenchDatabase(foreign));
    }
    store.delete_batch(BENCH_BATCH).await?;
    let items = i64::try_from(items).unwrap_or(i64::MAX);
    let mut enqueued = 0;
    let mut next = 1i64;
    while next <= items {
        let end = (next + 50_000).min(items + 1);
        let batch: Vec<NewItem> = (next..end).map(|a2_id| NewItem::new(a2_id, BENCH_BATCH)).collect();
        enqueued += store.insert_items(&batch).await? as u64;
        next = end;
    }
    store.analyze().await?;
    Ok(enqueued)
}

/// Peak resident set size (VmHWM) of this process in MiB; 0 where /proc is not available.
pub fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}
