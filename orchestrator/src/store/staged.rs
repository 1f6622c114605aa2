//! SQLite's way of writing a batch of transitions: the decided rows are staged in a temporary
//! table, then one UPDATE writes every item whose fence holds, each taking its new values from its
//! staged row, and one INSERT … SELECT writes their history.
//!
//! Why not `UPDATE … FROM (VALUES …)`, as on PostgreSQL: SQLite computes an UPDATE FROM's join
//! into a materialised table before it writes a row, and for 1,000 rows that join cost more than
//! the writes themselves. Timed statement by statement on a copy of a bench database (100k items,
//! 30 batches of 1,000 completions): the `FROM (VALUES …)` form 15.3 µs a row, this one 9.2 µs
//! with the staging insert included (BENCHMARKS.md, "Session of 2026-12-02 (night)"). Reading
//! the values through one correlated row-value subquery per item is a lookup in a small B-tree
//! that stays in the page cache.
//!
//! The staging table is per connection (`temp`) and part of the transaction: rolled back with
//! it, and emptied at the start of every use, so rows of a batch that failed can never be applied
//! by a later one. It stays in the temporary database's page cache (one batch is a few hundred
//! KiB); `temp_store = memory` ran no faster and would also keep SQLite's large sorts and
//! temporary tables in memory.

use super::sql::statement_rows;
use super::transition::{Applied, Fence, values_of};
use super::{Sql, Store, StoreError};
use schema::{NodeId, WorkflowId};
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend};
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

/// The staging table: one row per decided transition, its columns those of
/// [`values_of`] plus the operator behind it (for the history row).
const CREATE: &str = "CREATE TEMP TABLE IF NOT EXISTS staged_transitions (\
     id BLOB PRIMARY KEY, from_state TEXT NOT NULL, to_state TEXT NOT NULL, resume_state TEXT, \
     attempt INTEGER NOT NULL, next_run_at INTEGER NOT NULL, last_error TEXT, reason TEXT, \
     same_error_count INTEGER NOT NULL, keep_error INTEGER NOT NULL, a3_id BLOB, dialog_id BLOB, \
     claim BLOB, lease_until INTEGER, operator TEXT) WITHOUT ROWID";

impl Store {
    /// Writes `rows` (each only if its fence holds) and the history rows of those written, in
    /// `txn`. Returns the written items with their import batches, for the counters. An item that
    /// occurs twice is staged once, with its first transition (the only one applied).
    pub(super) async fn write_staged(
        &self,
        txn: &DatabaseTransaction,
        rows: &[Applied],
        fence: Fence,
        node: Option<NodeId>,
        now: i64,
    ) -> Result<HashMap<WorkflowId, String>, StoreError> {
        txn.execute_unprepared(CREATE).await?;
        txn.execute_unprepared("DELETE FROM temp.staged_transitions").await?;
        for piece in statement_rows(DbBackend::Sqlite, rows.len()) {
            let mut q = Sql::new(DbBackend::Sqlite);
            q.push("INSERT INTO temp.staged_transitions VALUES ");
            for (i, a) in rows[piece].iter().enumerate() {
                if i > 0 {
                    q.push(", ");
                }
                q.row(
                    values_of(self, a, fence, now).into_iter().chain([(a.operator.clone().into(), "text")]),
                );
            }
            q.push(" ON CONFLICT (id) DO NOTHING");
            txn.execute_raw(q.build()).await?;
        }
        let mut written = HashMap::with_capacity(rows.len());
        for r in txn.query_all_raw(update(fence, now)).await? {
            written.insert(WorkflowId(r.try_get::<Uuid>("", "id")?), r.try_get::<String>("", "batch")?);
        }
        // Items whose fence no longer held get no history row.
        let lost: Vec<Uuid> = rows
            .iter()
            .map(|a| a.id)
            .filter(|id| !written.contains_key(id))
            .collect::<HashSet<_>>()
            .into_iter()
            .map(WorkflowId::get)
            .collect();
        for piece in statement_rows(DbBackend::Sqlite, lost.len()) {
            let mut q = Sql::new(DbBackend::Sqlite);
            q.push("DELETE FROM temp.staged_transitions WHERE id IN ").list(&lost[piece], "uuid");
            txn.execute_raw(q.build()).await?;
        }
        let mut q = Sql::new(DbBackend::Sqlite);
        q.push(
            "INSERT INTO workflow_history (workflow_id, from_state, to_state, attempt, at, node, error, \
             operator) SELECT id, from_state, to_state, attempt, ",
        )
        .param(now, "int8")
        .push(", ")
        .param(node.map(NodeId::get), "uuid")
        .push(", last_error, operator FROM temp.staged_transitions");
        txn.execute_raw(q.build()).await?;
        Ok(written)
    }
}

/// The fenced UPDATE of every staged item: one statement whatever the batch's size (so one
/// prepared program), each item looked up by its key.
pub(super) fn update(fence: Fence, now: i64) -> sea_orm::Statement {
    let mut q = Sql::new(DbBackend::Sqlite);
    // Items are looked up by key whatever the statistics say. Taken while nothing was leased
    // (after an import), they make the lease index look free to scan, and the planner then scans
    // every row this node holds for each item: 4k instead of 67k transitions/s.
    // `sqlite_autoindex_workflows_1` is the primary key's index (`id` is the table's first
    // constraint).
    q.push(
        "UPDATE workflows INDEXED BY sqlite_autoindex_workflows_1 SET (state, resume_state, attempt, \
         next_run_at, last_error, reason, same_error_count, a3_correspondence_id, dialog_id, \
         lease_owner, lease_until) = (SELECT v.to_state, v.resume_state, v.attempt, v.next_run_at, \
         CASE WHEN v.keep_error = 1 THEN workflows.last_error ELSE v.last_error END, \
         CASE WHEN v.keep_error = 1 THEN workflows.reason ELSE v.reason END, v.same_error_count, \
         COALESCE(v.a3_id, workflows.a3_correspondence_id), COALESCE(v.dialog_id, workflows.dialog_id), \
         CASE WHEN v.lease_until IS NULL THEN NULL ELSE workflows.lease_owner END, v.lease_until \
         FROM temp.staged_transitions v WHERE v.id = workflows.id), updated_at = ",
    )
    .param(now, "int8")
    // `id IN (…)` makes the planner walk the staged rows and look each item up; the `EXISTS`
    // is the fence, checked against the item's own staged row.
    .push(
        " WHERE id IN (SELECT id FROM temp.staged_transitions) AND EXISTS (SELECT 1 FROM \
         temp.staged_transitions v WHERE v.id = workflows.id AND v.from_state = workflows.state",
    );
    if let Fence::Lease(owner) = fence {
        q.push(" AND (v.claim IS NULL OR v.claim = workflows.lease_claim)) AND workflows.lease_owner = ")
            .param(owner, "uuid");
    } else {
        q.push(")");
    }
    q.push(" RETURNING id, batch");
    q.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The completion's plan with a large backlog: the staged rows are walked and each item is
    /// looked up by its key. A plan that walks the table instead costs time in proportion to
    /// every item the database holds, for every batch (the engine once ran a sixth as fast at 1M
    /// items as at 100k that way).
    #[tokio::test]
    async fn the_completion_looks_each_item_up_by_its_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.sqlite");
        let db = crate::db::open(path.to_str().unwrap()).await.unwrap();
        // The statistics of a table holding a million items, as `ANALYZE` leaves them.
        db.execute_unprepared("ANALYZE").await.unwrap();
        db.execute_unprepared(
            "DELETE FROM sqlite_stat1 WHERE tbl = 'workflows'; \
             INSERT INTO sqlite_stat1 VALUES \
             ('workflows', 'sqlite_autoindex_workflows_1', '1000000 1'), \
             ('workflows', 'sqlite_autoindex_workflows_2', '1000000 1'), \
             ('workflows', 'workflows_claim', '1000000 250000 2'), \
             ('workflows', 'workflows_created_claim', '1000000 250000 2'), \
             ('workflows', 'workflows_lease', '1000 1000'), \
             ('workflows', 'workflows_reason', '1000 100 2'); \
             ANALYZE sqlite_schema",
        )
        .await
        .unwrap();
        db.execute_unprepared(CREATE).await.unwrap();
        for fence in [Fence::Lease(NodeId::new()), Fence::State] {
            let statement = update(fence, 0);
            let explain = sea_orm::Statement::from_sql_and_values(
                DbBackend::Sqlite,
                format!("EXPLAIN QUERY PLAN {}", statement.sql),
                statement.values.map(|v| v.0).unwrap_or_default(),
            );
            let plan: Vec<String> = db
                .query_all_raw(explain)
                .await
                .unwrap()
                .iter()
                .map(|r| r.try_get::<String>("", "detail").unwrap())
                .collect();
            assert!(
                plan.iter().any(|d| d == "SEARCH workflows USING INDEX sqlite_autoindex_workflows_1 (id=?)"),
                "each item looked up by its key: {plan:?}"
            );
            assert!(!plan.iter().any(|d| d.starts_with("SCAN workflows")), "no walk of the table: {plan:?}");
        }
    }
}
