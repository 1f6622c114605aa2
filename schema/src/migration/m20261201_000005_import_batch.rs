//! The import label `workflows.phase` becomes `workflows.batch`: it names the import an item came
//! with (`import --batch`), and must not be taken for the config's phases, which select items by
//! date, owner and resource.

use sea_orm::ConnectionTrait;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if manager.has_column("workflows", "phase").await? {
            db.execute_unprepared("ALTER TABLE workflows RENAME COLUMN phase TO batch").await?;
        }
        db.execute_unprepared("DROP INDEX IF EXISTS workflows_phase_state").await?;
        db.execute_unprepared("CREATE INDEX IF NOT EXISTS workflows_batch_state ON workflows (batch, state)")
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("DROP INDEX IF EXISTS workflows_batch_state").await?;
        if manager.has_column("workflows", "batch").await? {
            db.execute_unprepared("ALTER TABLE workflows RENAME COLUMN batch TO phase").await?;
        }
        db.execute_unprepared("CREATE INDEX IF NOT EXISTS workflows_phase_state ON workflows (phase, state)")
            .await?;
        Ok(())
    }
}
