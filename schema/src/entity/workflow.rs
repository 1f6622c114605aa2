//! `workflows`: one row per A2 correspondence, and at the same time its queue entry.

use crate::WorkflowState;
use sea_orm::entity::prelude::*;
use serde::Serialize;

/// A correspondence's durable state machine. A transition is one UPDATE of this row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "workflows")]
pub struct Model {
    /// Our id (UUID v7).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// `Altinn2CorrespondenceId`; unique.
    #[sea_orm(unique)]
    pub a2_id: i64,
    /// The import batch the item came with (`import --batch`; not a config phase).
    pub batch: String,
    /// Current state.
    pub state: WorkflowState,
    /// For parked states: the state to return to on `retry` (and so the step that failed).
    pub resume_state: Option<WorkflowState>,
    /// Failed attempts of the current step.
    pub attempt: i32,
    /// Epoch ms when the item is next due.
    pub next_run_at: i64,
    /// Node holding the lease, if any.
    pub lease_owner: Option<Uuid>,
    /// Epoch ms when the lease expires.
    pub lease_until: Option<i64>,
    /// The claim the lease was taken by (see the `liveness` migration); meaningless while
    /// `lease_owner` is NULL.
    #[serde(skip)]
    pub lease_claim: Option<Uuid>,
    /// The last error, cleared on success.
    pub last_error: Option<String>,
    /// `last_error` reduced to its group (`schema::reason`): what `migrator failures` counts by.
    /// Shown as `failure_reason` (`stuck` lists items with a `reason` of its own).
    #[serde(rename = "failure_reason")]
    pub reason: Option<String>,
    /// Identical server errors (5xx) in a row of the current step; the retry policy caps them.
    pub same_error_count: i32,
    /// The A3 `correspondenceId`, once migrated.
    pub a3_correspondence_id: Option<Uuid>,
    /// The Dialogporten dialog id, once made available.
    pub dialog_id: Option<Uuid>,
    /// Epoch ms of the A2 correspondence's creation (from its record; 0 without one). Phases
    /// select and order by it.
    pub a2_created: i64,
    /// The A2 service owner (phases select by it).
    pub service_owner: String,
    /// The A2 resource id (phases select by it).
    pub resource_id: String,
    /// Epoch ms of creation.
    pub created_at: i64,
    /// Epoch ms of the last change.
    pub updated_at: i64,
}

/// No relations are navigated through SeaORM; history is looked up by id.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
