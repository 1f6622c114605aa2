//! Run-time switches: `migrator phase pause|resume NAME` writes a row every node reads on each
//! claim cycle, so a pause takes effect everywhere within one cycle and survives restarts.

use crate::store::Store;
use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};
use serde::Serialize;
use std::collections::HashSet;

/// A phase's switch as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PhaseControl {
    /// Phase name.
    pub phase: String,
    /// Paused?
    pub paused: bool,
    /// Epoch ms of the last change.
    pub changed_at: i64,
}

/// Pauses or resumes `phase` (it need not be running).
pub async fn set_paused(store: &Store, phase: &str, paused: bool) -> Result<PhaseControl, DbErr> {
    let now = store.clock().now_ms();
    let backend = store.db().get_database_backend();
    let (sql, flag) = match backend {
        DbBackend::Postgres => (
            "INSERT INTO phase_controls (phase, paused, changed_at) VALUES ($1, $2, $3) \
             ON CONFLICT (phase) DO UPDATE SET paused = excluded.paused, changed_at = excluded.changed_at",
            sea_orm::Value::from(paused),
        ),
        _ => (
            "INSERT INTO phase_controls (phase, paused, changed_at) VALUES (?, ?, ?) \
             ON CONFLICT (phase) DO UPDATE SET paused = excluded.paused, changed_at = excluded.changed_at",
            sea_orm::Value::from(i32::from(paused)),
        ),
    };
    store
        .db()
        .execute_raw(Statement::from_sql_and_values(backend, sql, [phase.into(), flag, now.into()]))
        .await?;
    Ok(PhaseControl { phase: phase.to_string(), paused, changed_at: now })
}

/// The paused phases.
pub async fn paused(store: &Store) -> Result<HashSet<String>, DbErr> {
    let backend = store.db().get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => "SELECT phase FROM phase_controls WHERE paused",
        _ => "SELECT phase FROM phase_controls WHERE paused <> 0",
    };
    let rows = store.db().query_all_raw(Statement::from_string(backend, sql)).await?;
    rows.iter().map(|r| r.try_get::<String>("", "phase")).collect()
}
