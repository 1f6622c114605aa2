//! Run-time switches (`phase_controls`): `migrator phase pause|resume NAME` writes a row every
//! node reads on each claim cycle, so a pause takes effect everywhere within one cycle and
//! survives restarts.

use super::Store;
use super::StoreError;
use schema::entity::phase_control;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
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

impl Store {
    /// Pauses or resumes `phase` (it need not be running).
    pub async fn set_paused(&self, phase: &str, paused: bool) -> Result<PhaseControl, StoreError> {
        let now = self.clock().now_ms();
        let row = phase_control::ActiveModel {
            phase: Set(phase.to_string()),
            paused: Set(paused),
            changed_at: Set(now),
        };
        phase_control::Entity::insert(row)
            .on_conflict(
                OnConflict::column(phase_control::Column::Phase)
                    .update_columns([phase_control::Column::Paused, phase_control::Column::ChangedAt])
                    .to_owned(),
            )
            .exec_without_returning(self.db())
            .await?;
        Ok(PhaseControl { phase: phase.to_string(), paused, changed_at: now })
    }

    /// The paused phases.
    pub async fn paused_phases(&self) -> Result<HashSet<String>, StoreError> {
        let names: Vec<String> = phase_control::Entity::find()
            .select_only()
            .column(phase_control::Column::Phase)
            .filter(phase_control::Column::Paused.eq(true))
            .into_tuple()
            .all(self.db())
            .await?;
        Ok(names.into_iter().collect())
    }
}
