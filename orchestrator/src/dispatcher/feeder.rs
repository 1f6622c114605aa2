//! Feeders: one per lane, starting the lane's claimed items in the order they were claimed
//! (newest-first phases rely on it) as the lane's slots and rate allow, each in its own task, and
//! turning each step's outcome into the state machine's decision for the writer. Apart from the
//! claim loop because this is where concurrency, rate, pauses and the shutdown grace meet.

use super::credentials::Credentials;
use super::held::Hold;
use super::lane::Lane;
use super::writer;
use crate::retry::RetryPolicy;
use crate::state_machine::{Event, Facts, decide};
use crate::store::{Applied, Store};
use crate::telemetry;
use futures::FutureExt;
use schema::NodeId;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use workers::{Step, StepOutcome, WorkItem};

/// What every item task of a run shares.
#[derive(Clone)]
pub(super) struct Shared {
    pub(super) credentials: Arc<Credentials>,
    pub(super) store: Store,
    pub(super) node: NodeId,
    pub(super) out: mpsc::Sender<writer::Finished>,
    pub(super) stopping: CancellationToken,
    pub(super) grace: Duration,
    pub(super) policy: RetryPolicy,
    pub(super) timeout: Duration,
}

/// A claimed item and its hold (its lease renewed, its share of the lane's room taken, until its
/// outcome is committed).
pub(super) type Fed = (WorkItem, Hold);

/// Starts a lane's items one after another as slots (and the phase's rate) allow, each in its
/// own task, in the order they were claimed. On a signal it stops starting items and gives the
/// running ones the grace period.
pub(super) async fn feed(lane: Lane, mut rx: mpsc::UnboundedReceiver<Fed>, run: Shared) {
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
        // Paused or window closed since the claim, or our credentials refused: hand back this
        // item and the queued ones at once, so another phase, the next window or the next try
        // takes them.
        let closed = !lane.open.load(Ordering::Relaxed);
        if closed || !run.credentials.may_start() {
            let mut back = vec![item.id];
            while let Ok((queued, _room)) = rx.try_recv() {
                back.push(queued.id);
            }
            drop((room, slot));
            if !closed {
                run.credentials.handed_back.fetch_add(back.len() as u64, Ordering::Relaxed);
            }
            // Bounded like every call of the run: a database that does not answer must not hold
            // up this lane's feeder.
            let release = run.store.release_items(run.node, &back);
            match tokio::time::timeout(super::health::BOUND, release).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "cannot release items; their leases expire"),
                Err(_) => tracing::warn!("no answer to releasing items; their leases expire"),
            }
            continue;
        }
        let span = tracing::info_span!("item", workflow = %item.id, a2_id = item.a2_id.get(), step = %lane.step.kind());
        tasks.spawn(run_item(lane.step.clone(), lane.index, item, room, slot, run.clone()).instrument(span));
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
    lane: usize,
    item: WorkItem,
    room: Hold,
    slot: OwnedSemaphorePermit,
    run: Shared,
) {
    let guarded = std::panic::AssertUnwindSafe(step.run(&item)).catch_unwind();
    let started = Instant::now();
    let ran = tokio::time::timeout(run.timeout, guarded).await;
    telemetry::step_finished(step.kind(), started.elapsed());
    let outcome = match ran {
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
    // Before the slot goes: the lane's next item must see a refusal this one met.
    match &outcome {
        StepOutcome::Refused(e) => run.credentials.refused(e),
        _ => run.credentials.answered(),
    }
    drop(slot);
    if let Some(mut applied) = applied_for(&item, outcome, &run.policy) {
        applied.claim = Some(room.claim());
        let _ = run.out.send(writer::Finished { applied, item, lane, slot: room }).await;
    }
}

/// The state machine's decision for a finished step, as a row to apply.
fn applied_for(item: &WorkItem, outcome: StepOutcome, policy: &RetryPolicy) -> Option<Applied> {
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
            // A put-back is logged once for the run (see `credentials`), not per item.
            if let Some(e) = transition.error().filter(|_| !transition.puts_back()) {
                tracing::info!(error = %e, to = %transition.to(), "step did not succeed");
            }
            Some(Applied {
                id: item.id,
                a2_id: item.a2_id,
                transition,
                a3_correspondence_id: a3,
                dialog_id: dialog,
                synced_events,
                claim: None,
                operator: None,
                chain_until: None,
            })
        }
        Err(e) => {
            tracing::error!(error = %e, "claimed item cannot take its step's outcome");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SystemClock;
    use schema::WorkflowState;
    use schema::{A2Id, WorkflowId};
    use std::sync::Mutex;
    use std::sync::atomic::AtomicUsize;
    use tokio::sync::Semaphore;
    use workers::StepKind;
    use workers::noop::NoopStep;

    /// Wraps a no-op step and records the order items start in and how many ran at once.
    struct Recording {
        inner: NoopStep,
        started: Mutex<Vec<i64>>,
        running: AtomicUsize,
        most: AtomicUsize,
    }

    impl Recording {
        fn new(kind: StepKind, delay: Duration) -> Arc<Self> {
            Arc::new(Self {
                inner: NoopStep::new(kind, delay),
                started: Mutex::default(),
                running: AtomicUsize::new(0),
                most: AtomicUsize::new(0),
            })
        }
    }

    #[async_trait::async_trait]
    impl Step for Recording {
        fn kind(&self) -> StepKind {
            self.inner.kind()
        }

        fn inputs(&self) -> workers::Inputs {
            self.inner.inputs()
        }

        async fn run(&self, item: &WorkItem) -> StepOutcome {
            self.started.lock().unwrap().push(item.a2_id.get());
            let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
            self.most.fetch_max(now, Ordering::SeqCst);
            let outcome = self.inner.run(item).await;
            self.running.fetch_sub(1, Ordering::SeqCst);
            outcome
        }
    }

    /// A run's shared part on a fresh SQLite file (only a closed lane's release touches it).
    async fn shared(
        dir: &tempfile::TempDir,
        stopping: CancellationToken,
    ) -> (Shared, mpsc::Receiver<writer::Finished>) {
        let target = dir.path().join("feed.sqlite");
        let db = crate::db::open(target.to_str().unwrap()).await.unwrap();
        let store = Store::new(db, Arc::new(SystemClock), RetryPolicy::default());
        let (out, finished) = mpsc::channel(1000);
        let policy = *store.policy();
        let run = Shared {
            credentials: Arc::new(Credentials::new(Duration::from_secs(60), None)),
            store,
            node: NodeId::new(),
            out,
            stopping,
            grace: Duration::from_secs(5),
            policy,
            timeout: Duration::from_secs(30),
        };
        (run, finished)
    }

    /// Queues items with A2 ids `a2_ids` for `lane`, each holding its room, as the claim loop does.
    fn queue(lane: &Lane, a2_ids: impl IntoIterator<Item = i64>) -> mpsc::UnboundedReceiver<Fed> {
        let (tx, rx) = mpsc::unbounded_channel();
        let held = Arc::new(super::super::held::Held::default());
        for a2_id in a2_ids {
            let item =
                WorkItem::bare(WorkflowId::new(), A2Id(a2_id), "t".into(), WorkflowState::CreatedInA2, 0);
            let room = lane.room.clone().try_acquire_owned().unwrap();
            let hold = held.hold(item.id, schema::ClaimId::new(), room);
            tx.send((item, hold)).unwrap();
        }
        rx
    }

    #[tokio::test]
    async fn items_start_in_claim_order_within_the_concurrency() {
        let dir = tempfile::tempdir().unwrap();
        let step = Recording::new(StepKind::Migrate, Duration::from_millis(5));
        let lane = Lane::unphased(step.clone(), 3, 50);
        // Claim order is not id order (a newest-first phase claims descending).
        let order: Vec<i64> = (1..=40).rev().collect();
        let rx = queue(&lane, order.clone());
        let (run, mut finished) = shared(&dir, CancellationToken::new()).await;
        feed(lane.clone(), rx, run).await;

        assert_eq!(*step.started.lock().unwrap(), order, "started in claim order");
        assert_eq!(step.most.load(Ordering::SeqCst), 3, "ran at the lane's concurrency, not above");
        let mut outcomes = Vec::new();
        while let Ok(f) = finished.try_recv() {
            outcomes.push(f);
        }
        // The room is freed only once the writer is done with the outcomes.
        assert_eq!(lane.room.available_permits(), lane.capacity - 40);
        let mut done: Vec<i64> = outcomes.iter().map(|f| f.applied.a2_id.get()).collect();
        done.sort_unstable();
        assert_eq!(done, (1..=40).collect::<Vec<_>>(), "every outcome went to the writer");
        assert!(outcomes.iter().all(|f| f.applied.transition.to() == WorkflowState::Migrated));
        drop(outcomes);
        assert!(lane.is_idle());
    }

    #[tokio::test]
    async fn lanes_of_a_phase_share_its_slots() {
        let dir = tempfile::tempdir().unwrap();
        let migrate = Recording::new(StepKind::Migrate, Duration::from_millis(5));
        let sync = Recording::new(StepKind::Sync, Duration::from_millis(5));
        let mut a = Lane::unphased(migrate.clone(), 10, 20);
        let mut b = Lane::unphased(sync.clone(), 10, 20);
        let slots = Arc::new(Semaphore::new(2));
        (a.slots, b.slots) = (slots.clone(), slots);
        let (run, _finished) = shared(&dir, CancellationToken::new()).await;
        let (rx_a, rx_b) = (queue(&a, 0..20), queue(&b, 100..120));
        tokio::join!(feed(a, rx_a, run.clone()), feed(b, rx_b, run));
        let together = migrate.most.load(Ordering::SeqCst) + sync.most.load(Ordering::SeqCst);
        assert!(together <= 4, "each lane at most the shared two");
        assert!(migrate.most.load(Ordering::SeqCst) <= 2 && sync.most.load(Ordering::SeqCst) <= 2);
        assert_eq!(migrate.started.lock().unwrap().len() + sync.started.lock().unwrap().len(), 40);
    }

    #[tokio::test]
    async fn a_closed_lane_starts_nothing_and_hands_its_items_back() {
        let dir = tempfile::tempdir().unwrap();
        let step = Recording::new(StepKind::Sync, Duration::ZERO);
        let lane = Lane::unphased(step.clone(), 2, 10);
        lane.open.store(false, Ordering::Relaxed);
        let rx = queue(&lane, 0..5);
        let (run, mut finished) = shared(&dir, CancellationToken::new()).await;
        feed(lane.clone(), rx, run).await;
        assert!(step.started.lock().unwrap().is_empty());
        assert!(finished.try_recv().is_err());
        assert!(lane.is_idle(), "the room of handed-back items is free at once");
        assert_eq!(lane.slots.available_permits(), 2);
    }

    #[tokio::test]
    async fn nothing_starts_once_shutdown_began() {
        let dir = tempfile::tempdir().unwrap();
        let step = Recording::new(StepKind::Migrate, Duration::ZERO);
        let lane = Lane::unphased(step.clone(), 2, 10);
        let rx = queue(&lane, 0..5);
        let stopping = CancellationToken::new();
        stopping.cancel();
        let (run, _finished) = shared(&dir, stopping).await;
        feed(lane, rx, run).await;
        assert!(step.started.lock().unwrap().is_empty());
    }

    /// A step that A3 refuses: every call a 401.
    struct Refusing(std::sync::atomic::AtomicUsize);

    #[async_trait::async_trait]
    impl Step for Refusing {
        fn kind(&self) -> StepKind {
            StepKind::Migrate
        }

        async fn run(&self, _item: &WorkItem) -> StepOutcome {
            self.0.fetch_add(1, Ordering::SeqCst);
            StepOutcome::Refused("correspondence: HTTP 401 (check the A3 token and its scope)".into())
        }
    }

    #[tokio::test]
    async fn a_refusal_stops_the_lane_and_hands_the_rest_back_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let step = Arc::new(Refusing(AtomicUsize::new(0)));
        let lane = Lane::unphased(step.clone(), 1, 10);
        let rx = queue(&lane, 0..5);
        let (run, mut finished) = shared(&dir, CancellationToken::new()).await;
        let credentials = run.credentials.clone();
        feed(lane.clone(), rx, run).await;
        assert_eq!(step.0.load(Ordering::SeqCst), 1, "one call met the refusal; nothing more started");
        assert_eq!(
            credentials.handed_back.load(Ordering::Relaxed),
            4,
            "the queued items went back unstarted"
        );
        let put_back = finished.try_recv().unwrap();
        let t = &put_back.applied.transition;
        assert!(t.puts_back() && t.attempt() == 0 && t.to() == WorkflowState::CreatedInA2, "{t:?}");
        assert!(finished.try_recv().is_err());
        drop(put_back);
        assert!(lane.is_idle());
    }

    #[test]
    fn a_failed_step_is_decided_by_the_state_machine() {
        let item = WorkItem::bare(WorkflowId::new(), A2Id(7), "t".into(), WorkflowState::Migrated, 0);
        let policy = RetryPolicy::default();
        let retry = applied_for(&item, StepOutcome::Retryable("503".into()), &policy).unwrap();
        assert_eq!(
            (retry.transition.from(), retry.transition.to()),
            (WorkflowState::Migrated, WorkflowState::Migrated)
        );
        let failed = applied_for(&item, StepOutcome::Permanent("400".into()), &policy).unwrap();
        assert_eq!(failed.transition.to(), WorkflowState::Failed);
        assert_eq!(failed.a2_id, A2Id(7));
    }
}
