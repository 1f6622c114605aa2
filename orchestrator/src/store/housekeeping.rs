//! Housekeeping the schedules run: events left waiting on Synced items swept into SyncPending,
//! old history pruned for finished items (and throughput minutes older than a week), and the planner's statistics refreshed after a bulk load.

use super::Sql;
use super::StoreError;
use super::{CHUNK, Store, THROUGHPUT_RETENTION_MS};
use schema::WorkflowState;
use sea_orm::{ConnectionTrait, DbBackend};
use std::collections::HashSet;

impl Store {
    /// Whether the database is PostgreSQL with autovacuum off. Every transition leaves a dead row
    /// version in `workflows` and its indexes; with nothing clearing them, the claim's and the
    /// completion's index walks slow down as they pile up (`bench --items 10000000` with
    /// autovacuum off: 18.7M dead row versions after 4M items, and falling throughput).
    pub async fn autovacuum_off(&self) -> Result<bool, StoreError> {
        if self.backend() != DbBackend::Postgres {
            return Ok(false);
        }
        let mut q = Sql::new(self.backend());
        q.push("SELECT current_setting('autovacuum') AS setting");
        let row = self.db().query_one_raw(q.build()).await?;
        Ok(row.map(|r| r.try_get::<String>("", "setting")).transpose()?.as_deref() == Some("off"))
    }

    /// Makes Synced items that have unsynced events SyncPending (events whose item was Synced
    /// before they were stored, or held until their item arrived). Returns how many.
    pub async fn sync_sweep(&self) -> Result<u64, StoreError> {
        let mut made = 0;
        loop {
            let mut q = Sql::new(self.backend());
            q.push(
                "SELECT DISTINCT e.a2_id FROM a2_events e JOIN workflows w ON w.a2_id = e.a2_id \
                 WHERE e.synced_at IS NULL AND w.state = ",
            )
            .param(WorkflowState::Synced.as_str(), "text")
            .push(" LIMIT ")
            .param(i64::try_from(CHUNK).unwrap_or(i64::MAX), "int8");
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
    /// chunks, so a big table is never locked for long. Returns how many rows went. Also drops
    /// the throughput chart's minutes older than [`THROUGHPUT_RETENTION_MS`] (not counted).
    pub async fn prune_history(&self, before_ms: i64) -> Result<u64, StoreError> {
        self.prune_throughput(self.clock().now_ms() - THROUGHPUT_RETENTION_MS).await?;
        let mut pruned = 0;
        loop {
            let mut q = Sql::new(self.backend());
            q.push("DELETE FROM workflow_history WHERE id IN (SELECT h.id FROM workflow_history h WHERE h.at < ")
                .param(before_ms, "int8")
                .push(" AND EXISTS (SELECT 1 FROM workflows w WHERE w.id = h.workflow_id AND w.state IN ")
                .push(&WorkflowState::sql_list(&WorkflowState::FINISHED))
                .push(
                    ") AND EXISTS (SELECT 1 FROM workflow_history n WHERE n.workflow_id = h.workflow_id AND n.id > h.id) \
                     AND (h.error IS NULL OR EXISTS (SELECT 1 FROM workflow_history n WHERE n.workflow_id = h.workflow_id \
                     AND n.id > h.id AND n.error IS NOT NULL)) LIMIT ",
                )
                .param(i64::try_from(10 * CHUNK).unwrap_or(i64::MAX), "int8")
                .push(")");
            let n = self.db().execute_raw(q.build()).await?.rows_affected();
            pruned += n;
            if n < 10 * CHUNK as u64 {
                return Ok(pruned);
            }
        }
    }

    /// Refreshes the planner's statistics after a bulk load, so the claim keeps walking its index
    /// instead of sorting a bitmap scan (PostgreSQL's autoanalyze may be off or not yet run).
    pub async fn analyze(&self) -> Result<(), StoreError> {
        let sql = match self.backend() {
            DbBackend::Postgres => "ANALYZE workflows",
            _ => "PRAGMA optimize",
        };
        self.db.execute_unprepared(sql).await?;
        Ok(())
    }
}
