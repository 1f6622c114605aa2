//! The lifecycle table: for every state, in lifecycle order, the step that advances it and what
//! kind of rest it is. Everything that lists states by kind — the claim query's runnable states,
//! the steps' states, `plan`'s remaining work, `stuck`, history retention, failure grouping, the
//! migrations' partial indexes — reads it from here, so a new state is added in one place.

use crate::WorkflowState::{self, *};
use serde::{Deserialize, Serialize};

/// The three kinds of work, one per group of runnable states, in lifecycle order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// Upload attachments and the correspondence (CreatedInA2 → Migrated).
    Migrate,
    /// Create the dialog (Migrated → DialogCreated).
    MakeAvailable,
    /// Replay pending A2 events (DialogCreated | SyncPending → Synced).
    Sync,
}

/// What a state is to the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rest {
    /// A worker step advances it: the claim takes it when due.
    Runnable(StepKind),
    /// Done for now: nothing runs until a new A2 event arrives.
    Synced,
    /// Parked by a failure: waits for an operator (`retry`), counted in `failures`.
    ParkedByFailure,
    /// Parked by an operator (`cancel`): waits for an operator.
    ParkedByOperator,
}

/// One row of the lifecycle table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stage {
    /// The state.
    pub state: WorkflowState,
    /// What it is.
    pub rest: Rest,
    /// Finished, as far as history retention goes: its history may be pruned.
    pub finished: bool,
    /// Where a successful step takes it (runnable states only).
    pub success: Option<WorkflowState>,
    /// Where a successful step that also brought the dialog id takes it, when that is further
    /// than `success`: a migrate call with `makeAvailable: true` that A3 answered with the
    /// dialog it created in the call skips make-available (the id is stored in the same write).
    pub with_dialog: Option<WorkflowState>,
}

/// Every state in lifecycle order, with what it is.
pub const LIFECYCLE: [Stage; 8] = [
    Stage {
        state: CreatedInA2,
        rest: Rest::Runnable(StepKind::Migrate),
        finished: false,
        success: Some(Migrated),
        with_dialog: Some(DialogCreated),
    },
    Stage {
        state: Migrated,
        rest: Rest::Runnable(StepKind::MakeAvailable),
        finished: false,
        success: Some(DialogCreated),
        with_dialog: None,
    },
    Stage {
        state: DialogCreated,
        rest: Rest::Runnable(StepKind::Sync),
        finished: false,
        success: Some(Synced),
        with_dialog: None,
    },
    Stage { state: Synced, rest: Rest::Synced, finished: true, success: None, with_dialog: None },
    Stage {
        state: SyncPending,
        rest: Rest::Runnable(StepKind::Sync),
        finished: false,
        success: Some(Synced),
        with_dialog: None,
    },
    Stage { state: Failed, rest: Rest::ParkedByFailure, finished: false, success: None, with_dialog: None },
    Stage { state: Rejected, rest: Rest::ParkedByFailure, finished: true, success: None, with_dialog: None },
    Stage {
        state: Cancelled,
        rest: Rest::ParkedByOperator,
        finished: true,
        success: None,
        with_dialog: None,
    },
];

/// Which states of the table pass a filter (a `const fn` can not take a closure).
#[derive(Clone, Copy)]
enum Filter {
    All,
    Runnable,
    Step(StepKind),
    Parked,
    ParkedByFailure,
    Finished,
}

const fn step_eq(a: StepKind, b: StepKind) -> bool {
    a as u8 == b as u8
}

const fn passes(stage: &Stage, filter: Filter) -> bool {
    match filter {
        Filter::All => true,
        Filter::Runnable => matches!(stage.rest, Rest::Runnable(_)),
        Filter::Step(k) => matches!(stage.rest, Rest::Runnable(s) if step_eq(s, k)),
        Filter::Parked => matches!(stage.rest, Rest::ParkedByFailure | Rest::ParkedByOperator),
        Filter::ParkedByFailure => matches!(stage.rest, Rest::ParkedByFailure),
        Filter::Finished => stage.finished,
    }
}

/// The states passing `filter`, in lifecycle order; `N` must be their number (checked when
/// compiling).
const fn select<const N: usize>(filter: Filter) -> [WorkflowState; N] {
    let mut out = [CreatedInA2; N];
    let (mut i, mut n) = (0, 0);
    while i < LIFECYCLE.len() {
        if passes(&LIFECYCLE[i], filter) {
            assert!(n < N, "more states pass the filter than the array holds");
            out[n] = LIFECYCLE[i].state;
            n += 1;
        }
        i += 1;
    }
    assert!(n == N, "fewer states pass the filter than the array holds");
    out
}

impl WorkflowState {
    /// Every state, in lifecycle order.
    pub const ALL: [WorkflowState; 8] = select(Filter::All);
    /// States that a worker step advances (the claim query selects only these).
    pub const RUNNABLE: [WorkflowState; 4] = select(Filter::Runnable);
    /// States an operator may `retry` from.
    pub const PARKED: [WorkflowState; 3] = select(Filter::Parked);
    /// States a failure parks an item in (what `failures` groups).
    pub const PARKED_BY_FAILURE: [WorkflowState; 2] = select(Filter::ParkedByFailure);
    /// States an item is finished in, as far as history retention goes.
    pub const FINISHED: [WorkflowState; 3] = select(Filter::Finished);

    /// This state's row of the lifecycle table.
    pub fn stage(self) -> &'static Stage {
        LIFECYCLE.iter().find(|s| s.state == self).expect("every state has a row in LIFECYCLE")
    }

    /// True for the states a worker step advances.
    pub fn is_runnable(self) -> bool {
        matches!(self.stage().rest, Rest::Runnable(_))
    }

    /// True for the states an operator may `retry` from.
    pub fn is_parked(self) -> bool {
        matches!(self.stage().rest, Rest::ParkedByFailure | Rest::ParkedByOperator)
    }

    /// `('a', 'b')`: the stored names of `states` as an SQL literal list (they are enum names,
    /// safe to inline; partial indexes and their queries must spell the list the same way).
    pub fn sql_list(states: &[WorkflowState]) -> String {
        let names: Vec<String> = states.iter().map(|s| format!("'{}'", s.as_str())).collect();
        format!("({})", names.join(", "))
    }
}

const MIGRATE_STATES: [WorkflowState; 1] = select(Filter::Step(StepKind::Migrate));
const MAKE_AVAILABLE_STATES: [WorkflowState; 1] = select(Filter::Step(StepKind::MakeAvailable));
const SYNC_STATES: [WorkflowState; 2] = select(Filter::Step(StepKind::Sync));

impl StepKind {
    /// All steps in lifecycle order.
    pub const ALL: [StepKind; 3] = [Self::Migrate, Self::MakeAvailable, Self::Sync];

    /// The step that advances an item in `state`, if the state is runnable.
    pub fn for_state(state: WorkflowState) -> Option<StepKind> {
        match state.stage().rest {
            Rest::Runnable(step) => Some(step),
            _ => None,
        }
    }

    /// The runnable states this step advances, in lifecycle order.
    pub fn states(self) -> &'static [WorkflowState] {
        match self {
            Self::Migrate => &MIGRATE_STATES,
            Self::MakeAvailable => &MAKE_AVAILABLE_STATES,
            Self::Sync => &SYNC_STATES,
        }
    }

    /// Name used in logs, config and output.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Migrate => "migrate",
            Self::MakeAvailable => "make_available",
            Self::Sync => "sync",
        }
    }
}

impl std::fmt::Display for StepKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_lists_every_state_once_in_enum_order() {
        use sea_orm::Iterable;
        let from_enum: Vec<WorkflowState> = WorkflowState::iter().collect();
        assert_eq!(WorkflowState::ALL.to_vec(), from_enum);
    }

    #[test]
    fn lists_by_kind() {
        assert_eq!(WorkflowState::RUNNABLE, [CreatedInA2, Migrated, DialogCreated, SyncPending]);
        assert_eq!(WorkflowState::PARKED, [Failed, Rejected, Cancelled]);
        assert_eq!(WorkflowState::PARKED_BY_FAILURE, [Failed, Rejected]);
        assert_eq!(WorkflowState::FINISHED, [Synced, Rejected, Cancelled]);
        assert_eq!(StepKind::Sync.states(), [DialogCreated, SyncPending]);
        assert_eq!(StepKind::for_state(Migrated), Some(StepKind::MakeAvailable));
        assert_eq!(StepKind::for_state(Failed), None);
        assert_eq!(WorkflowState::sql_list(&[Synced, SyncPending]), "('synced', 'sync_pending')");
    }

    #[test]
    fn every_step_advances_some_state() {
        for stage in LIFECYCLE {
            let runnable = matches!(stage.rest, Rest::Runnable(_));
            assert_eq!(
                stage.success.is_some(),
                runnable,
                "{}: only runnable states have a successor",
                stage.state
            );
            if let (Some(skip), Some(next)) = (stage.with_dialog, stage.success) {
                assert!(
                    WorkflowState::ALL.iter().position(|s| *s == skip)
                        > WorkflowState::ALL.iter().position(|s| *s == next),
                    "{}: a shortcut leads further than the step",
                    stage.state
                );
                assert_eq!(skip, DialogCreated, "only the dialog id can be brought early");
            }
        }
        for step in StepKind::ALL {
            assert!(!step.states().is_empty(), "{step}");
            assert!(step.states().iter().all(|s| StepKind::for_state(*s) == Some(step)));
        }
    }
}
