//! `transition_minutes`: transitions written per epoch minute, per writer slot, for a throughput
//! chart over the last hours without reading history. Housekeeping drops old minutes.

use sea_orm::entity::prelude::*;
use serde::Serialize;

/// One slot of one minute's count.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "transition_minutes")]
pub struct Model {
    /// Epoch minute (epoch ms / 60 000).
    #[sea_orm(primary_key, auto_increment = false)]
    pub minute: i64,
    /// The writer's slot; readers sum over slots.
    #[sea_orm(primary_key, auto_increment = false)]
    pub slot: i32,
    /// Transitions written in that minute by that slot.
    pub n: i64,
}

/// No navigated relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
