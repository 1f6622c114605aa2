//! Phases select items by their A2 creation time, service owner and resource, and may claim them
//! newest-first: those three columns are copied onto `workflows` (so the claim reads one table),
//! with a partial index for the created-ordered claim, and `phase_controls` holds the run-time
//! pause switches.

use sea_orm::{ConnectionTrait, DbBackend};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for (column, ty) in [
            ("a2_created", "BIGINT NOT NULL DEFAULT 0"),
            ("service_owner", "TEXT NOT NULL DEFAULT ''"),
            ("resource_id", "TEXT NOT NULL DEFAULT ''"),
        ] {
            if !manager.has_column("workflows", column).await? {
                db.execute_unprepared(&format!("ALTER TABLE workflows ADD COLUMN {column} {ty}")).await?;
            }
        }
        // Items imported before this migration take their values from their records.
        db.execute_unprepared(
            "UPDATE workflows SET a2_created = r.created, service_owner = r.service_owner, resource_id = r.resource_id \
             FROM a2_records r WHERE r.a2_id = workflows.a2_id AND workflows.a2_created = 0",
        )
        .await?;
        // The phase claim: one state's rows in creation order (newest- or oldest-first), only the
        // runnable ones.
        db.execute_unprepared(&format!(
            "CREATE INDEX IF NOT EXISTS workflows_created_claim ON workflows (state, a2_created) WHERE state IN {}",
            crate::WorkflowState::sql_list(&crate::WorkflowState::RUNNABLE)
        ))
        .await?;
        let paused = if db.get_database_backend() == DbBackend::Postgres { "BOOLEAN" } else { "INTEGER" };
        db.execute_unprepared(&format!(
            "CREATE TABLE IF NOT EXISTS phase_controls (
                phase TEXT PRIMARY KEY,
                paused {paused} NOT NULL,
                changed_at BIGINT NOT NULL
            )"
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("DROP TABLE IF EXISTS phase_controls").await?;
        db.execute_unprepared("DROP INDEX IF EXISTS workflows_created_claim").await?;
        for column in ["a2_created", "service_owner", "resource_id"] {
            db.execute_unprepared(&format!("ALTER TABLE workflows DROP COLUMN {column}")).await?;
        }
        Ok(())
    }
}
