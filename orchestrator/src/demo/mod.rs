//! `migrator demo`: synthetic A2 data through every step against the Altinn 3 simulator over real
//! HTTP on loopback, with faults injected, then the simulator's inventory checked against the source.

mod verify;

pub use verify::{Verification, verify};

use crate::clock::SystemClock;
use crate::dispatcher::{self, DispatcherConfig, RunReport};
use crate::generator::{Generator, GeneratorOptions};
use crate::retry::RetryPolicy;
use crate::store::StoreError;
use crate::store::{RecordInput, Store};
use altinn3_sim::{Faults, SimConfig, Simulator};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use schema::WorkflowState;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use workers::a2::A2EventBody;
use workers::a3::{A3Client, ClientConfig, Limit, PaceStats, Secret};

/// What the demo runs.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Items to generate.
    pub items: u64,
    /// Seed for data and faults.
    pub seed: u64,
    /// Faults the simulator injects.
    pub faults: Faults,
    /// Calls per second per endpoint (0 = unlimited).
    pub rate: u32,
    /// Items each step works on at once.
    pub concurrency: usize,
    /// Ids per make-available call.
    pub make_available_batch: usize,
    /// Share of invalid items.
    pub invalid_rate: f64,
    /// Share of items that get a later event.
    pub later_event_rate: f64,
    /// Draw progress bars (on a terminal).
    pub progress: bool,
    /// The bearer token the simulator requires and the client sends (a random one if None).
    pub token: Option<Secret>,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self {
            items: 10_000,
            seed: 2026,
            faults: Faults::default(),
            rate: 0,
            concurrency: 32,
            make_available_batch: 100,
            invalid_rate: 0.01,
            later_event_rate: 0.1,
            progress: true,
            token: None,
        }
    }
}

/// What the demo did and found.
#[derive(Debug, Clone, Serialize)]
pub struct DemoReport {
    /// Items generated.
    pub items: u64,
    /// Items per final state.
    pub by_state: BTreeMap<WorkflowState, u64>,
    /// Rejected items with their reasons (first 20).
    pub rejected: Vec<(i64, String)>,
    /// Seconds from the first claim to the last commit (both passes).
    pub elapsed_secs: f64,
    /// Items that reached Synced per second.
    pub items_per_sec: f64,
    /// The dispatcher's counts, first pass (migrate, make available, sync) and second (later events).
    pub runs: Vec<RunReport>,
    /// Calls the simulator saw per endpoint.
    pub calls: BTreeMap<String, u64>,
    /// The most calls per endpoint the simulator saw in any one second.
    pub max_calls_per_second: BTreeMap<String, u64>,
    /// Faults it injected.
    pub faults_injected: altinn3_sim::FaultCounts,
    /// Calls its rate limit (`--rate-limit`) refused, per endpoint.
    pub rate_limited: BTreeMap<String, u64>,
    /// Milliseconds from the first call of each endpoint to its last.
    pub active_ms: BTreeMap<String, u64>,
    /// The client's pace per endpoint at the end (learnt from the 429s).
    pub pace: BTreeMap<String, PaceStats>,
    /// The check against the source.
    pub verification: Verification,
}

/// Errors of the demo.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// Database.
    #[error(transparent)]
    Db(#[from] StoreError),
    /// The simulator or the client could not start.
    #[error("{0}")]
    Setup(String),
}

/// Runs the demo on `store`'s database (which must hold no items).
pub async fn run(
    store: Store,
    opts: DemoOptions,
    cancel: CancellationToken,
) -> Result<DemoReport, DemoError> {
    if store.status().await?.total > 0 {
        return Err(DemoError::Setup(
            "the demo needs an empty database (it uses data/demo.sqlite by default)".into(),
        ));
    }
    let policy = RetryPolicy {
        initial: Duration::from_millis(100),
        multiplier: 2.0,
        max_interval: Duration::from_secs(3),
        randomization: 0.2,
        max_attempts: 15,
        ..RetryPolicy::default()
    };
    let store = store.with_clock_and_policy(Arc::new(SystemClock), policy);
    let bars = MultiProgress::new();
    if !opts.progress {
        bars.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }

    // 1. Source data, imported as an export would be.
    let mut generator = Generator::new(GeneratorOptions {
        seed: opts.seed,
        invalid_rate: opts.invalid_rate,
        later_event_rate: opts.later_event_rate,
        ..GeneratorOptions::default()
    });
    let records: Vec<_> = (0..opts.items).map(|_| generator.record()).collect();
    let later: Vec<_> = records.iter().flat_map(|r| generator.later_events(r)).collect();
    let import = bars.add(bar(opts.items, "import"));
    for chunk in records.chunks(1000) {
        let inputs: Vec<RecordInput> =
            chunk.iter().map(|r| RecordInput { record: r.clone(), batch: "demo".into() }).collect();
        store.import_records(&inputs).await?;
        import.inc(chunk.len() as u64);
    }
    import.finish();
    store.analyze().await?;

    // 2. Altinn 3, simulated, on a loopback port; the client reaches it over real HTTP.
    let token =
        opts.token.clone().unwrap_or_else(|| Secret::new(format!("demo-{}", uuid::Uuid::now_v7().simple())));
    let sim_cfg = SimConfig {
        token: token.expose().to_string(),
        seed: opts.seed,
        faults: opts.faults.clone(),
        dialog_job: altinn3_sim::DialogJob::default(),
    };
    let sim = Simulator::start(sim_cfg, "127.0.0.1:0".parse().map_err(|e| DemoError::Setup(format!("{e}")))?)
        .await
        .map_err(|e| DemoError::Setup(format!("cannot start the simulator: {e}")))?;
    let client = A3Client::new(ClientConfig {
        base_url: sim.base_url.clone(),
        token,
        timeout: Duration::from_secs(10),
        limits: BTreeMap::new(),
        default_limit: Limit {
            per_second: opts.rate,
            burst: opts.rate.max(1),
            concurrency: opts.concurrency * 2,
        },
    })
    .map_err(|e| DemoError::Setup(e.to_string()))?;

    // 3. Every step to the end, then the later events, then their sync.
    let started = Instant::now();
    let mut runs = Vec::new();
    runs.push(dispatch(&store, &client, &opts, &bars, cancel.clone()).await?);
    let events: Vec<(i64, A2EventBody)> =
        later.iter().map(|e| (e.altinn2_correspondence_id, e.body.clone())).collect();
    store.add_events(&events).await?;
    if !cancel.is_cancelled() {
        runs.push(dispatch(&store, &client, &opts, &bars, cancel.clone()).await?);
    }
    let elapsed_secs = started.elapsed().as_secs_f64();

    // 4. The proof.
    let inventory = sim.sim.inventory();
    sim.stop().await;
    let states = store.item_states().await?;
    let verification = verify(&records, &later, generator.invalid_ids(), &inventory, &states);
    let status = store.status().await?;
    let rejected = store.errors_in_state(WorkflowState::Rejected, 20).await?;
    let synced = status.by_state.get(&WorkflowState::Synced).copied().unwrap_or(0);
    Ok(DemoReport {
        items: opts.items,
        by_state: status.by_state,
        rejected,
        elapsed_secs,
        items_per_sec: synced as f64 / elapsed_secs.max(1e-9),
        runs,
        calls: inventory.calls.clone(),
        max_calls_per_second: inventory.max_calls_per_second.clone(),
        faults_injected: inventory.faults_injected,
        rate_limited: inventory.rate_limited.clone(),
        active_ms: inventory.active_ms.clone(),
        pace: client.pace().into_iter().map(|(ep, p)| (ep.name().to_string(), p)).collect(),
        verification,
    })
}

fn bar(len: u64, name: &str) -> ProgressBar {
    let style = ProgressStyle::with_template("{prefix:>15} [{bar:40}] {pos:>7}/{len:7} {per_sec:>12} {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    ProgressBar::new(len).with_style(style).with_prefix(name.to_string())
}

/// One dispatcher run with the three A3 steps, progress drawn from the database.
async fn dispatch(
    store: &Store,
    client: &A3Client,
    opts: &DemoOptions,
    bars: &MultiProgress,
    cancel: CancellationToken,
) -> Result<RunReport, DemoError> {
    let cfg = DispatcherConfig {
        exit_when_idle: true,
        idle_poll: Duration::from_millis(50),
        lease: Duration::from_secs(30),
        claim_batch: 500,
        ..DispatcherConfig::default()
    };
    // The demo's attachments are synthetic and read no file; relative paths would resolve
    // against the working directory.
    let root = std::env::current_dir().unwrap_or_default();
    let dispatcher =
        dispatcher::a3_dispatcher(store, cfg, client, opts.concurrency, opts.make_available_batch, root);
    let total = opts.items;
    let lanes = [("migrated", 1usize), ("dialog created", 2), ("synced", 3)]
        .map(|(n, depth)| (bars.add(bar(total, n)), depth));
    let watch_store = store.clone();
    let stop = CancellationToken::new();
    let watching = stop.clone();
    let watcher = tokio::spawn(async move {
        loop {
            if let Ok(s) = watch_store.status().await {
                let n = |st: WorkflowState| s.by_state.get(&st).copied().unwrap_or(0);
                let reached = [
                    n(WorkflowState::Migrated)
                        + n(WorkflowState::DialogCreated)
                        + n(WorkflowState::Synced)
                        + n(WorkflowState::SyncPending),
                    n(WorkflowState::DialogCreated)
                        + n(WorkflowState::Synced)
                        + n(WorkflowState::SyncPending),
                    n(WorkflowState::Synced),
                ];
                for (bar, depth) in &lanes {
                    bar.set_position(reached[depth - 1]);
                    bar.set_message(format!(
                        "rejected {} failed {}",
                        n(WorkflowState::Rejected),
                        n(WorkflowState::Failed)
                    ));
                }
            }
            tokio::select! {
                _ = watching.cancelled() => break,
                _ = tokio::time::sleep(Duration::from_millis(250)) => {}
            }
        }
        for (bar, _) in &lanes {
            bar.finish();
        }
    });
    let report = dispatcher.drive(cancel).await;
    stop.cancel();
    let _ = watcher.await;
    Ok(report?)
}
