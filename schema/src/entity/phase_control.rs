//! `phase_controls`: the run-time pause switch of each phase, read by every node on each claim
//! cycle (so a pause reaches all nodes within one cycle and survives restarts).

use sea_orm::entity::prelude::*;
use serde::Serialize;

/// One phase's switch.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "phase_controls")]
pub struct Model {
    /// Phase name, as configured.
    #[sea_orm(primary_key, auto_increment = false)]
    pub phase: String,
    /// Paused? (BOOLEAN on PostgreSQL, 0/1 INTEGER on SQLite.)
    pub paused: bool,
    /// Epoch ms of the last change.
    pub changed_at: i64,
    /// Where the last change came from (`cli`, `http`).
    pub changed_by: Option<String>,
}

/// No navigated relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
