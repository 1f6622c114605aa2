//! Items wholesale: every item's state (the demo's proof reads it), the latest errors of one
//! state, and removing one import batch with its history and counters (the bench's reset).

use super::Store;
use super::StoreError;
use schema::WorkflowState;
use schema::entity::{workflow, workflow_history};
use sea_orm::sea_query::Query;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use std::collections::HashMap;

impl Store {
    /// Every item's state by A2 id. One row per item in memory: for demo-sized databases.
    pub async fn item_states(&self) -> Result<HashMap<i64, WorkflowState>, StoreError> {
        let rows: Vec<(i64, WorkflowState)> = workflow::Entity::find()
            .select_only()
            .column(workflow::Column::A2Id)
            .column(workflow::Column::State)
            .into_tuple()
            .all(self.db())
            .await?;
        Ok(rows.into_iter().collect())
    }

    /// Up to `limit` items in `state` with their last error (A2 id order).
    pub async fn errors_in_state(
        &self,
        state: WorkflowState,
        limit: u64,
    ) -> Result<Vec<(i64, String)>, StoreError> {
        let rows = workflow::Entity::find()
            .filter(workflow::Column::State.eq(state))
            .order_by_asc(workflow::Column::A2Id)
            .limit(limit)
            .all(self.db())
            .await?;
        Ok(rows.into_iter().map(|w| (w.a2_id, w.last_error.unwrap_or_default())).collect())
    }

    /// Deletes the items of import batch `batch` and their history. Returns how many items went.
    pub async fn delete_batch(&self, batch: &str) -> Result<u64, StoreError> {
        let txn = self.begin().await?;
        workflow_history::Entity::delete_many()
            .filter(
                workflow_history::Column::WorkflowId.in_subquery(
                    Query::select()
                        .column(workflow::Column::Id)
                        .from(workflow::Entity)
                        .and_where(workflow::Column::Batch.eq(batch))
                        .to_owned(),
                ),
            )
            .exec(&txn)
            .await?;
        let items =
            workflow::Entity::delete_many().filter(workflow::Column::Batch.eq(batch)).exec(&txn).await?;
        self.delete_batch_counts(&txn, batch).await?;
        txn.commit().await?;
        Ok(items.rows_affected)
    }
}
