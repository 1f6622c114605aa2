//! Leases: the heartbeat that extends this node's leases, releasing items a node will not run,
//! and returning expired leases (of dead or stalled nodes) to the queue.

use super::StoreError;
use super::{CHUNK, Claim, Sql, Store};
use crate::clock::millis;
use schema::{NodeId, WorkflowId};
use sea_orm::ConnectionTrait;
use std::time::Duration;

impl Store {
    /// Extends `owner`'s leases on `ids` (the node heartbeat, with the items it holds in
    /// memory), so slow steps keep their items. Only these: a lease the node has but does not
    /// know of (a claim whose reply was lost) lapses instead of being renewed for ever.
    ///
    /// On PostgreSQL it skips rows another transaction has locked: those are being committed
    /// (the commit ends the lease) or released, and waiting for them, in an order of its own, is
    /// how renewal and a batch commit deadlocked. A skipped row is renewed on the next pass.
    pub async fn renew(&self, owner: NodeId, ids: &[WorkflowId], lease: Duration) -> Result<u64, StoreError> {
        let until = self.clock.now_ms() + millis(lease);
        let mut renewed = 0;
        for chunk in ids.chunks(CHUNK) {
            let mut q = Sql::new(self.backend());
            q.push("UPDATE workflows SET lease_until = ").param(until, "int8").push(" WHERE id IN ");
            q.push_unlocked(|q| {
                q.push("lease_owner = ").param(owner, "uuid").push(" AND id IN ");
                q.list(chunk, "uuid");
            });
            renewed += self.db.execute_raw(q.build()).await?.rows_affected();
        }
        Ok(renewed)
    }

    /// Drops `owner`'s leases on `ids` (items it claimed but will not run).
    pub async fn release_items(&self, owner: NodeId, ids: &[WorkflowId]) -> Result<u64, StoreError> {
        let mut released = 0;
        for chunk in ids.chunks(CHUNK) {
            let mut q = Sql::new(self.backend());
            q.push("UPDATE workflows SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ")
                .param(owner, "uuid")
                .push(" AND id IN ");
            q.list(chunk, "uuid");
            released += self.db.execute_raw(q.build()).await?.rows_affected();
        }
        Ok(released)
    }

    /// Drops the leases `claim` took that it still holds: the claim's outcome is unknown (its
    /// reply was lost) or its items will not run. Items since committed or claimed again are
    /// not touched. Returns how many.
    pub async fn release_claim(&self, claim: &Claim) -> Result<u64, StoreError> {
        let mut q = Sql::new(self.backend());
        q.push("UPDATE workflows SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ")
            .param(claim.node, "uuid")
            .push(" AND lease_claim = ")
            .param(claim.id, "uuid");
        Ok(self.db.execute_raw(q.build()).await?.rows_affected())
    }

    /// Drops every lease `owner` holds: its items are claimable again at once.
    pub async fn release(&self, owner: NodeId) -> Result<u64, StoreError> {
        let mut q = Sql::new(self.backend());
        q.push("UPDATE workflows SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ")
            .param(owner, "uuid");
        Ok(self.db.execute_raw(q.build()).await?.rows_affected())
    }

    /// Drops leases that expired (their node died or stalled): the items are claimable at once
    /// and no longer look leased to operators. Rows being committed are left for the next pass
    /// (see [`Store::renew`]). Returns how many.
    pub async fn release_expired(&self) -> Result<u64, StoreError> {
        let mut q = Sql::new(self.backend());
        q.push("UPDATE workflows SET lease_owner = NULL, lease_until = NULL WHERE id IN ");
        let now = self.clock().now_ms();
        q.push_unlocked(|q| {
            q.push("lease_owner IS NOT NULL AND lease_until < ").param(now, "int8");
        });
        Ok(self.db().execute_raw(q.build()).await?.rows_affected())
    }

    /// Frees the leases of dead nodes other than `me`: stopped, or without a heartbeat since
    /// `alive_since`, among those that beat at least once since `died_since` (older ones' leases
    /// have lapsed anyway). Their items are claimable at once. Returns how many leases went.
    pub async fn release_dead_nodes(
        &self,
        me: NodeId,
        alive_since: i64,
        died_since: i64,
    ) -> Result<u64, StoreError> {
        let mut q = Sql::new(self.backend());
        q.push("SELECT id FROM nodes WHERE id <> ")
            .param(me, "uuid")
            .push(" AND last_heartbeat >= ")
            .param(died_since, "int8")
            .push(" AND (stopped_at IS NOT NULL OR last_heartbeat < ")
            .param(alive_since, "int8")
            .push(")");
        let dead: Vec<uuid::Uuid> = self
            .db
            .query_all_raw(q.build())
            .await?
            .iter()
            .map(|r| r.try_get("", "id"))
            .collect::<Result<_, _>>()?;
        let mut released = 0;
        for chunk in dead.chunks(CHUNK) {
            let mut q = Sql::new(self.backend());
            q.push("UPDATE workflows SET lease_owner = NULL, lease_until = NULL WHERE id IN ");
            q.push_unlocked(|q| {
                q.push("lease_owner IS NOT NULL AND lease_owner IN ");
                q.list(chunk, "uuid");
            });
            released += self.db.execute_raw(q.build()).await?.rows_affected();
        }
        Ok(released)
    }
}
