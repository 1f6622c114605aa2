//! The one place that decides every transition: `(state, event) -> Transition`.
//!
//! Pure: no I/O, no clock, no randomness. The store applies the result (and computes a retry's
//! due time from the retry policy); no other code decides a state.

use schema::WorkflowState;
use std::time::Duration;
use workers::StepOutcome;

/// Something that happened to an item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The item's step finished with this outcome.
    Step(StepOutcome),
    /// A new A2 event arrived for the item.
    NewA2Event,
    /// An operator asked to run it again.
    OperatorRetry,
    /// An operator asked to stop it.
    OperatorCancel,
}

impl Event {
    /// A short name for tables and logs.
    pub fn name(&self) -> &'static str {
        match self {
            Event::Step(StepOutcome::Done { .. }) => "done",
            Event::Step(StepOutcome::Retryable(_)) => "retryable",
            Event::Step(StepOutcome::RateLimited { .. }) => "rate_limited",
            Event::Step(StepOutcome::Permanent(_)) => "permanent",
            Event::Step(StepOutcome::Invalid(_)) => "invalid",
            Event::NewA2Event => "new_a2_event",
            Event::OperatorRetry => "operator_retry",
            Event::OperatorCancel => "operator_cancel",
        }
    }
}

/// The item's facts the decision depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facts {
    /// Current state.
    pub state: WorkflowState,
    /// Failed attempts of the current step so far.
    pub attempt: i32,
    /// State to return to from a parked state.
    pub resume_state: Option<WorkflowState>,
    /// Attempts allowed per step before the item fails.
    pub max_attempts: i32,
}

/// When the item is next due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// Immediately.
    Now,
    /// After the retry policy's delay for this attempt, and at least `at_least`.
    Backoff {
        /// The attempt number to key the policy by.
        attempt: i32,
        /// A floor from the server (Retry-After).
        at_least: Duration,
    },
    /// Not runnable: the due time does not matter.
    Never,
}

/// The decided change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// State before.
    pub from: WorkflowState,
    /// State after (may equal `from` for a retry).
    pub to: WorkflowState,
    /// Attempt count after.
    pub attempt: i32,
    /// When it is next due.
    pub due: Due,
    /// The error to record as `last_error` and in history; for operator events, the note for
    /// history (the item's `last_error` is then kept, so the reason it stopped stays visible).
    pub error: Option<String>,
    /// True for operator events: `error` is a note, not the item's new last error.
    pub by_operator: bool,
    /// State to return to on operator retry (kept for parked states only).
    pub resume_state: Option<WorkflowState>,
}

/// Why no transition happens.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    /// The event makes no sense in this state (e.g. a step result for a Synced item).
    #[error("{event} is not allowed in state {state}")]
    NotAllowed {
        /// The state.
        state: WorkflowState,
        /// The event's name.
        event: &'static str,
    },
    /// The event changes nothing (e.g. cancelling a cancelled item).
    #[error("{event} changes nothing in state {state}")]
    Unchanged {
        /// The state.
        state: WorkflowState,
        /// The event's name.
        event: &'static str,
    },
}

/// The state a successful step leads to.
fn after_success(state: WorkflowState) -> Option<WorkflowState> {
    use WorkflowState::*;
    match state {
        CreatedInA2 => Some(Migrated),
        Migrated => Some(DialogCreated),
        DialogCreated | SyncPending => Some(Synced),
        Synced | Failed | Rejected | Cancelled => None,
    }
}

/// Decide what `event` does to an item with `facts`.
pub fn decide(facts: Facts, event: &Event) -> Result<Transition, TransitionError> {
    use WorkflowState::*;
    let state = facts.state;
    let not_allowed = || TransitionError::NotAllowed { state, event: event.name() };
    let unchanged = || TransitionError::Unchanged { state, event: event.name() };
    let by_operator = matches!(event, Event::OperatorRetry | Event::OperatorCancel);
    let to = |to: WorkflowState, attempt: i32, due: Due, error: Option<String>, resume| Transition {
        from: state,
        to,
        attempt,
        due,
        error,
        by_operator,
        resume_state: resume,
    };
    let park = |to_state: WorkflowState, error: String| Transition {
        from: state,
        to: to_state,
        attempt: facts.attempt,
        due: Due::Never,
        error: Some(error),
        by_operator,
        resume_state: Some(state),
    };

    match event {
        Event::Step(outcome) => {
            if !state.is_runnable() {
                return Err(not_allowed());
            }
            Ok(match outcome {
                StepOutcome::Done { .. } => {
                    let next = after_success(state).ok_or_else(not_allowed)?;
                    let due = if next.is_runnable() { Due::Now } else { Due::Never };
                    to(next, 0, due, None, None)
                }
                StepOutcome::Retryable(e) => {
                    let attempt = facts.attempt + 1;
                    if attempt >= facts.max_attempts {
                        let mut t = park(Failed, format!("gave up after {attempt} attempts: {e}"));
                        t.attempt = attempt;
                        t
                    } else {
                        let due = Due::Backoff { attempt, at_least: Duration::ZERO };
                        to(state, attempt, due, Some(e.clone()), None)
                    }
                }
                // Being told to slow down is not the item's fault: the attempt count stays.
                StepOutcome::RateLimited { error, retry_after } => {
                    let due = Due::Backoff { attempt: facts.attempt.max(1), at_least: *retry_after };
                    to(state, facts.attempt, due, Some(error.clone()), None)
                }
                StepOutcome::Permanent(e) => park(Failed, e.clone()),
                StepOutcome::Invalid(reason) => park(Rejected, reason.clone()),
            })
        }
        Event::NewA2Event => match state {
            Synced => Ok(to(SyncPending, 0, Due::Now, None, None)),
            // Earlier states replay all pending events when they reach the sync step anyway.
            CreatedInA2 | Migrated | DialogCreated | SyncPending | Failed | Rejected | Cancelled => {
                Err(unchanged())
            }
        },
        Event::OperatorRetry => match state {
            Failed | Rejected | Cancelled => {
                let back = facts.resume_state.unwrap_or(CreatedInA2);
                let due = if back.is_runnable() { Due::Now } else { Due::Never };
                Ok(to(back, 0, due, Some(format!("operator retry from {state}")), None))
            }
            CreatedInA2 | Migrated | DialogCreated | Synced | SyncPending => Err(not_allowed()),
        },
        Event::OperatorCancel => match state {
            CreatedInA2 | Migrated | DialogCreated | Synced | SyncPending => {
                Ok(park(Cancelled, "cancelled by operator".into()))
            }
            Failed | Rejected => {
                let mut t = park(Cancelled, "cancelled by operator".into());
                t.resume_state = facts.resume_state;
                Ok(t)
            }
            Cancelled => Err(unchanged()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use WorkflowState::*;

    fn facts(state: WorkflowState) -> Facts {
        Facts { state, attempt: 2, resume_state: Some(Migrated), max_attempts: 5 }
    }

    fn events() -> Vec<Event> {
        vec![
            Event::Step(StepOutcome::done()),
            Event::Step(StepOutcome::Retryable("503".into())),
            Event::Step(StepOutcome::RateLimited {
                error: "429".into(),
                retry_after: Duration::from_secs(7),
            }),
            Event::Step(StepOutcome::Permanent("404".into())),
            Event::Step(StepOutcome::Invalid("title too long".into())),
            Event::NewA2Event,
            Event::OperatorRetry,
            Event::OperatorCancel,
        ]
    }

    /// Compact rendering of a decision: `to/attempt/due` or the error kind.
    fn render(r: Result<Transition, TransitionError>) -> String {
        match r {
            Ok(t) => {
                let due = match t.due {
                    Due::Now => "now".to_string(),
                    Due::Never => "never".to_string(),
                    Due::Backoff { attempt, at_least } => {
                        format!("backoff{attempt}>={}s", at_least.as_secs())
                    }
                };
                let resume = t.resume_state.map(|s| format!(" resume={s}")).unwrap_or_default();
                format!("{}/{}/{due}{resume}", t.to, t.attempt)
            }
            Err(TransitionError::NotAllowed { .. }) => "not_allowed".into(),
            Err(TransitionError::Unchanged { .. }) => "unchanged".into(),
        }
    }

    /// Every (state, event) pair, written out: the table is the specification.
    #[test]
    fn every_state_and_event() {
        let expected: &[(WorkflowState, [&str; 8])] = &[
            (
                CreatedInA2,
                [
                    "migrated/0/now",
                    "created_in_a2/3/backoff3>=0s",
                    "created_in_a2/2/backoff2>=7s",
                    "failed/2/never resume=created_in_a2",
                    "rejected/2/never resume=created_in_a2",
                    "unchanged",
                    "not_allowed",
                    "cancelled/2/never resume=created_in_a2",
                ],
            ),
            (
                Migrated,
                [
                    "dialog_created/0/now",
                    "migrated/3/backoff3>=0s",
                    "migrated/2/backoff2>=7s",
                    "failed/2/never resume=migrated",
                    "rejected/2/never resume=migrated",
                    "unchanged",
                    "not_allowed",
                    "cancelled/2/never resume=migrated",
                ],
            ),
            (
                DialogCreated,
                [
                    "synced/0/never",
                    "dialog_created/3/backoff3>=0s",
                    "dialog_created/2/backoff2>=7s",
                    "failed/2/never resume=dialog_created",
                    "rejected/2/never resume=dialog_created",
                    "unchanged",
                    "not_allowed",
                    "cancelled/2/never resume=dialog_created",
                ],
            ),
            (
                Synced,
                [
                    "not_allowed",
                    "not_allowed",
                    "not_allowed",
                    "not_allowed",
                    "not_allowed",
                    "sync_pending/0/now",
                    "not_allowed",
                    "cancelled/2/never resume=synced",
                ],
            ),
            (
                SyncPending,
                [
                    "synced/0/never",
                    "sync_pending/3/backoff3>=0s",
                    "sync_pending/2/backoff2>=7s",
                    "failed/2/never resume=sync_pending",
                    "rejected/2/never resume=sync_pending",
                    "unchanged",
                    "not_allowed",
                    "cancelled/2/never resume=sync_pending",
                ],
            ),
            (
                Failed,
                [
                    "not_allowed",
                    "not_allowed",
                    "not_allowed",
                    "not_allowed",
                    "not_allowed",
                    "unchanged",
                    "migrated/0/now",
                    "cancelled/2/never resume=migrated",
                ],
            ),
            (
                Rejected,
                [
                    "not_allowed",
                    "not_allowed",
                    "not_allowed",
                    "not_allowed",
                    "not_allowed",
                    "unchanged",
                    "migrated/0/now",
                    "cancelled/2/never resume=migrated",
                ],
            ),
            (
                Cancelled,
                [
                    "not_allowed",
                    "not_allowed",
                    "not_allowed",
                    "not_allowed",
                    "not_allowed",
                    "unchanged",
                    "migrated/0/now",
                    "unchanged",
                ],
            ),
        ];
        assert_eq!(expected.len(), WorkflowState::ALL.len(), "every state has a row");
        for (state, row) in expected {
            for (event, want) in events().iter().zip(row.iter()) {
                let got = render(decide(facts(*state), event));
                assert_eq!(&got, want, "state {state}, event {}", event.name());
            }
        }
    }

    #[test]
    fn retries_fail_at_max_attempts_with_the_reason() {
        let f = Facts { state: Migrated, attempt: 4, resume_state: None, max_attempts: 5 };
        let t = decide(f, &Event::Step(StepOutcome::Retryable("timeout".into()))).unwrap();
        assert_eq!(t.to, Failed);
        assert_eq!(t.attempt, 5);
        assert_eq!(t.resume_state, Some(Migrated));
        assert!(t.error.unwrap().contains("timeout"));
    }

    #[test]
    fn retry_without_resume_state_restarts_from_the_beginning() {
        let f = Facts { state: Cancelled, attempt: 0, resume_state: None, max_attempts: 5 };
        assert_eq!(decide(f, &Event::OperatorRetry).unwrap().to, CreatedInA2);
    }

    #[test]
    fn success_never_moves_backwards() {
        for s in WorkflowState::RUNNABLE {
            let t = decide(facts(s), &Event::Step(StepOutcome::done())).unwrap();
            assert!(t.to > s || (s == SyncPending && t.to == Synced), "{s} -> {}", t.to);
            assert_eq!(t.error, None);
        }
    }
}
