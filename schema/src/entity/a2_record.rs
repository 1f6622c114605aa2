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
    /// The record as JSON, without its histories (those are rows of `a2_events`); empty when
    /// `packed` holds it. Read it with [`Model::json`].
    pub payload: String,
    /// The same JSON packed (see [`crate::packed`]); rows from before packing have none.
    #[serde(skip)]
    pub packed: Option<Vec<u8>>,
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

impl Model {
    /// The stored JSON, unpacked; `Err` says why a damaged value cannot be read.
    pub fn json(&self) -> Result<String, String> {
        crate::packed::json_of(self.payload.clone(), self.packed.as_deref())
    }
}
