//! The first schema: workflows (with the claim index), history, A2 records and events, schedule
//! runs and nodes.
//!
//! Written as SQL per backend because the claim query needs a partial index whose predicate is
//! exactly the claim predicate, and the UUID column type differs (native `uuid` vs 16-byte blob).

use sea_orm::{ConnectionTrait, DbBackend};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

fn statements(backend: DbBackend) -> Vec<String> {
    let (uuid, serial) = match backend {
        DbBackend::Postgres => ("UUID", "BIGSERIAL PRIMARY KEY"),
        _ => ("BLOB", "INTEGER PRIMARY KEY AUTOINCREMENT"),
    };
    vec![
        format!(
            "CREATE TABLE IF NOT EXISTS workflows (
                id {uuid} PRIMARY KEY,
                a2_id BIGINT NOT NULL UNIQUE,
                phase TEXT NOT NULL DEFAULT '',
                state TEXT NOT NULL,
                resume_state TEXT,
                attempt INTEGER NOT NULL DEFAULT 0,
                next_run_at BIGINT NOT NULL,
                lease_owner {uuid},
                lease_until BIGINT,
                last_error TEXT,
                a3_correspondence_id {uuid},
                dialog_id {uuid},
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL
            )"
        ),
        // The claim: one state's due rows in due order. Partial, so the hundreds of millions of
        // finished items are not in it. Leased rows stay in it; the claim predicate skips them.
        format!(
            "CREATE INDEX IF NOT EXISTS workflows_claim ON workflows (state, next_run_at) WHERE state IN {}",
            crate::WorkflowState::sql_list(&crate::WorkflowState::RUNNABLE)
        ),
        "CREATE INDEX IF NOT EXISTS workflows_lease ON workflows (lease_owner) WHERE lease_owner IS NOT NULL"
            .into(),
        "CREATE INDEX IF NOT EXISTS workflows_phase_state ON workflows (phase, state)".into(),
        format!(
            "CREATE TABLE IF NOT EXISTS workflow_history (
                id {serial},
                workflow_id {uuid} NOT NULL,
                from_state TEXT,
                to_state TEXT NOT NULL,
                attempt INTEGER NOT NULL,
                at BIGINT NOT NULL,
                node {uuid},
                error TEXT
            )"
        ),
        "CREATE INDEX IF NOT EXISTS workflow_history_workflow ON workflow_history (workflow_id, id)".into(),
        "CREATE TABLE IF NOT EXISTS a2_records (
            a2_id BIGINT PRIMARY KEY,
            payload TEXT NOT NULL,
            created BIGINT NOT NULL,
            service_owner TEXT NOT NULL,
            resource_id TEXT NOT NULL,
            imported_at BIGINT NOT NULL
        )"
        .into(),
        "CREATE INDEX IF NOT EXISTS a2_records_created ON a2_records (created)".into(),
        "CREATE INDEX IF NOT EXISTS a2_records_owner ON a2_records (service_owner, created)".into(),
        "CREATE INDEX IF NOT EXISTS a2_records_resource ON a2_records (resource_id, created)".into(),
        format!(
            "CREATE TABLE IF NOT EXISTS a2_events (
                id {serial},
                a2_id BIGINT NOT NULL,
                kind TEXT NOT NULL,
                dedup_key TEXT NOT NULL,
                payload TEXT NOT NULL,
                occurred_at BIGINT NOT NULL,
                synced_at BIGINT,
                imported_at BIGINT NOT NULL,
                UNIQUE (a2_id, dedup_key)
            )"
        ),
        "CREATE INDEX IF NOT EXISTS a2_events_pending ON a2_events (a2_id, occurred_at) WHERE synced_at IS NULL"
            .into(),
        format!(
            "CREATE TABLE IF NOT EXISTS schedule_runs (
                id {serial},
                schedule TEXT NOT NULL,
                fire_time BIGINT NOT NULL,
                node {uuid} NOT NULL,
                started_at BIGINT NOT NULL,
                finished_at BIGINT,
                outcome TEXT,
                counts TEXT,
                UNIQUE (schedule, fire_time)
            )"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS nodes (
                id {uuid} PRIMARY KEY,
                hostname TEXT NOT NULL,
                pid INTEGER NOT NULL,
                started_at BIGINT NOT NULL,
                last_heartbeat BIGINT NOT NULL,
                stopped_at BIGINT
            )"
        ),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for sql in statements(db.get_database_backend()) {
            db.execute_unprepared(&sql).await?;
        }
        if db.get_database_backend() == DbBackend::Postgres {
            // Every transition rewrites a workflows row: vacuum and analyze it far more often than
            // the 20% default, and leave room on each page for HOT updates.
            db.execute_unprepared(
                "ALTER TABLE workflows SET (fillfactor = 85, autovacuum_vacuum_scale_factor = 0.02, \
                 autovacuum_analyze_scale_factor = 0.02)",
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for table in ["nodes", "schedule_runs", "a2_events", "a2_records", "workflow_history", "workflows"] {
            db.execute_unprepared(&format!("DROP TABLE IF EXISTS {table}")).await?;
        }
        Ok(())
    }
}
