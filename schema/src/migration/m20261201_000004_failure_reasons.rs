//! Failure reasons and identical server errors: `workflows.reason` (the normalised `last_error`
//! that `migrator failures` groups by, see [`crate::reason`]) with a partial index over the
//! Failed and Rejected items, and `workflows.same_error_count` (identical 5xx answers in a row,
//! which the retry policy caps). Existing errors get their reason here.

use crate::WorkflowState;
use crate::reason::Reason;
use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait, Value};
use sea_orm_migration::prelude::*;
use uuid::Uuid;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

/// Rows per backfill transaction.
const PAGE: u64 = 1000;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for (column, ty) in [("reason", "TEXT"), ("same_error_count", "INTEGER NOT NULL DEFAULT 0")] {
            if !manager.has_column("workflows", column).await? {
                db.execute_unprepared(&format!("ALTER TABLE workflows ADD COLUMN {column} {ty}")).await?;
            }
        }
        db.execute_unprepared(
            "CREATE INDEX IF NOT EXISTS workflows_reason ON workflows (reason, updated_at) \
             WHERE state IN ('failed', 'rejected')",
        )
        .await?;
        backfill(db).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("DROP INDEX IF EXISTS workflows_reason").await?;
        for column in ["reason", "same_error_count"] {
            db.execute_unprepared(&format!("ALTER TABLE workflows DROP COLUMN {column}")).await?;
        }
        Ok(())
    }
}

/// Gives every row with an error and no reason its reason, a page at a time.
async fn backfill(db: &SchemaManagerConnection<'_>) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let (p1, p2) = match backend {
        DbBackend::Postgres => ("$1", "$2::uuid"),
        _ => ("?", "?"),
    };
    loop {
        let rows = db
            .query_all_raw(Statement::from_string(
                backend,
                format!(
                    "SELECT id, a2_id, state, resume_state, last_error FROM workflows \
                     WHERE last_error IS NOT NULL AND reason IS NULL LIMIT {PAGE}"
                ),
            ))
            .await?;
        if rows.is_empty() {
            return Ok(());
        }
        let txn = db.begin().await?;
        for r in &rows {
            let id: Uuid = r.try_get("", "id")?;
            let a2_id: i64 = r.try_get("", "a2_id")?;
            let state: String = r.try_get("", "state")?;
            let resume: Option<String> = r.try_get("", "resume_state")?;
            let error: String = r.try_get("", "last_error")?;
            let parse = |s: &str| s.parse::<WorkflowState>().ok();
            let step_state = match parse(&state) {
                Some(s) if s.is_runnable() => s,
                _ => resume.as_deref().and_then(parse).unwrap_or(WorkflowState::Synced),
            };
            let reason = Reason::of(step_state, a2_id, &error).key();
            txn.execute_raw(Statement::from_sql_and_values(
                backend,
                format!("UPDATE workflows SET reason = {p1} WHERE id = {p2}"),
                [Value::from(reason), Value::from(id)],
            ))
            .await?;
        }
        txn.commit().await?;
    }
}
