//! Counters kept by the writes themselves, so `status`, `/metrics` and the dashboard answer in
//! milliseconds at 10M items instead of scanning `workflows`:
//! - `item_counts`: items per import batch and state. Every write of `workflows.state` (enqueue,
//!   apply) adds its deltas in the same transaction. A counter is spread over `slot`s: each store
//!   writes only its own slot, so two PostgreSQL nodes committing at once do not queue on one row
//!   lock; readers sum the slots.
//! - `transition_minutes`: transitions written per epoch minute (and slot), for a throughput chart
//!   over the last hours without reading history. Pruned by housekeeping.
//!
//! An upgraded database starts right: the migration fills `item_counts` (slot 0) from the items
//! already there, while the table is still empty (so running it twice counts nothing twice).

use sea_orm::ConnectionTrait;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared(
            "CREATE TABLE IF NOT EXISTS item_counts (
                batch TEXT NOT NULL,
                state TEXT NOT NULL,
                slot INTEGER NOT NULL,
                n BIGINT NOT NULL,
                PRIMARY KEY (batch, state, slot)
            )",
        )
        .await?;
        // Only into an empty table: a second run (or a run after a half-finished one) never
        // counts an item twice.
        db.execute_unprepared(
            "INSERT INTO item_counts (batch, state, slot, n) \
             SELECT batch, state, 0, COUNT(*) FROM workflows \
             WHERE NOT EXISTS (SELECT 1 FROM item_counts) GROUP BY batch, state",
        )
        .await?;
        db.execute_unprepared(
            "CREATE TABLE IF NOT EXISTS transition_minutes (
                minute BIGINT NOT NULL,
                slot INTEGER NOT NULL,
                n BIGINT NOT NULL,
                PRIMARY KEY (minute, slot)
            )",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("DROP TABLE IF EXISTS transition_minutes").await?;
        db.execute_unprepared("DROP TABLE IF EXISTS item_counts").await?;
        Ok(())
    }
}
