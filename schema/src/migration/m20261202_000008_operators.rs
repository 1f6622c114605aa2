//! Who acted: `workflow_history.operator` says which operator action wrote a row and where it came
//! from (`retry via cli`, `cancel via http`; NULL for the engine's own transitions), and
//! `phase_controls.changed_by` the same for a phase's pause or resume. Operators act from the
//! command line and from the HTTP API; the audit trail must tell them apart.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

const COLUMNS: [(&str, &str); 2] = [("workflow_history", "operator"), ("phase_controls", "changed_by")];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, column) in COLUMNS {
            if !manager.has_column(table, column).await? {
                let add = format!("ALTER TABLE {table} ADD COLUMN {column} TEXT");
                manager.get_connection().execute_unprepared(&add).await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, column) in COLUMNS {
            if manager.has_column(table, column).await? {
                let drop = format!("ALTER TABLE {table} DROP COLUMN {column}");
                manager.get_connection().execute_unprepared(&drop).await?;
            }
        }
        Ok(())
    }
}
