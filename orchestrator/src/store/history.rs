//! History rows: one per written transition, inserted in bulk in the transaction that wrote it.

use super::Sql;
use super::StoreError;
use super::sql::statement_rows;
use schema::WorkflowState;
use schema::{NodeId, WorkflowId};
use sea_orm::{ConnectionTrait, DbBackend};

/// One history row to write.
pub(super) struct HistoryRow {
    pub(super) workflow_id: WorkflowId,
    pub(super) from: Option<WorkflowState>,
    pub(super) to: WorkflowState,
    pub(super) attempt: i32,
    pub(super) node: Option<NodeId>,
    pub(super) error: Option<String>,
    /// The operator action behind the row (`retry via http`), if an operator's.
    pub(super) operator: Option<String>,
}

pub(super) async fn insert_history(
    conn: &impl ConnectionTrait,
    backend: DbBackend,
    rows: &[HistoryRow],
    at: i64,
) -> Result<(), StoreError> {
    for piece in statement_rows(backend, rows.len()) {
        let chunk = &rows[piece];
        let mut q = Sql::new(backend);
        q.push("INSERT INTO workflow_history (workflow_id, from_state, to_state, attempt, at, node, error, operator) VALUES ");
        for (i, h) in chunk.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.row(vec![
                (h.workflow_id.into(), "uuid"),
                (h.from.map(|s| s.as_str().to_string()).into(), "text"),
                (h.to.as_str().into(), "text"),
                (h.attempt.into(), "int4"),
                (at.into(), "int8"),
                (h.node.map(NodeId::get).into(), "uuid"),
                (h.error.clone().into(), "text"),
                (h.operator.clone().into(), "text"),
            ]);
        }
        conn.execute_raw(q.build()).await?;
    }
    Ok(())
}
