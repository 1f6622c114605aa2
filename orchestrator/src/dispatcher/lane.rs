//! Lanes: the unit the dispatcher claims for. A lane is one step with its concurrency and its
//! in-flight room; with phases, one lane per (phase, step), carrying the phase's selection, order,
//! window, rate and pause. Kept apart from the claim loop so which lanes a configuration yields,
//! and how much each claims, can be read (and tested) without a database or a running node.

use super::feeder::Fed;
use super::health::Health;
use super::held::Held;
use crate::phase::{MakeAvailable, Phase};
use crate::store::{Claim, ClaimOrder, Selection, Store, StoreError};
use schema::{NodeId, WorkflowState};
use std::collections::HashSet;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::Semaphore;
use workers::Step;

/// A step with its concurrency limit and its share of in-flight room; for a phase, one of its
/// steps with the phase's selection, order, window and rate.
#[derive(Clone)]
pub(super) struct Lane {
    pub(super) step: Arc<dyn Step>,
    /// Items running the step at once (shared by a phase's steps).
    pub(super) slots: Arc<Semaphore>,
    /// Items claimed for this lane and not yet committed: the concurrency plus one claim batch,
    /// so the lane never waits on the database for its next item.
    pub(super) room: Arc<Semaphore>,
    pub(super) capacity: usize,
    /// The phase this lane works for (None: every item, always).
    pub(super) phase: Option<Arc<Phase>>,
    /// The phase's rate for this step.
    pub(super) limiter: Option<Arc<governor::DefaultDirectRateLimiter>>,
    /// False while the phase is paused or its window closed: the feeder then starts nothing
    /// more and hands back what it holds.
    pub(super) open: Arc<AtomicBool>,
    /// Its place among the run's lanes (set by [`build`]): how an outcome names the lane it ran
    /// in, for chained continuation.
    pub(super) index: usize,
    /// The rooms (with their capacities) of the lanes whose items continue into this one
    /// (set by [`build`]): what is in flight there may soon arrive here, chained.
    pub(super) upstream: Vec<(Arc<Semaphore>, usize)>,
}

impl Lane {
    /// A lane for `step` outside any phase: `concurrency` items at once, room for one claim
    /// batch more.
    pub(super) fn unphased(step: Arc<dyn Step>, concurrency: usize, claim_batch: usize) -> Self {
        let concurrency = concurrency.max(1);
        let capacity = concurrency + claim_batch;
        Self {
            step,
            slots: Arc::new(Semaphore::new(concurrency)),
            room: Arc::new(Semaphore::new(capacity)),
            capacity,
            phase: None,
            limiter: None,
            open: Arc::new(AtomicBool::new(true)),
            index: 0,
            upstream: Vec::new(),
        }
    }

    /// The items it claims, and in which order.
    pub(super) fn selection(&self) -> (&Selection, ClaimOrder) {
        static ALL: std::sync::OnceLock<Selection> = std::sync::OnceLock::new();
        match &self.phase {
            Some(p) => (&p.selection, p.order),
            None => (ALL.get_or_init(Selection::all), ClaimOrder::Due),
        }
    }

    /// Whether the lane may claim now (its phase not paused and its window open), remembered for
    /// its feeder. A lane outside phases is always open.
    pub(super) fn refresh_open(&self, paused: &HashSet<String>, now_ms: i64) -> bool {
        let Some(p) = &self.phase else { return true };
        let open = !paused.contains(&p.name) && p.window.is_open(now_ms);
        self.open.store(open, Ordering::Relaxed);
        open
    }

    /// How many items to claim now: up to a batch of its free room, or none while the room is
    /// under a quarter of a batch (it waits for room rather than claim a trickle). Up to half
    /// of the room is kept for the items in flight upstream, which arrive chained, without a
    /// claim; the other half always claims, so a backlog in this lane's own state (after a
    /// restart, say) is never starved by a busy upstream.
    pub(super) fn claim_size(&self, claim_batch: usize) -> usize {
        let incoming: usize = self
            .upstream
            .iter()
            .map(|(room, capacity)| capacity.saturating_sub(room.available_permits()))
            .sum();
        let free = self.room.available_permits().saturating_sub(incoming.min(self.capacity / 2));
        let want = claim_batch.min(free);
        if want == 0 || want < claim_batch.min(self.capacity) / 4 { 0 } else { want }
    }

    /// True when nothing claimed for the lane is still in flight.
    pub(super) fn is_idle(&self) -> bool {
        self.room.available_permits() == self.capacity
    }

    /// Claims up to `want` items with their inputs, each holding its share of the room; returns
    /// how many were claimed and the items to feed. If the inputs cannot be loaded the claim is
    /// released and nothing is fed (nothing runs without its inputs), though the items still
    /// count as claimed.
    pub(super) async fn claim(
        &self,
        store: &Store,
        node: NodeId,
        lease: Duration,
        want: usize,
        held: &Arc<Held>,
        health: &Health,
    ) -> (usize, Vec<Fed>) {
        let (selection, order) = self.selection();
        let states = self.step.kind().states();
        // The room first: the writer takes room for chained items at any moment, so what is
        // free now may not be free once the claim returns.
        let Ok(mut room) = self.room.clone().try_acquire_many_owned(u32::try_from(want).unwrap_or(u32::MAX))
        else {
            return (0, Vec::new());
        };
        let claim = Claim::new(node, lease);
        let mut items = match health
            .call("claiming", store.claim_any_in(&claim, want, states, selection, order))
            .await
        {
            Ok(items) => items,
            Err(e) => {
                // The claim may have committed with its reply lost: undo it by its id, so its
                // items do not wait for the lease to lapse (the heartbeat never renews them).
                tracing::warn!(error = %e, step = %self.step.kind(), "claim failed; releasing whatever it took, then retrying");
                tokio::spawn(release_claim_eventually(store, claim));
                return (0, Vec::new());
            }
        };
        tracing::debug!(step = %self.step.kind(), items = items.len(), "claimed");
        let claimed = items.len();
        // The phase says how its items get their dialog; the steps read it from the item.
        let on_migrate = self.phase.as_ref().is_some_and(|p| p.make_available == MakeAvailable::WithMigrate);
        for item in &mut items {
            item.make_available_on_migrate = on_migrate;
        }
        if let Err(e) = health.call("loading inputs", store.load_inputs(&mut items, self.step.inputs())).await
        {
            tracing::warn!(error = %e, step = %self.step.kind(), "loading inputs failed; releasing the claim");
            tokio::spawn(release_claim_eventually(store, claim));
            return (claimed, Vec::new());
        }
        let mut fed = Vec::with_capacity(items.len());
        for item in items {
            // The claim returned at most `want` items, each with its share of `room`.
            let Some(permit) = room.split(1) else { break };
            let hold = held.hold(item.id, claim.id, permit);
            fed.push((item, hold));
        }
        (claimed, fed)
    }
}

/// The lanes of a run: without phases, the steps' own lanes (`base`); with phases, one lane per
/// (phase, step) for every step of a phase that has a worker in `base`. A phase's lanes share
/// its concurrency; a rated lane claims only about two seconds of work ahead.
pub(super) fn build(base: &[Lane], phases: &[Phase], claim_batch: usize) -> Vec<Lane> {
    let mut out = if phases.is_empty() { base.to_vec() } else { phased(base, phases, claim_batch) };
    let next: Vec<Vec<(WorkflowState, usize)>> = out.iter().map(|from| successors(from, &out)).collect();
    for (i, lane) in out.iter_mut().enumerate() {
        lane.index = i;
        lane.upstream.clear();
    }
    for (from, targets) in next.iter().enumerate() {
        let mut seen = Vec::new();
        for &(_, to) in targets {
            if !seen.contains(&to) {
                seen.push(to);
                let up = (out[from].room.clone(), out[from].capacity);
                out[to].upstream.push(up);
            }
        }
    }
    out
}

/// The later steps' lanes of `from`'s phase (or, outside phases, the unphased lanes) by the
/// states they take: where an item of `from` goes on to, chained, after its step succeeds.
pub(super) fn successors(from: &Lane, lanes: &[Lane]) -> Vec<(WorkflowState, usize)> {
    let same_phase = |l: &Lane| {
        l.step.kind() > from.step.kind()
            && match (&from.phase, &l.phase) {
                (None, None) => true,
                (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                _ => false,
            }
    };
    let mut out = Vec::new();
    for (i, lane) in lanes.iter().enumerate().filter(|(_, l)| same_phase(l)) {
        for state in lane.step.kind().states() {
            if !out.iter().any(|(s, _)| s == state) {
                out.push((*state, i));
            }
        }
    }
    out
}

fn phased(base: &[Lane], phases: &[Phase], claim_batch: usize) -> Vec<Lane> {
    let mut out = Vec::new();
    for phase in phases {
        let shared = Arc::new(phase.clone());
        let slots = Arc::new(Semaphore::new(phase.concurrency.max(1)));
        for kind in &phase.steps {
            let Some(worker) = base.iter().find(|l| l.step.kind() == *kind) else {
                tracing::warn!(phase = %phase.name, step = %kind, "no worker for this step; the phase will not advance it");
                continue;
            };
            // A rated lane claims about two seconds of work ahead, so a pause or a closing
            // window is not followed by a long tail of prefetched items.
            // The rate is checked to be in 0.001..=1_000_000 (config), so `ceil(2 * rate)` is in
            // 1..=2_000_000 and fits.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let ahead = phase
                .rate
                .map(|r| ((r * 2.0).ceil() as usize).max(1))
                .unwrap_or(claim_batch)
                .min(claim_batch);
            // As above: `ceil(rate)` is in 1..=1_000_000, so it fits a u32.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let limiter = phase.rate.and_then(|r| {
                let burst = NonZeroU32::new((r.ceil() as u32).max(1))?;
                let quota =
                    governor::Quota::with_period(Duration::from_secs_f64(1.0 / r))?.allow_burst(burst);
                Some(Arc::new(governor::RateLimiter::direct(quota)))
            });
            let capacity = phase.concurrency.max(1) + ahead;
            out.push(Lane {
                step: worker.step.clone(),
                slots: slots.clone(),
                room: Arc::new(Semaphore::new(capacity)),
                capacity,
                phase: Some(shared.clone()),
                limiter,
                open: Arc::new(AtomicBool::new(true)),
                index: 0,
                upstream: Vec::new(),
            });
        }
    }
    out
}

/// Frees leases this node will not use (those of `claim`, or of a set of items), trying again
/// while the database fails, until the leases would have lapsed anyway (`lease` from now). Runs
/// apart from the loop that gave them up, which goes on (or stops) meanwhile. Giving up at once
/// would leave the items waiting out their lease: nothing renews them, and no claim takes them.
pub(super) async fn release_eventually<F, R>(lease: Duration, what: &'static str, release: F)
where
    F: Fn() -> R,
    R: Future<Output = Result<u64, StoreError>>,
{
    let give_up = tokio::time::Instant::now() + lease;
    let mut wait = Duration::from_millis(200);
    loop {
        let Ok(released) = tokio::time::timeout_at(give_up, release()).await else {
            tracing::warn!("no answer to releasing the leases of {what}; they lapse instead");
            return;
        };
        match released {
            Ok(n) => {
                if n > 0 {
                    tracing::info!(released = n, "released the leases of {what}");
                }
                return;
            }
            Err(e) if tokio::time::Instant::now() + wait >= give_up => {
                tracing::warn!(error = %e, "cannot release the leases of {what}; they lapse instead");
                return;
            }
            Err(_) => {
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// [`release_eventually`] for a whole claim.
fn release_claim_eventually(store: &Store, claim: Claim) -> impl Future<Output = ()> + use<> {
    let store = store.clone();
    release_eventually(
        claim.lease,
        "a claim whose reply was lost or whose inputs failed to load",
        move || {
            let store = store.clone();
            async move { store.release_claim(&claim).await }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phase::Window;
    use workers::StepKind;
    use workers::noop::NoopStep;

    const BATCH: usize = 100;

    fn base(kinds: &[StepKind], concurrency: usize) -> Vec<Lane> {
        kinds
            .iter()
            .map(|k| Lane::unphased(Arc::new(NoopStep::new(*k, Duration::ZERO)), concurrency, BATCH))
            .collect()
    }

    fn phase(name: &str, steps: &[StepKind], concurrency: usize, rate: Option<f64>) -> Phase {
        Phase {
            name: name.into(),
            selection: Selection { service_owners: vec![format!("{name}-owner")], ..Selection::all() },
            steps: steps.to_vec(),
            order: ClaimOrder::NewestFirst,
            window: Window::Always,
            rate,
            concurrency,
            make_available: crate::phase::MakeAvailable::Batched,
        }
    }

    fn kinds(lanes: &[Lane]) -> Vec<(Option<String>, StepKind)> {
        lanes.iter().map(|l| (l.phase.as_ref().map(|p| p.name.clone()), l.step.kind())).collect()
    }

    #[test]
    fn an_unphased_lane_has_its_concurrency_and_a_batch_of_room() {
        let lane = &base(&[StepKind::Migrate], 8)[0];
        assert_eq!(lane.slots.available_permits(), 8);
        assert_eq!(lane.capacity, 8 + BATCH);
        assert_eq!(lane.room.available_permits(), lane.capacity);
        assert!(lane.phase.is_none() && lane.limiter.is_none());
        assert_eq!(lane.selection(), (&Selection::all(), ClaimOrder::Due));
        assert!(lane.is_idle());
        // Zero concurrency still runs one item at a time.
        assert_eq!(base(&[StepKind::Sync], 0)[0].slots.available_permits(), 1);
    }

    #[test]
    fn without_phases_every_step_gets_its_own_lane() {
        let steps = base(&[StepKind::Migrate, StepKind::MakeAvailable, StepKind::Sync], 4);
        let lanes = build(&steps, &[], BATCH);
        assert_eq!(
            kinds(&lanes),
            vec![(None, StepKind::Migrate), (None, StepKind::MakeAvailable), (None, StepKind::Sync)]
        );
        // The very lanes the steps were added with (their room is shared, not copied).
        assert!(lanes.iter().zip(&steps).all(|(a, b)| Arc::ptr_eq(&a.room, &b.room)));
    }

    #[test]
    fn each_phase_gets_a_lane_per_step_it_has_a_worker_for() {
        let steps = base(&[StepKind::Migrate, StepKind::MakeAvailable], 4);
        let phases = [
            phase("early", &[StepKind::Migrate, StepKind::MakeAvailable], 10, None),
            // Sync has no worker: the phase gets no lane for it.
            phase("late", &[StepKind::MakeAvailable, StepKind::Sync], 3, None),
            phase("none", &[StepKind::Sync], 3, None),
        ];
        let lanes = build(&steps, &phases, BATCH);
        let early = Some("early".to_string());
        assert_eq!(
            kinds(&lanes),
            vec![
                (early.clone(), StepKind::Migrate),
                (early, StepKind::MakeAvailable),
                (Some("late".into()), StepKind::MakeAvailable),
            ]
        );
        // A phase's lanes share its concurrency; phases do not share with each other or the base.
        assert!(Arc::ptr_eq(&lanes[0].slots, &lanes[1].slots));
        assert!(!Arc::ptr_eq(&lanes[1].slots, &lanes[2].slots));
        assert!(!Arc::ptr_eq(&lanes[0].slots, &steps[0].slots));
        assert_eq!(lanes[0].slots.available_permits(), 10);
        assert_eq!(lanes[2].slots.available_permits(), 3);
        // Each lane has room of its own: the phase's concurrency plus a batch.
        assert!(!Arc::ptr_eq(&lanes[0].room, &lanes[1].room));
        assert_eq!(lanes[0].capacity, 10 + BATCH);
        assert_eq!(lanes[2].capacity, 3 + BATCH);
        // They claim the phase's items in its order.
        let (selection, order) = lanes[2].selection();
        assert_eq!(selection.service_owners, vec!["late-owner".to_string()]);
        assert_eq!(order, ClaimOrder::NewestFirst);
        assert!(lanes.iter().all(|l| l.limiter.is_none()));
    }

    #[test]
    fn a_rated_lane_claims_two_seconds_ahead_at_most_a_batch() {
        let steps = base(&[StepKind::Migrate], 4);
        let phases = [
            phase("slow", &[StepKind::Migrate], 5, Some(2.5)),
            phase("trickle", &[StepKind::Migrate], 5, Some(0.1)),
            phase("fast", &[StepKind::Migrate], 5, Some(1000.0)),
        ];
        let lanes = build(&steps, &phases, BATCH);
        assert_eq!(lanes.iter().map(|l| l.capacity).collect::<Vec<_>>(), vec![5 + 5, 5 + 1, 5 + BATCH]);
        assert!(lanes.iter().all(|l| l.limiter.is_some()));
    }

    #[test]
    fn a_paused_phase_closes_its_lanes_only() {
        let steps = base(&[StepKind::Migrate], 4);
        let phases = [phase("a", &[StepKind::Migrate], 2, None), phase("b", &[StepKind::Migrate], 2, None)];
        let lanes = build(&steps, &phases, BATCH);
        let paused: HashSet<String> = ["a".to_string()].into();
        assert!(!lanes[0].refresh_open(&paused, 0));
        assert!(!lanes[0].open.load(Ordering::Relaxed));
        assert!(lanes[1].refresh_open(&paused, 0));
        assert!(steps[0].refresh_open(&["a".to_string(), "b".to_string()].into(), 0));
        // Unpausing opens it again.
        assert!(lanes[0].refresh_open(&HashSet::new(), 0));
        assert!(lanes[0].open.load(Ordering::Relaxed));
    }

    #[test]
    fn a_lane_claims_a_batch_of_its_free_room_but_no_trickle() {
        let lane = Lane::unphased(Arc::new(NoopStep::new(StepKind::Sync, Duration::ZERO)), 4, BATCH);
        assert_eq!(lane.claim_size(BATCH), BATCH);
        let held = lane.room.clone().try_acquire_many_owned(50).unwrap();
        assert_eq!(lane.claim_size(BATCH), 54);
        assert!(!lane.is_idle());
        let more = lane.room.clone().try_acquire_many_owned(30).unwrap();
        assert_eq!(lane.claim_size(BATCH), 0, "24 free is under a quarter of a batch");
        drop(more);
        drop(held);
        assert!(lane.is_idle());
        // A lane smaller than a batch waits for a quarter of its own capacity.
        let small = &build(&[lane], &[phase("p", &[StepKind::Sync], 2, Some(4.0))], BATCH)[0];
        assert_eq!(small.capacity, 10);
        let _held = small.room.clone().try_acquire_many_owned(8).unwrap();
        assert_eq!(small.claim_size(BATCH), 2);
        let _held = small.room.clone().try_acquire_many_owned(1).unwrap();
        assert_eq!(small.claim_size(BATCH), 0);
    }
}
