//! `import_files`: the live feed's ledger — which export files were imported, and how far, so each
//! file is taken exactly once even across restarts.

use sea_orm::ConnectionTrait;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE TABLE IF NOT EXISTS import_files (
                    path TEXT PRIMARY KEY,
                    size BIGINT NOT NULL,
                    lines_done BIGINT NOT NULL DEFAULT 0,
                    rejected BIGINT NOT NULL DEFAULT 0,
                    started_at BIGINT NOT NULL,
                    finished_at BIGINT
                )",
            )
            .await
            .map(|_| ())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.get_connection().execute_unprepared("DROP TABLE IF EXISTS import_files").await.map(|_| ())
    }
}
