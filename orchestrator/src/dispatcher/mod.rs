//! The dispatcher: claims due items in batches under a lease, runs each through its step with
//! bounded concurrency per step, and hands outcomes to the batching writer. Keeps the claim loop
//! fed (it claims again as soon as there is room), beats the node's heartbeat (which also extends
//! its leases) and shuts down gracefully: stop claiming, finish or release in-flight items, flush.

mod writer;

use crate::node;
use crate::phase::{self, Phase};
use crate::state_machine::{Event, Facts, Transition, decide};
use crate::store::{Applied, ClaimOrder, Selection, Store};
use futures::FutureExt;
use schema::WorkflowState;
use std::collections::HashSet;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use uuid::Uuid;
use workers::{Step, StepOutcome, WorkItem};

/// How the dispatcher behaves.
#[derive(Debug, Clone)]
pub struct DispatcherConfig {
    /// Items per claim.
    pub claim_batch: usize,
    /// Lease length; the heartbeat renews it every third of it.
    pub lease: Duration,
    /// Outcomes per commit.
    pub write_batch: usize,
    /// How long the writer waits to fill a batch.
    pub write_linger: Duration,
    /// Sleep between claims when nothing is due.
    pub idle_poll: Duration,
    /// How long in-flight items may take to finish after a shutdown signal.
    pub shutdown_grace: Duration,
    /// Longest a step may take for one item before it counts as a retryable failure. Steps set
    /// their own I/O timeouts; this is the backstop that keeps a hung step from holding its lease
    /// (which the heartbeat would otherwise renew) for ever.
    pub step_timeout: Duration,
    /// Return once no item is in a runnable state (bench, `run --once`); otherwise run until cancelled.
    pub exit_when_idle: bool,
}

impl Default for DispatcherConfig {
    fn default() -> Self {
        Self {
            claim_batch: 500,
            lease: Duration::from_secs(60),
            write_batch: 1000,
            write_linger: Duration::from_millis(5),
            idle_poll: Duration::from_millis(250),
            shutdown_grace: Duration::from_secs(3),
            step_timeout: Duration::from_secs(300),
            exit_when_idle: false,
        }
    }
}

/// Counters, shared with the writer.
#[derive(Debug, Default)]
pub struct Stats {
    /// Items claimed.
    pub claimed: AtomicU64,
    /// Transitions committed.
    pub transitions: AtomicU64,
    /// Of those, retries scheduled.
    pub retries: AtomicU64,
    /// Of those, items failed.
    pub failed: AtomicU64,
    /// Of those, items rejected.
    pub rejected: AtomicU64,
    /// Results dropped because the lease was lost (fencing).
    pub lease_lost: AtomicU64,
    /// Commit attempts that failed.
    pub commit_errors: AtomicU64,
    /// Claim cycles begun (one pass over every lane).
    pub cycles: AtomicU64,
}

impl Stats {
    fn count(&self, t: &Transition) {
        self.transitions.fetch_add(1, Ordering::Relaxed);
        let counter = match t.to {
            WorkflowState::Failed => &self.failed,
            WorkflowState::Rejected => &self.rejected,
            s if s == t.from => &self.retries,
            _ => return,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RunReport {
    /// This node's id.
    pub node: Uuid,
    /// Items claimed.
    pub claimed: u64,
    /// Transitions committed.
    pub transitions: u64,
    /// Retries scheduled.
    pub retries: u64,
    /// Items failed.
    pub failed: u64,
    /// Items rejected.
    pub rejected: u64,
    /// Results dropped on a lost lease.
    pub lease_lost: u64,
    /// Leases released at shutdown (items that did not finish in the grace period).
    pub released: u64,
    /// Wall time in milliseconds.
    pub elapsed_ms: u64,
    /// True if the run ended on a signal rather than running out of work.
    pub interrupted: bool,
}

/// A step with its concurrency limit and its share of in-flight room; for a phase, one of its
/// steps with the phase's selection, order, window and rate.
#[derive(Clone)]
struct Lane {
    step: Arc<dyn Step>,
    /// Items running the step at once (shared by a phase's steps).
    slots: Arc<Semaphore>,
    /// Items claimed for this lane and not yet committed: the concurrency plus one claim batch,
    /// so the lane never waits on the database for its next item.
    room: Arc<Semaphore>,
    capacity: usize,
    /// The phase this lane works for (None: every item, always).
    phase: Option<Arc<Phase>>,
    /// The phase's rate for this step.
    limiter: Option<Arc<governor::DefaultDirectRateLimiter>>,
    /// False while the phase is paused or its window closed: the feeder then starts nothing
    /// more and hands back what it holds.
    open: Arc<AtomicBool>,
}

impl Lane {
    fn selection(&self) -> (&Selection, ClaimOrder) {
        static ALL: std::sync::OnceLock<Selection> = std::sync::OnceLock::new();
        match &self.phase {
            Some(p) => (&p.selection, p.order),
            None => (ALL.get_or_init(Selection::all), ClaimOrder::Due),
        }
    }
}

/// Claims and runs items until cancelled (or, with `exit_when_idle`, until no work is left).
pub struct Dispatcher {
    store: Store,
    cfg: DispatcherConfig,
    lanes: Vec<Lane>,
    phases: Vec<Phase>,
    node: Option<Uuid>,
    stats: Arc<Stats>,
}

impl Dispatcher {
    /// A dispatcher with no steps yet.
    pub fn new(store: Store, cfg: DispatcherConfig) -> Self {
        Self { store, cfg, lanes: Vec::new(), phases: Vec::new(), node: None, stats: Arc::default() }
    }

    /// Works only for these phases: each of a phase's steps gets its own lane that claims the
    /// phase's items in its order, while its window is open and it is not paused, at its rate,
    /// with its concurrency. Without phases every item is worked on, always.
    pub fn with_phases(mut self, phases: Vec<Phase>) -> Self {
        self.phases = phases;
        self
    }

    /// Runs as `node` (registered and stopped by the caller, who shares it with the scheduler).
    pub fn with_node(mut self, node: Uuid) -> Self {
        self.node = Some(node);
        self
    }

    /// The lanes of a run: one per step, or one per (phase, step).
    fn run_lanes(&self) -> Vec<Lane> {
        if self.phases.is_empty() {
            return self.lanes.clone();
        }
        let mut out = Vec::new();
        for phase in &self.phases {
            let shared = Arc::new(phase.clone());
            let slots = Arc::new(Semaphore::new(phase.concurrency.max(1)));
            for kind in &phase.steps {
                let Some(base) = self.lanes.iter().find(|l| l.step.kind() == *kind) else {
                    tracing::warn!(phase = %phase.name, step = %kind, "no worker for this step; the phase will not advance it");
                    continue;
                };
                // A rated lane claims about two seconds of work ahead, so a pause or a closing
                // window is not followed by a long tail of prefetched items.
                let ahead = phase
                    .rate
                    .map(|r| ((r * 2.0).ceil() as usize).max(1))
                    .unwrap_or(self.cfg.claim_batch)
                    .min(self.cfg.claim_batch);
                let limiter = phase.rate.and_then(|r| {
                    let burst = NonZeroU32::new((r.ceil() as u32).max(1))?;
                    let quota =
                        governor::Quota::with_period(Duration::from_secs_f64(1.0 / r))?.allow_burst(burst);
                    Some(Arc::new(governor::RateLimiter::direct(quota)))
                });
                let capacity = phase.concurrency.max(1) + ahead;
                out.push(Lane {
                    step: base.step.clone(),
                    slots: slots.clone(),
                    room: Arc::new(Semaphore::new(capacity)),
                    capacity,
                    phase: Some(shared.clone()),
                    limiter,
                    open: Arc::new(AtomicBool::new(true)),
                });
            }
        }
        out
    }

    /// Items the run still has to do (whenever due): for phases, the items in their selections
    /// in states their steps advance.
    async fn remaining(&self) -> Result<u64, sea_orm::DbErr> {
        if self.phases.is_empty() {
            return self.store.count_runnable().await;
        }
        let mut n = 0;
        for p in &self.phases {
            n += self.store.count_waiting(&p.selection, &p.states()).await?;
        }
        Ok(n)
    }

    /// Adds a step that may run `concurrency` items at once.
    pub fn with_step(mut self, step: Arc<dyn Step>, concurrency: usize) -> Self {
        let concurrency = concurrency.max(1);
        let capacity = concurrency + self.cfg.claim_batch;
        self.lanes.retain(|l| l.step.kind() != step.kind());
        self.lanes.push(Lane {
            step,
            slots: Arc::new(Semaphore::new(concurrency)),
            room: Arc::new(Semaphore::new(capacity)),
            capacity,
            phase: None,
            limiter: None,
            open: Arc::new(AtomicBool::new(true)),
        });
        self
    }

    /// Live counters.
    pub fn stats(&self) -> Arc<Stats> {
        self.stats.clone()
    }

    /// Runs until `cancel` fires or, with `exit_when_idle`, no runnable item is left.
    pub async fn run(self, cancel: CancellationToken) -> Result<RunReport, sea_orm::DbErr> {
        let started = Instant::now();
        let own_node = self.node.is_none();
        let node = match self.node {
            Some(n) => n,
            None => node::register(&self.store).await?,
        };
        tracing::info!(%node, phases = self.phases.len(), "dispatcher started");
        let lanes = self.run_lanes();
        let total_room: usize = lanes.iter().map(|l| l.capacity).sum();
        let wake = Arc::new(Notify::new());
        let (tx, rx) = mpsc::channel(total_room.max(1));
        let writer_cfg =
            writer::WriterConfig { max_batch: self.cfg.write_batch, linger: self.cfg.write_linger };
        let writer = tokio::spawn(writer::run(
            self.store.clone(),
            node,
            rx,
            writer_cfg,
            self.stats.clone(),
            wake.clone(),
            cancel.clone(),
        ));
        let heartbeat_stop = CancellationToken::new();
        let heartbeat =
            tokio::spawn(heartbeat(self.store.clone(), node, self.cfg.lease, heartbeat_stop.clone()));

        // One feeder per lane starts its items in the order they were claimed (newest-first
        // phases rely on it).
        let run = Run {
            store: self.store.clone(),
            node,
            out: tx.clone(),
            stopping: cancel.clone(),
            grace: self.cfg.shutdown_grace,
            policy: *self.store.policy(),
            timeout: self.cfg.step_timeout,
        };
        let mut feeds = Vec::new();
        let mut feeders = Vec::new();
        for lane in &lanes {
            let (feed_tx, feed_rx) = mpsc::unbounded_channel();
            feeds.push(feed_tx);
            feeders.push(tokio::spawn(feed(lane.clone(), feed_rx, run.clone())));
        }
        drop(run);
        let mut interrupted = false;
        loop {
            if cancel.is_cancelled() {
                interrupted = true;
                break;
            }
            self.stats.cycles.fetch_add(1, Ordering::Relaxed);
            // Pauses are read on every cycle, so one takes effect on every node within a cycle.
            let paused: HashSet<String> = if self.phases.is_empty() {
                HashSet::new()
            } else {
                match phase::paused(&self.store).await {
                    Ok(p) => p,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot read phase pauses; claiming nothing this cycle");
                        self.phases.iter().map(|p| p.name.clone()).collect()
                    }
                }
            };
            let now = self.store.clock().now_ms();
            let mut claimed = 0;
            for (lane, feed) in lanes.iter().zip(&feeds) {
                if let Some(p) = &lane.phase {
                    let open = !paused.contains(&p.name) && p.window.is_open(now);
                    lane.open.store(open, Ordering::Relaxed);
                    if !open {
                        continue;
                    }
                }
                let free = lane.room.available_permits();
                let want = self.cfg.claim_batch.min(free);
                // Wait for room rather than claim a trickle.
                if want == 0 || want < self.cfg.claim_batch.min(lane.capacity) / 4 {
                    continue;
                }
                let (selection, order) = lane.selection();
                let states = lane.step.kind().states();
                let items =
                    match self.store.claim_any_in(node, self.cfg.lease, want, states, selection, order).await
                    {
                        Ok(items) => items,
                        Err(e) => {
                            tracing::warn!(error = %e, step = %lane.step.kind(), "claim failed; retrying");
                            continue;
                        }
                    };
                tracing::debug!(step = %lane.step.kind(), items = items.len(), "claimed");
                claimed += items.len();
                let mut items = items;
                if let Err(e) = self.store.load_inputs(&mut items, lane.step.inputs()).await {
                    // The leases expire and the items come back; nothing is run without its inputs.
                    tracing::warn!(error = %e, step = %lane.step.kind(), "loading inputs failed; releasing the claim");
                    let ids: Vec<Uuid> = items.iter().map(|i| i.id).collect();
                    if let Err(e) = self.store.release_items(node, &ids).await {
                        tracing::warn!(error = %e, "release failed; the leases expire after the node stops");
                    }
                    continue;
                }
                for item in items {
                    let Ok(permit) = lane.room.clone().try_acquire_owned() else {
                        unreachable!("claimed no more than the lane's free room");
                    };
                    // A closed feed means its feeder stopped (shutdown); the lease is released below.
                    let _ = feed.send((item, permit));
                }
            }
            self.stats.claimed.fetch_add(claimed as u64, Ordering::Relaxed);
            if claimed > 0 {
                continue;
            }
            if self.cfg.exit_when_idle && lanes.iter().all(|l| l.room.available_permits() == l.capacity) {
                match self.remaining().await {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "cannot count remaining work; retrying"),
                }
            }
            tokio::select! {
                _ = wake.notified() => {}
                _ = cancel.cancelled() => {}
                _ = tokio::time::sleep(self.cfg.idle_poll) => {}
            }
        }
        drop(tx);

        // Feeders finish their items (on a signal: within the grace period, then they abandon the
        // rest, whose leases are released below so another node or the next start takes them).
        drop(feeds);
        for f in feeders {
            let _ = f.await;
        }
        if let Err(e) = writer.await {
            tracing::error!(error = %e, "writer task failed");
        }
        heartbeat_stop.cancel();
        let _ = heartbeat.await;
        let released = self.store.release(node).await?;
        if own_node {
            node::stopped(&self.store, node).await?;
        }
        let s = &self.stats;
        let report = RunReport {
            node,
            claimed: s.claimed.load(Ordering::Relaxed),
            transitions: s.transitions.load(Ordering::Relaxed),
            retries: s.retries.load(Ordering::Relaxed),
            failed: s.failed.load(Ordering::Relaxed),
            rejected: s.rejected.load(Ordering::Relaxed),
            lease_lost: s.lease_lost.load(Ordering::Relaxed),
            released,
            elapsed_ms: started.elapsed().as_millis() as u64,
            interrupted,
        };
        tracing::info!(?report, "dispatcher stopped");
        Ok(report)
    }
}

/// What every item task of a run shares.
#[derive(Clone)]
struct Run {
    store: Store,
    node: Uuid,
    out: mpsc::Sender<writer::Finished>,
    stopping: CancellationToken,
    grace: Duration,
    policy: crate::retry::RetryPolicy,
    timeout: Duration,
}

/// A claimed item and its share of the lane's room (held until its outcome is committed).
type Fed = (WorkItem, tokio::sync::OwnedSemaphorePermit);

/// Starts a lane's items one after another as slots (and the phase's rate) allow, each in its
/// own task, in the order they were claimed. On a signal it stops starting items and gives the
/// running ones the grace period.
async fn feed(lane: Lane, mut rx: mpsc::UnboundedReceiver<Fed>, run: Run) {
    let mut tasks = JoinSet::new();
    loop {
        while tasks.try_join_next().is_some() {}
        // Shutdown wins every race: nothing new starts once it began. Items not started keep
        // their lease until the run releases it.
        let next = tokio::select! {
            biased;
            _ = run.stopping.cancelled() => None,
            next = rx.recv() => next,
        };
        let Some((item, room)) = next else { break };
        let slot = tokio::select! {
            biased;
            _ = run.stopping.cancelled() => break,
            slot = lane.slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
        };
        if let Some(limiter) = &lane.limiter {
            tokio::select! {
                biased;
                _ = run.stopping.cancelled() => break,
                _ = limiter.until_ready() => {}
            }
        }
        // Paused or window closed since the claim: hand back this item and the queued ones at
        // once, so another phase or the next window takes them.
        if !lane.open.load(Ordering::Relaxed) {
            let mut back = vec![item.id];
            while let Ok((queued, _room)) = rx.try_recv() {
                back.push(queued.id);
            }
            drop((room, slot));
            if let Err(e) = run.store.release_items(run.node, &back).await {
                tracing::warn!(error = %e, "cannot release items; their leases expire");
            }
            continue;
        }
        let span =
            tracing::info_span!("item", workflow = %item.id, a2_id = item.a2_id, step = %lane.step.kind());
        tasks.spawn(run_item(lane.step.clone(), item, room, slot, run.clone()).instrument(span));
    }
    if run.stopping.is_cancelled() && !tasks.is_empty() {
        let grace = tokio::time::sleep(run.grace);
        tokio::pin!(grace);
        loop {
            tokio::select! {
                next = tasks.join_next() => if next.is_none() { break },
                _ = &mut grace => {
                    tracing::warn!(abandoned = tasks.len(), "grace period over; releasing unfinished items");
                    tasks.abort_all();
                    break;
                }
            }
        }
    }
    while tasks.join_next().await.is_some() {}
}

/// Runs one item's step; the outcome goes to the writer.
async fn run_item(
    step: Arc<dyn Step>,
    item: WorkItem,
    room: tokio::sync::OwnedSemaphorePermit,
    slot: tokio::sync::OwnedSemaphorePermit,
    run: Run,
) {
    let guarded = std::panic::AssertUnwindSafe(step.run(&item)).catch_unwind();
    let outcome = match tokio::time::timeout(run.timeout, guarded).await {
        Ok(Ok(outcome)) => outcome,
        // A bug in a step must not leave the item leased (and renewed) for ever.
        Ok(Err(panic)) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            tracing::error!(panic = %what, "step panicked");
            StepOutcome::Permanent(format!("step panicked: {what}"))
        }
        Err(_) => StepOutcome::Retryable(format!(
            "step timed out after {}",
            humantime::format_duration(run.timeout)
        )),
    };
    drop(slot);
    if let Some(applied) = decide_outcome(&item, outcome, &run.policy) {
        let _ = run.out.send(writer::Finished { applied, _slot: room }).await;
    }
}

/// The state machine's decision for a finished step, as a row to apply.
fn decide_outcome(
    item: &WorkItem,
    outcome: StepOutcome,
    policy: &crate::retry::RetryPolicy,
) -> Option<Applied> {
    let (a3, dialog, synced_events) = match &outcome {
        StepOutcome::Done { a3_correspondence_id, dialog_id, synced_events } => {
            (*a3_correspondence_id, *dialog_id, synced_events.clone())
        }
        _ => (None, None, Vec::new()),
    };
    let facts = Facts::new(item.state, item.attempt, None, policy)
        .after_error(item.last_error.as_deref(), item.same_error_count);
    match decide(facts, &Event::Step(outcome)) {
        Ok(transition) => {
            if let Some(e) = &transition.error {
                tracing::info!(error = %e, to = %transition.to, "step did not succeed");
            }
            Some(Applied {
                id: item.id,
                a2_id: item.a2_id,
                transition,
                a3_correspondence_id: a3,
                dialog_id: dialog,
                synced_events,
            })
        }
        Err(e) => {
            tracing::error!(error = %e, "claimed item cannot take its step's outcome");
            None
        }
    }
}

/// Beats the node's heartbeat and extends its leases, every third of the lease.
async fn heartbeat(store: Store, node: Uuid, lease: Duration, stop: CancellationToken) {
    let mut tick = tokio::time::interval(lease / 3);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        if let Err(e) = node::beat(&store, node).await {
            tracing::warn!(error = %e, "heartbeat failed");
        }
        if let Err(e) = store.renew(node, lease).await {
            tracing::warn!(error = %e, "lease renewal failed");
        }
    }
}
