//! Chained continuation: when an item's step succeeds, its next step is due now and the node has
//! room for it in the next lane (the same phase's lane for the new state), the writer's
//! completing UPDATE keeps the item's lease — same node, same claim — instead of dropping it, and
//! the item goes straight to that lane's feeder without a claim of its own. Half the writes of
//! a transition (the claim) disappear for every item that flows through its steps uninterrupted.
//!
//! Nothing of the lease protocol changes: the next step's commit is fenced by the same node and
//! claim as a claimed item's, the heartbeat renews the item while it is held, and a node that dies
//! between the two steps leaves a lease that lapses (or that the heartbeat of another node frees)
//! like any other. The room in the next lane is taken before the commit, so a chained item
//! never waits for room, and the claim loop claims less for a lane that chaining keeps full.

use super::credentials::Credentials;
use super::feeder::Fed;
use super::health::Health;
use super::held::Held;
use super::lane::Lane;
use crate::state_machine::{Due, Transition};
use crate::store::{Applied, Store};
use schema::{ClaimId, NodeId, WorkflowId, WorkflowState};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::OwnedSemaphorePermit;
use tokio::sync::mpsc::WeakUnboundedSender;
use workers::WorkItem;

/// The room taken in the next lane for an item about to be committed.
pub(super) struct Reserved {
    lane: usize,
    room: OwnedSemaphorePermit,
}

/// What the writer needs to pass items on: the run's lanes, each lane's successor per state,
/// the feeders' inboxes (weak, so the feeders still stop when the claim loop lets go of them).
pub(super) struct Chain {
    pub(super) lanes: Vec<Lane>,
    /// For each lane, the lane (of the same phase) that takes each state it can lead to.
    pub(super) next: Vec<Vec<(WorkflowState, usize)>>,
    pub(super) feeds: Vec<WeakUnboundedSender<Fed>>,
    pub(super) held: Arc<Held>,
    pub(super) credentials: Arc<Credentials>,
    pub(super) store: Store,
    pub(super) node: NodeId,
    pub(super) health: Arc<Health>,
    pub(super) lease: Duration,
    /// Items passed on (reported as `chained`).
    pub(super) passed: AtomicU64,
}

impl Chain {
    /// Takes room in the next lane for an item of lane `from` whose commit will make
    /// `transition`, if the item can go straight on: the new state is another lane's of the same
    /// phase, due now, that lane open with room free, and our credentials accepted.
    pub(super) fn reserve(&self, from: usize, transition: &Transition) -> Option<Reserved> {
        if transition.due() != Due::Now || transition.puts_back() || !transition.to().is_runnable() {
            return None;
        }
        let lane = self.next.get(from)?.iter().find(|(s, _)| *s == transition.to())?.1;
        let target = &self.lanes[lane];
        if !target.open.load(Ordering::Relaxed) || self.credentials.is_refused() {
            return None;
        }
        let room = target.room.clone().try_acquire_owned().ok()?;
        Some(Reserved { lane, room })
    }

    /// When a lease kept now lapses.
    pub(super) fn lease_until(&self) -> i64 {
        self.store.clock().now_ms() + crate::clock::millis(self.lease)
    }

    /// Hands committed, chained items to their next lanes: each is held again (under the same
    /// claim) before its old hold goes, its next step's inputs are loaded, and it is fed. Loading
    /// runs apart from the writer, which goes on committing meanwhile.
    pub(super) fn pass_on(self: &Arc<Self>, items: Vec<(WorkItem, ClaimId, Reserved)>) {
        if items.is_empty() {
            return;
        }
        self.passed.fetch_add(items.len() as u64, Ordering::Relaxed);
        let mut by_lane: Vec<Vec<Fed>> = (0..self.lanes.len()).map(|_| Vec::new()).collect();
        for (item, claim, reserved) in items {
            let hold = self.held.hold(item.id, claim, reserved.room);
            by_lane[reserved.lane].push((item, hold));
        }
        for (lane, fed) in by_lane.into_iter().enumerate().filter(|(_, fed)| !fed.is_empty()) {
            let chain = self.clone();
            tokio::spawn(async move { chain.feed(lane, fed).await });
        }
    }

    async fn feed(&self, lane: usize, fed: Vec<Fed>) {
        let inputs = self.lanes[lane].step.inputs();
        let (mut items, holds): (Vec<WorkItem>, Vec<_>) = fed.into_iter().unzip();
        if let Err(e) = self.health.call("loading inputs", self.store.load_inputs(&mut items, inputs)).await {
            tracing::warn!(error = %e, "loading a chained batch's inputs failed; releasing its items");
            let ids: Arc<[_]> = items.iter().map(|i| i.id).collect();
            drop(holds);
            self.release("chained items whose inputs failed to load", ids).await;
            return;
        }
        // A feeder that stopped (shutdown) drops what it is sent; the run releases the node's
        // leases at its end.
        let Some(feed) = self.feeds[lane].upgrade() else { return };
        for fed in items.into_iter().zip(holds) {
            if feed.send(fed).is_err() {
                return;
            }
        }
    }

    /// Releases this node's leases on `ids` (items it holds but will not feed), retried until
    /// they would lapse.
    pub(super) async fn release(&self, what: &'static str, ids: Arc<[WorkflowId]>) {
        let (store, node) = (self.store.clone(), self.node);
        super::lane::release_eventually(self.lease, what, move || {
            let (store, ids) = (store.clone(), ids.clone());
            async move { store.release_items(node, &ids).await }
        })
        .await;
    }
}

/// The item as its next step sees it: what the committed transition wrote, no inputs yet.
pub(super) fn next_item(item: WorkItem, applied: &Applied) -> WorkItem {
    let t = &applied.transition;
    WorkItem {
        state: t.to(),
        attempt: t.attempt(),
        last_error: if t.keeps_last_error() { item.last_error } else { t.error().map(str::to_string) },
        same_error_count: t.same_error_count(),
        a3_correspondence_id: applied.a3_correspondence_id.or(item.a3_correspondence_id),
        dialog_id: applied.dialog_id.or(item.dialog_id),
        record: None,
        events: Vec::new(),
        input_errors: Vec::new(),
        ..item
    }
}
