//! What this node holds: the items it claimed and has not finished with (claimed, queued,
//! running, or waiting for the writer's commit). The heartbeat renews the leases of exactly
//! these, so a lease this node has in the database but not in memory — a claim that committed
//! while its reply was lost on a dropped connection, a claim whose inputs could not be loaded and
//! whose release failed — is never renewed: it lapses and the item is claimed again.
//!
//! An item is held by its [`Hold`], which travels with it from the claim to the commit (it also
//! carries the item's share of its lane's room); dropping it, wherever the item's way ends, lets
//! the item go.

use schema::{ClaimId, WorkflowId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::OwnedSemaphorePermit;

/// The items held, with how many holds each has (the same item can be claimed again by this
/// node while an earlier run of it still waits for its commit).
#[derive(Debug, Default)]
pub(super) struct Held(Mutex<HashMap<WorkflowId, u32>>);

impl Held {
    /// Holds `id`, claimed by `claim`, until the returned [`Hold`] is dropped; `room` is
    /// released with it.
    pub(super) fn hold(self: &Arc<Self>, id: WorkflowId, claim: ClaimId, room: OwnedSemaphorePermit) -> Hold {
        *self.lock().entry(id).or_insert(0) += 1;
        Hold { held: Arc::clone(self), id, claim, _room: room }
    }

    /// The items held now (what the heartbeat renews).
    pub(super) fn ids(&self) -> Vec<WorkflowId> {
        self.lock().keys().copied().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<WorkflowId, u32>> {
        // A panic while holding this lock cannot leave the map half-changed: every change is one
        // map operation.
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// One claimed item's hold on its lease and its lane's room.
#[derive(Debug)]
pub(super) struct Hold {
    held: Arc<Held>,
    id: WorkflowId,
    claim: ClaimId,
    _room: OwnedSemaphorePermit,
}

impl Hold {
    /// The claim the item was taken by: its commit is fenced by it.
    pub(super) fn claim(&self) -> ClaimId {
        self.claim
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        let mut map = self.held.lock();
        if let Some(n) = map.get_mut(&self.id) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::Semaphore;

    #[test]
    fn an_item_is_held_until_its_last_hold_is_dropped() {
        let held = Arc::new(Held::default());
        let room = Arc::new(Semaphore::new(3));
        let (a, b) = (WorkflowId::new(), WorkflowId::new());
        let first = held.hold(a, ClaimId::new(), room.clone().try_acquire_owned().unwrap());
        let again = held.hold(a, ClaimId::new(), room.clone().try_acquire_owned().unwrap());
        let other = held.hold(b, ClaimId::new(), room.clone().try_acquire_owned().unwrap());
        assert_eq!(room.available_permits(), 0);
        let mut ids = held.ids();
        ids.sort();
        let mut want = vec![a, b];
        want.sort();
        assert_eq!(ids, want);
        drop(first);
        assert!(held.ids().contains(&a), "the second claim of the same item still holds it");
        drop((again, other));
        assert!(held.ids().is_empty());
        assert_eq!(room.available_permits(), 3, "the room comes back with the holds");
    }
}
