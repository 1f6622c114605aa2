//! The dispatcher: claims due items in batches under a lease, runs each through its step with
//! bounded concurrency per step, and hands outcomes to the batching writer. Keeps the claim loop
//! fed (it claims again as soon as there is room), beats the node's heartbeat (which also extends
//! its leases) and shuts down gracefully: stop claiming, finish or release in-flight items, flush.
//!
//! This file holds the [`Dispatcher`] and its claim loop; the parts it drives each have a file:
//! `lane` (what is claimed for, and how much), `feeder` (starting claimed items in order
//! within the lane's limits), `credentials` (the pause while Altinn 3 refuses our token),
//! `heartbeat` (liveness and lease renewal), `writer` (batched commits), and [`a3`] (the
//! production dispatcher with the Altinn 3 steps).

pub mod a3;
mod chain;
mod credentials;
mod feeder;
mod health;
mod heartbeat;
mod held;
mod lane;
mod report;
mod writer;

pub use a3::a3_dispatcher;
pub use credentials::OnResume;
pub use report::{RunReport, Stats};

use crate::node;
use crate::phase::Phase;

use crate::store::Store;
use feeder::Fed;
use lane::Lane;
use schema::NodeId;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;
use workers::Step;

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
    /// After the grace, how long flushing outcomes and releasing leases may take. A database
    /// that does not answer cannot keep a stopping node alive: past this, it exits and its
    /// leases lapse on their own.
    pub shutdown_deadline: Duration,
    /// Longest a step may take for one item before it counts as a retryable failure. Steps set
    /// their own I/O timeouts; this is the backstop that keeps a hung step from holding its lease
    /// (which the heartbeat would otherwise renew) for ever.
    pub step_timeout: Duration,
    /// How often the node says it is alive and frees the leases of dead nodes.
    pub heartbeat: Duration,
    /// A node silent this long is dead: the heartbeat frees its leases, so its items are taken
    /// again within seconds of a crash instead of a whole lease later.
    pub dead_after: Duration,
    /// Return once no item is in a runnable state (bench, `run --once`); otherwise run until cancelled.
    /// Such a run also returns at the first refusal of our credentials by Altinn 3.
    pub exit_when_idle: bool,
    /// How long the daemon holds off Altinn 3 work after A3 refused our credentials (401/403),
    /// before it tries one item again.
    pub credentials_pause: Duration,
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
            shutdown_deadline: Duration::from_secs(10),
            step_timeout: Duration::from_secs(300),
            heartbeat: Duration::from_secs(2),
            dead_after: Duration::from_secs(6),
            exit_when_idle: false,
            credentials_pause: Duration::from_secs(60),
        }
    }
}

/// Claims and runs items until cancelled (or, with `exit_when_idle`, until no work is left).
pub struct Dispatcher {
    store: Store,
    cfg: DispatcherConfig,
    lanes: Vec<Lane>,
    phases: Vec<Phase>,
    node: Option<NodeId>,
    stats: Arc<Stats>,
    on_resume: Option<OnResume>,
}

impl Dispatcher {
    /// A dispatcher with no steps yet.
    pub fn new(store: Store, cfg: DispatcherConfig) -> Self {
        Self {
            store,
            cfg,
            lanes: Vec::new(),
            phases: Vec::new(),
            node: None,
            stats: Arc::default(),
            on_resume: None,
        }
    }

    /// Works only for these phases: each of a phase's steps gets its own lane that claims the
    /// phase's items in its order, while its window is open and it is not paused, at its rate,
    /// with its concurrency. Without phases every item is worked on, always.
    pub fn with_phases(mut self, phases: Vec<Phase>) -> Self {
        self.phases = phases;
        self
    }

    /// Runs as `node` (registered and stopped by the caller, who shares it with the scheduler).
    pub fn with_node(mut self, node: NodeId) -> Self {
        self.node = Some(node);
        self
    }

    /// Calls `hook` each time a pause for refused credentials ends, before one item is tried
    /// again (the daemon re-reads `altinn3.token_file` in it).
    pub fn on_credentials_resume(mut self, hook: OnResume) -> Self {
        self.on_resume = Some(hook);
        self
    }

    /// Adds a step that may run `concurrency` items at once.
    pub fn with_step(mut self, step: Arc<dyn Step>, concurrency: usize) -> Self {
        self.lanes.retain(|l| l.step.kind() != step.kind());
        self.lanes.push(Lane::unphased(step, concurrency, self.cfg.claim_batch));
        self
    }

    /// Live counters.
    pub fn stats(&self) -> Arc<Stats> {
        self.stats.clone()
    }

    /// Items the run still has to do (whenever due): for phases, the items in their selections
    /// in states their steps advance.
    async fn remaining(&self) -> Result<u64, crate::store::StoreError> {
        if self.phases.is_empty() {
            return self.store.count_runnable().await;
        }
        let mut n = 0;
        for p in &self.phases {
            n += self.store.count_waiting(&p.selection, &p.states()).await?;
        }
        Ok(n)
    }

    /// Claims items and drives them through their steps until `cancel` fires or, with
    /// `exit_when_idle`, no runnable item is left.
    pub async fn drive(self, cancel: CancellationToken) -> Result<RunReport, crate::store::StoreError> {
        let started = Instant::now();
        let own_node = self.node.is_none();
        let node = match self.node {
            Some(n) => n,
            None => node::register(&self.store).await?,
        };
        tracing::info!(%node, phases = self.phases.len(), "dispatcher started");
        if let Ok(true) = self.store.autovacuum_off().await {
            tracing::warn!(
                "PostgreSQL's autovacuum is off: every transition leaves a dead row version that \
                 nothing clears, and claims and completions slow down as they pile up; turn it on \
                 (autovacuum = on) or VACUUM workflows between runs"
            );
        }
        // The run stops on `cancel` (a signal, a closing window) or when the database keeps
        // failing the same way (see `health`).
        let stopping = cancel.child_token();
        let health = Arc::new(health::Health::new(stopping.clone()));
        let lanes = lane::build(&self.lanes, &self.phases, self.cfg.claim_batch);
        let total_room: usize = lanes.iter().map(|l| l.capacity).sum();
        let wake = Arc::new(Notify::new());
        let (tx, rx) = mpsc::channel(total_room.max(1));
        let heartbeat_stop = CancellationToken::new();
        let held = Arc::new(held::Held::default());
        // Feeders' inboxes come first: the writer passes chained items straight to them.
        let mut feeds = Vec::new();
        let mut inboxes = Vec::new();
        for _ in &lanes {
            let (feed_tx, feed_rx) = mpsc::unbounded_channel();
            feeds.push(feed_tx);
            inboxes.push(feed_rx);
        }
        let heartbeat = tokio::spawn(heartbeat::beat(
            self.store.clone(),
            node,
            held.clone(),
            health.clone(),
            heartbeat::Timing {
                beat: self.cfg.heartbeat,
                lease: self.cfg.lease,
                dead_after: self.cfg.dead_after,
            },
            heartbeat_stop.clone(),
        ));

        let credentials =
            Arc::new(credentials::Credentials::new(self.cfg.credentials_pause, self.on_resume.clone()));
        let chain = Arc::new(chain::Chain {
            next: lanes.iter().map(|from| lane::successors(from, &lanes)).collect(),
            lanes: lanes.clone(),
            feeds: feeds.iter().map(mpsc::UnboundedSender::downgrade).collect(),
            held: held.clone(),
            credentials: credentials.clone(),
            store: self.store.clone(),
            node,
            health: health.clone(),
            lease: self.cfg.lease,
            passed: AtomicU64::new(0),
        });
        let writer_cfg =
            writer::WriterConfig { max_batch: self.cfg.write_batch, linger: self.cfg.write_linger };
        let writer =
            tokio::spawn(writer::run(rx, writer_cfg, self.stats.clone(), wake.clone(), chain.clone()));
        // One feeder per lane starts its items in the order they were claimed (newest-first
        // phases rely on it).
        let shared = feeder::Shared {
            credentials: credentials.clone(),
            store: self.store.clone(),
            node,
            out: tx,
            stopping: stopping.clone(),
            grace: self.cfg.shutdown_grace,
            policy: *self.store.policy(),
            timeout: self.cfg.step_timeout,
        };
        let mut feeders = Vec::new();
        for (lane, inbox) in lanes.iter().zip(inboxes) {
            feeders.push(tokio::spawn(feeder::feed(lane.clone(), inbox, shared.clone())));
        }
        drop(shared);
        let mut new_work = self.store.new_work();
        let listener = tokio::spawn({
            let (store, stop) = (self.store.clone(), stopping.clone());
            async move { store.listen_for_work(stop).await }
        });
        let mut interrupted = false;
        loop {
            if stopping.is_cancelled() {
                interrupted = true;
                break;
            }
            // A one-shot run ends at the first refusal of our credentials: retrying is the
            // operator's call once the token is fixed.
            if self.cfg.exit_when_idle && credentials.is_refused() {
                break;
            }
            // A signal does not wait for a claim the database is slow to answer. A claim cut off
            // here may still commit: its items are not held, so their leases lapse.
            let claimed = tokio::select! {
                n = self.claim_cycle(node, &lanes, &feeds, &held, &health, &credentials) => n,
                _ = stopping.cancelled() => continue,
            };
            if claimed > 0 {
                continue;
            }
            if self.cfg.exit_when_idle && lanes.iter().all(Lane::is_idle) {
                let remaining = tokio::select! {
                    r = health.call("counting the remaining work", self.remaining()) => r,
                    _ = stopping.cancelled() => continue,
                };
                match remaining {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "cannot count remaining work; retrying"),
                }
            }
            // Woken by a commit (the next step's items are due), by new work (an import in
            // this process, or another node's on PostgreSQL), or else by the idle poll.
            tokio::select! {
                _ = wake.notified() => {}
                _ = new_work.changed() => {}
                _ = stopping.cancelled() => {}
                _ = tokio::time::sleep(self.cfg.idle_poll) => {}
            }
        }
        listener.abort();

        // Feeders finish their items (on a signal: within the grace period, then they abandon the
        // rest, whose leases are released below so another node or the next start takes them).
        // After a signal all of it is bounded: a database that does not answer must not keep the
        // node from stopping.
        let deadline = interrupted
            .then(|| tokio::time::Instant::now() + self.cfg.shutdown_grace + self.cfg.shutdown_deadline);
        // Past the deadline nothing of this run may go on: not the heartbeat (it would keep the
        // node looking alive and renew its leases), not the writer, not a feeder.
        let mut tasks: Vec<tokio::task::AbortHandle> = feeders.iter().map(|f| f.abort_handle()).collect();
        tasks.push(writer.abort_handle());
        tasks.push(heartbeat.abort_handle());
        let stop_heartbeat = heartbeat_stop.clone();
        let wind_down = async {
            drop(feeds);
            for f in feeders {
                let _ = f.await;
            }
            if let Err(e) = writer.await {
                tracing::error!(error = %e, "writer task failed");
            }
            heartbeat_stop.cancel();
            let _ = heartbeat.await;
            let released = health.call("releasing leases", self.store.release(node)).await?;
            if own_node {
                self.store.node_stopped(node).await?;
            }
            Ok::<u64, crate::store::StoreError>(released)
        };
        let (released, cut_short) = match deadline {
            None => (wind_down.await?, false),
            Some(at) => match tokio::time::timeout_at(at, wind_down).await {
                Ok(released) => (released?, false),
                Err(_) => {
                    stop_heartbeat.cancel();
                    tasks.iter().for_each(tokio::task::AbortHandle::abort);
                    tracing::error!(
                        "shutdown deadline passed (the database does not answer): outcomes not yet \
                         committed are dropped and this node's leases lapse after node.lease"
                    );
                    (0, true)
                }
            },
        };
        let mut report = self.stats.report(node, released, started.elapsed(), interrupted);
        report.cut_short = cut_short;
        report.db_failure = health.failure();
        report.put_back += credentials.handed_back.load(Ordering::Relaxed);
        report.credentials_refused = credentials.first_refusal();
        report.credentials_pauses = credentials.pauses.load(Ordering::Relaxed);
        report.chained = chain.passed.load(Ordering::Relaxed);
        tracing::info!(?report, "dispatcher stopped");
        Ok(report)
    }

    /// One pass over every lane: each open lane with room claims and hands its items to its
    /// feeder. Returns how many items were claimed.
    async fn claim_cycle(
        &self,
        node: NodeId,
        lanes: &[Lane],
        feeds: &[mpsc::UnboundedSender<Fed>],
        held: &Arc<held::Held>,
        health: &health::Health,
        credentials: &credentials::Credentials,
    ) -> usize {
        self.stats.cycles.fetch_add(1, Ordering::Relaxed);
        // Pauses are read on every cycle, so one takes effect on every node within a cycle.
        let paused: HashSet<String> = if self.phases.is_empty() {
            HashSet::new()
        } else {
            match health.call("reading phase pauses", self.store.paused_phases()).await {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read phase pauses; claiming nothing this cycle");
                    self.phases.iter().map(|p| p.name.clone()).collect()
                }
            }
        };
        let now = self.store.clock().now_ms();
        let mut claimed = 0;
        // Every lane calls Altinn 3: while it refuses our credentials none claims (one item
        // in all while probing).
        let mut cap = credentials.claim_cap();
        for (lane, feed) in lanes.iter().zip(feeds) {
            if !lane.refresh_open(&paused, now) {
                continue;
            }
            let want = lane.claim_size(self.cfg.claim_batch).min(cap);
            if want == 0 {
                continue;
            }
            let (n, items) = lane.claim(&self.store, node, self.cfg.lease, want, held, health).await;
            claimed += n;
            cap = cap.saturating_sub(n);
            for fed in items {
                // A closed feed means its feeder stopped (shutdown); the lease is released at the end.
                let _ = feed.send(fed);
            }
        }
        self.stats.claimed.fetch_add(claimed as u64, Ordering::Relaxed);
        claimed
    }
}
