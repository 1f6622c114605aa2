//! Liveness:
//! - `workflows.lease_claim`: the claim a lease was taken by. A lease belongs to a node
//!   (`lease_owner`, which the dead-node rescue and the heartbeat go by) *and* to one claim of
//!   that node: a claim whose reply was lost is released by its id, and a worker's commit is
//!   fenced by the claim it ran under, so of an item the node claimed again meanwhile only the
//!   newer run writes. Meaningless while `lease_owner` is NULL. No index: releasing a claim looks
//!   among the owner's leased rows, which `workflows_lease` finds.
//! - `nodes.failure`: why a node stopped when the database made it stop (it failed the same way
//!   again and again, or reported itself damaged), so `status` can say so.

use sea_orm::{ConnectionTrait, DbBackend};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let uuid = if db.get_database_backend() == DbBackend::Postgres { "UUID" } else { "BLOB" };
        for (table, column, ty) in [("workflows", "lease_claim", uuid), ("nodes", "failure", "TEXT")] {
            if !manager.has_column(table, column).await? {
                db.execute_unprepared(&format!("ALTER TABLE {table} ADD COLUMN {column} {ty}")).await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, column) in [("workflows", "lease_claim"), ("nodes", "failure")] {
            if manager.has_column(table, column).await? {
                let drop = format!("ALTER TABLE {table} DROP COLUMN {column}");
                manager.get_connection().execute_unprepared(&drop).await?;
            }
        }
        Ok(())
    }
}
