//! Housekeeping the schedules run: expired leases back to the queue, events left waiting on
//! Synced items swept into SyncPending, and old history pruned for finished items.

use super::sql::{Sql, literal_list};
use super::{CHUNK, Store};
use schema::WorkflowState;
use sea_orm::{ConnectionTrait, DbErr};
use std::collections::HashSet;

/// States an item is finished in, as far as history retention goes.
pub const FINISHED: [WorkflowState; 3] =
    [WorkflowState::Synced, WorkflowState::Rejected, WorkflowState::Cancelled];

impl Store {
    /// Drops leases that expired (their node died or stalled): the items are claimable at once
    /// and no longer look leased to operators. Returns how many.
    pub async fn release_expired(&self) -> Result<u64, DbErr> {
        let mut q = Sql::new(self.backend());
        q.push("UPDATE workflows SET lease_owner = NULL, lease_until = NULL WHERE lease_owner IS NOT NULL AND lease_until < ")
            .param(self.clock().now_ms(), "int8");
        Ok(self.db().execute_raw(q.build()).await?.rows_affected())
    }

    /// Makes Synced items that have unsynced events SyncPending (events whose item was Synced
    /// before they were stored, or held until their item arrived). Returns how many.
    pub async fn sync_sweep(&self) -> Result<u64, DbErr> {
        let mut made = 0;
        loop {
            let mut q = Sql::new(self.backend());
            q.push(
                "SELECT DISTINCT e.a2_id FROM a2_events e JOIN workflows w ON w.a2_id = e.a2_id \
                 WHERE e.synced_at IS NULL AND w.state = 'synced' LIMIT ",
            )
            .param(CHUNK as i64, "int8");
            let ids: HashSet<i64> = self
                .db()
                .query_all_raw(q.build())
                .await?
                .iter()
                .map(|r| r.try_get::<i64>("", "a2_id"))
                .collect::<Result<_, _>>()?;
            if ids.is_empty() {
                return Ok(made);
            }
            let n = self.mark_pending(&ids).await?;
            made += n;
            if n == 0 {
                // Someone else moved them first; the next sweep sees what is left.
                return Ok(made);
            }
        }
    }

    /// Deletes history rows written before `before_ms` of finished items, keeping each item's
    /// newest row (its final state) and its newest row with an error (its last error). Works in
    /// chunks, so a big table is never locked for long. Returns how many rows went.
    pub async fn prune_history(&self, before_ms: i64) -> Result<u64, DbErr> {
        let mut pruned = 0;
        loop {
            let mut q = Sql::new(self.backend());
            q.push("DELETE FROM workflow_history WHERE id IN (SELECT h.id FROM workflow_history h WHERE h.at < ")
                .param(before_ms, "int8")
                .push(" AND EXISTS (SELECT 1 FROM workflows w WHERE w.id = h.workflow_id AND w.state IN ")
                .push(&literal_list(FINISHED.iter().map(|s| s.as_str())))
                .push(
                    ") AND EXISTS (SELECT 1 FROM workflow_history n WHERE n.workflow_id = h.workflow_id AND n.id > h.id) \
                     AND (h.error IS NULL OR EXISTS (SELECT 1 FROM workflow_history n WHERE n.workflow_id = h.workflow_id \
                     AND n.id > h.id AND n.error IS NOT NULL)) LIMIT ",
                )
                .param(10 * CHUNK as i64, "int8")
                .push(")");
            let n = self.db().execute_raw(q.build()).await?.rows_affected();
            pruned += n;
            if n < 10 * CHUNK as u64 {
                return Ok(pruned);
            }
        }
    }
}
