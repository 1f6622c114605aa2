//! `a2_records` and `a2_events` get a `packed` column: their JSON packed against a dictionary
//! (see [`crate::packed`]), which the importer writes from now on instead of `payload` (left
//! empty). Rows from before keep their `payload` and no `packed`, and read as before; nothing
//! is rewritten here, so the migration is instant on any size. A record re-imported later is
//! packed if its item is not yet migrated (it differs from the stored row, so the import counts
//! it as written).

use sea_orm::{ConnectionTrait, DbBackend};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

const TABLES: [&str; 2] = ["a2_records", "a2_events"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let blob = if db.get_database_backend() == DbBackend::Postgres { "BYTEA" } else { "BLOB" };
        for table in TABLES {
            if !manager.has_column(table, "packed").await? {
                db.execute_unprepared(&format!("ALTER TABLE {table} ADD COLUMN packed {blob}")).await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in TABLES {
            if manager.has_column(table, "packed").await? {
                let drop = format!("ALTER TABLE {table} DROP COLUMN packed");
                manager.get_connection().execute_unprepared(&drop).await?;
            }
        }
        Ok(())
    }
}
