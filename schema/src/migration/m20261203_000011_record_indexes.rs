//! `a2_records` loses its three secondary indexes (`created`, `(service_owner, created)`,
//! `(resource_id, created)`). No query reads them: phases select and order by the copies of those
//! columns on `workflows`, and records are only ever looked up by their key. Their keys arrive in
//! random order, so every import transaction dirtied index pages all over them, which made most of
//! an import's writes (issue 13).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

const INDEXES: [(&str, &str); 3] = [
    ("a2_records_created", "a2_records (created)"),
    ("a2_records_owner", "a2_records (service_owner, created)"),
    ("a2_records_resource", "a2_records (resource_id, created)"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, _) in INDEXES {
            manager.get_connection().execute_unprepared(&format!("DROP INDEX IF EXISTS {name}")).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, on) in INDEXES {
            let create = format!("CREATE INDEX IF NOT EXISTS {name} ON {on}");
            manager.get_connection().execute_unprepared(&create).await?;
        }
        Ok(())
    }
}
