//! `schedule_runs`: one row per fired schedule; `(schedule, fire_time)` is unique so a firing runs once.

use sea_orm::entity::prelude::*;
use serde::Serialize;

/// One run of one schedule.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "schedule_runs")]
pub struct Model {
    /// Insertion order.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Schedule name.
    pub schedule: String,
    /// Epoch ms of the planned fire time.
    pub fire_time: i64,
    /// The node that claimed the firing.
    pub node: Uuid,
    /// Epoch ms.
    pub started_at: i64,
    /// Epoch ms; None while running.
    pub finished_at: Option<i64>,
    /// `ok`, `error: ...`, `skipped`.
    pub outcome: Option<String>,
    /// Counts as JSON.
    pub counts: Option<String>,
}

/// No navigated relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
