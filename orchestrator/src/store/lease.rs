//! Leases: the heartbeat that extends this node's leases, releasing items a node will not run,
//! and returning expired leases (of dead or stalled nodes) to the queue.

use super::StoreError;
use super::{CHUNK, Sql, Store};
use crate::clock::millis;
use schema::{NodeId, WorkflowId};
use sea_orm::ConnectionTrait;
use std::time::Duration;

impl Store {
    /// Extends `owner`'s leases on `ids` (the node heartbeat, with the items it holds in
    /// memory), so slow steps keep their items. Only these: a lease the node has but does not
    /// know of (a claim whose reply was lost) lapses instead of being renewed for ever.
    pub async fn renew(&self, owner: NodeId, ids: &[WorkflowId], lease: Duration) -> Result<u64, StoreError> {
        let until = self.clock.now_ms() + millis(lease);
        let mut renewed = 0;
        for chunk in ids.chunks(CHUNK) {
            let mut q = Sql::new(self.backend());
            q.push("UPDATE workflows SET lease_until = ")
                .param(until, "int8")
                .push(" WHERE lease_owner = ")
                .param(owner, "uuid")
                .push(" AND id IN ");
            q.list(chunk, "uuid");
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

    /// Drops every lease `owner` holds: its items are claimable again at once.
    pub async fn release(&self, owner: NodeId) -> Result<u64, StoreError> {
        let mut q = Sql::new(self.backend());
        q.push("UPDATE workflows SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ")
            .param(owner, "uuid");
        Ok(self.db.execute_raw(q.build()).await?.rows_affected())
    }

    /// Drops leases that expired (their node died or stalled): the items are claimable at once
    /// and no longer look leased to operators. Returns how many.
    pub async fn release_expired(&self) -> Result<u64, StoreError> {
        let mut q = Sql::new(self.backend());
        q.push("UPDATE workflows SET lease_owner = NULL, lease_until = NULL WHERE lease_owner IS NOT NULL AND lease_until < ")
            .param(self.clock().now_ms(), "int8");
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
            q.push("UPDATE workflows SET lease_owner = NULL, lease_until = NULL WHERE lease_owner IS NOT NULL AND lease_owner IN ");
            q.list(chunk, "uuid");
            released += self.db.execute_raw(q.build()).await?.rows_affected();
        }
        Ok(released)
    }
}
