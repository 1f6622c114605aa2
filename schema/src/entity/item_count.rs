//! `item_counts`: items per import batch and state, kept by the writes that change
//! `workflows.state` in their own transaction, so counting never scans `workflows`. A counter is
//! spread over slots (one per store) so concurrent writers do not wait on one row; read the sum.

use sea_orm::entity::prelude::*;
use serde::Serialize;

/// One slot of one (batch, state) counter.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "item_counts")]
pub struct Model {
    /// Import batch label.
    #[sea_orm(primary_key, auto_increment = false)]
    pub batch: String,
    /// Stored state text.
    #[sea_orm(primary_key, auto_increment = false)]
    pub state: String,
    /// The writer's slot; readers sum over slots.
    #[sea_orm(primary_key, auto_increment = false)]
    pub slot: i32,
    /// This slot's share of the count (may be negative: a slot counts what its writer moved).
    pub n: i64,
}

/// No navigated relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
