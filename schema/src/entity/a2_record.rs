//! `a2_records`: the imported A2 correspondence, as JSON plus the columns phases select on.

use sea_orm::entity::prelude::*;
use serde::Serialize;

/// One A2 correspondence as exported.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "a2_records")]
pub struct Model {
    /// `Altinn2CorrespondenceId`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub a2_id: i64,
    /// The record as JSON, without its histories (those are rows of `a2_events`).
    pub payload: String,
    /// Epoch ms of creation in A2 (phases select date ranges on it).
    pub created: i64,
    /// Service owner organisation number.
    pub service_owner: String,
    /// A3 resource id.
    pub resource_id: String,
    /// Epoch ms of the import that wrote this version.
    pub imported_at: i64,
}

/// No navigated relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
