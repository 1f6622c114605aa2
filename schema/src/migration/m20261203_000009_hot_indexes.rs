//! Fewer indexes on the hot table: `workflows_batch_state` (batch, state) goes. Every transition
//! changes an item's state, so the index cost a delete and an insert in one more B-tree per
//! transition; what read it — counts by batch and state — reads the transactional counters in
//! `item_counts` since migration 7. Operator selections by batch (`retry --batch`, the API's item
//! list by batch, bench's clean-up) scan instead; they are rare and bounded by the table.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.get_connection().execute_unprepared("DROP INDEX IF EXISTS workflows_batch_state").await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX IF NOT EXISTS workflows_batch_state ON workflows (batch, state)",
            )
            .await?;
        Ok(())
    }
}
