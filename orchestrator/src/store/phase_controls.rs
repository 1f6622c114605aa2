//! Run-time switches (`phase_controls`): `migrator phase pause|resume NAME` writes a row every
//! node reads on each claim cycle, so a pause takes effect everywhere within one cycle and
//! survives restarts.

use super::StoreError;
use super::{Origin, Store};
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
    /// Where the change came from.
    pub changed_by: Origin,
}

impl Store {
    /// Pauses or resumes `phase` (it need not be running), recording where the change came from.
    pub async fn set_paused(
        &self,
        phase: &str,
        paused: bool,
        by: Origin,
    ) -> Result<PhaseControl, StoreError> {
        let now = self.clock().now_ms();
        let row = phase_control::ActiveModel {
            phase: Set(phase.to_string()),
            paused: Set(paused),
            changed_at: Set(now),
            changed_by: Set(Some(by.as_str().to_string())),
        };
        phase_control::Entity::insert(row)
            .on_conflict(
                OnConflict::column(phase_control::Column::Phase)
                    .update_columns([
                        phase_control::Column::Paused,
                        phase_control::Column::ChangedAt,
                        phase_control::Column::ChangedBy,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(self.db())
            .await?;
        Ok(PhaseControl { phase: phase.to_string(), paused, changed_at: now, changed_by: by })
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
