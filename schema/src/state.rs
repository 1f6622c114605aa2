//! The workflow state enum, stored as text through a SeaORM active enum. What each state is
//! (runnable by which step, parked, finished) is in the lifecycle table (`lifecycle.rs`).

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// Where one A2 correspondence is on its way to Altinn 3.
///
/// The happy path is `CreatedInA2 → Migrated → DialogCreated → Synced`; `SyncPending` is a Synced
/// item with A2 events not yet replayed; `Failed`, `Rejected` and `Cancelled` are parked states an
/// operator can bring back with `retry`. Only the state machine decides transitions between these.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    EnumIter,
    DeriveActiveEnum,
    Serialize,
    Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[serde(rename_all = "snake_case")]
pub enum WorkflowState {
    /// Known to us, not yet in A3.
    #[sea_orm(string_value = "created_in_a2")]
    CreatedInA2,
    /// A3 holds it with `IsMigrating=true`.
    #[sea_orm(string_value = "migrated")]
    Migrated,
    /// A3 created the Dialogporten dialog; we hold its id.
    #[sea_orm(string_value = "dialog_created")]
    DialogCreated,
    /// Every known A2 event has been accepted by A3.
    #[sea_orm(string_value = "synced")]
    Synced,
    /// Synced, but new A2 events wait to be replayed.
    #[sea_orm(string_value = "sync_pending")]
    SyncPending,
    /// Retries exhausted or a permanent error; `resume_state` remembers the step.
    #[sea_orm(string_value = "failed")]
    Failed,
    /// Invalid input: will not succeed without a data fix.
    #[sea_orm(string_value = "rejected")]
    Rejected,
    /// Stopped by an operator.
    #[sea_orm(string_value = "cancelled")]
    Cancelled,
}

impl WorkflowState {
    /// The stored text of this state.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CreatedInA2 => "created_in_a2",
            Self::Migrated => "migrated",
            Self::DialogCreated => "dialog_created",
            Self::Synced => "synced",
            Self::SyncPending => "sync_pending",
            Self::Failed => "failed",
            Self::Rejected => "rejected",
            Self::Cancelled => "cancelled",
        }
    }
}

impl std::fmt::Display for WorkflowState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// A state name that is not one of [`WorkflowState::ALL`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseStateError(pub String);

impl std::fmt::Display for ParseStateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<_> = WorkflowState::ALL.iter().map(|s| s.as_str()).collect();
        write!(f, "unknown state `{}` (expected one of: {})", self.0, names.join(", "))
    }
}

impl std::error::Error for ParseStateError {}

impl std::str::FromStr for WorkflowState {
    type Err = ParseStateError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase().replace('-', "_");
        Self::ALL
            .into_iter()
            .find(|st| st.as_str() == wanted || format!("{st:?}").eq_ignore_ascii_case(&wanted))
            .ok_or_else(|| ParseStateError(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in WorkflowState::ALL {
            assert_eq!(s.as_str().parse::<WorkflowState>().unwrap(), s);
            assert_eq!(format!("{s:?}").parse::<WorkflowState>().unwrap(), s);
        }
        assert!("nope".parse::<WorkflowState>().is_err());
        // Tables line up: the name honours width and alignment.
        assert_eq!(format!("{:<8}|{:>7}", WorkflowState::Failed, WorkflowState::Synced), "failed  | synced");
    }
}
