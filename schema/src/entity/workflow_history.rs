//! `workflow_history`: one row per committed transition, the audit trail `show` prints.

use crate::WorkflowState;
use sea_orm::entity::prelude::*;
use serde::Serialize;

/// One transition of one workflow.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "workflow_history")]
pub struct Model {
    /// Insertion order.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The workflow.
    pub workflow_id: Uuid,
    /// State before (None when the item was created).
    pub from_state: Option<WorkflowState>,
    /// State after.
    pub to_state: WorkflowState,
    /// The attempt count after the transition.
    pub attempt: i32,
    /// Epoch ms.
    pub at: i64,
    /// The node that committed it (None for operator actions and imports).
    pub node: Option<Uuid>,
    /// The error that caused it, or the operator's note.
    pub error: Option<String>,
    /// The operator action that wrote the row and where it came from (`retry via http`); None
    /// for the engine's own transitions.
    pub operator: Option<String>,
}

/// No navigated relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
