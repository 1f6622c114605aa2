//! `a2_events`: A2-side status, notification and forwarding events waiting to be replayed into A3.

use sea_orm::entity::prelude::*;
use serde::Serialize;

/// One A2 event. `(a2_id, dedup_key)` is unique: the key is built the way A3 deduplicates
/// (timestamps truncated to the second), so a near-duplicate from another A2 source is never stored.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "a2_events")]
pub struct Model {
    /// Insertion order.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The correspondence it belongs to.
    pub a2_id: i64,
    /// `status`, `notification` or `forwarding`.
    pub kind: String,
    /// A3's dedup key for this kind.
    pub dedup_key: String,
    /// The event as JSON; empty when `packed` holds it. Read it with [`Model::json`].
    pub payload: String,
    /// The same JSON packed (see [`crate::packed`]); rows from before packing have none.
    #[serde(skip)]
    pub packed: Option<Vec<u8>>,
    /// Epoch ms when it happened in A2 (events are replayed in this order).
    pub occurred_at: i64,
    /// Epoch ms when A3 accepted it; None while pending.
    pub synced_at: Option<i64>,
    /// Epoch ms of import.
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
