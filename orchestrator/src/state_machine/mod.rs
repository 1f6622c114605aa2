//! The one place that decides every transition: `(state, event) -> Transition`.
//!
//! Pure: no I/O, no clock, no randomness. The store applies the result (and computes a retry's
//! due time from the retry policy); no other code decides a state.

use schema::{WorkflowState, reason};
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
            Event::Step(StepOutcome::Refused(_)) => "refused",
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
pub struct Facts<'a> {
    /// Current state.
    pub state: WorkflowState,
    /// Failed attempts of the current step so far.
    pub attempt: i32,
    /// State to return to from a parked state.
    pub resume_state: Option<WorkflowState>,
    /// Attempts allowed per step before the item fails.
    pub max_attempts: i32,
    /// The error of the previous attempt (what a server error is compared with).
    pub last_error: Option<&'a str>,
    /// Identical server errors in a row so far (the previous attempt's included).
    pub same_error_count: i32,
    /// Identical server errors in a row after which the item fails.
    pub max_identical_server_errors: i32,
}

impl<'a> Facts<'a> {
    /// Facts with no previous error, under `policy`'s limits.
    pub fn new(
        state: WorkflowState,
        attempt: i32,
        resume_state: Option<WorkflowState>,
        policy: &crate::retry::RetryPolicy,
    ) -> Self {
        Self {
            state,
            attempt,
            resume_state,
            max_attempts: policy.max_attempts,
            last_error: None,
            same_error_count: 0,
            max_identical_server_errors: policy.max_identical_server_errors,
        }
    }

    /// The same facts with the previous attempt's error and the identical-error count.
    pub fn after_error(self, last_error: Option<&'a str>, same_error_count: i32) -> Self {
        Self { last_error, same_error_count, ..self }
    }
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

/// The decided change. Only [`decide`] makes one (its fields are private), so every transition
/// the store writes is one the state machine allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    from: WorkflowState,
    to: WorkflowState,
    attempt: i32,
    due: Due,
    error: Option<String>,
    by_operator: bool,
    put_back: bool,
    resume_state: Option<WorkflowState>,
    same_error_count: i32,
}

impl Transition {
    /// State before.
    pub fn from(&self) -> WorkflowState {
        self.from
    }

    /// State after (may equal `from` for a retry).
    pub fn to(&self) -> WorkflowState {
        self.to
    }

    /// Attempt count after.
    pub fn attempt(&self) -> i32 {
        self.attempt
    }

    /// When it is next due.
    pub fn due(&self) -> Due {
        self.due
    }

    /// The error to record as `last_error` and in history; for operator events, the note for
    /// history (the item's `last_error` is then kept, so the reason it stopped stays visible).
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// True for operator events: `error` is a note, not the item's new last error.
    pub fn by_operator(&self) -> bool {
        self.by_operator
    }

    /// True when the item goes back as it was because A3 refused our credentials: same state,
    /// attempt and identical-error count; `error` is a note for its history.
    pub fn puts_back(&self) -> bool {
        self.put_back
    }

    /// True when `error` is only a note for history (operator events, a put-back): the item's
    /// `last_error` and `reason` stay what they were.
    pub fn keeps_last_error(&self) -> bool {
        self.by_operator || self.put_back
    }

    /// State to return to on operator retry (kept for parked states only).
    pub fn resume_state(&self) -> Option<WorkflowState> {
        self.resume_state
    }

    /// Identical server errors in a row after this transition (0 unless it is one).
    pub fn same_error_count(&self) -> i32 {
        self.same_error_count
    }
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

/// The state a successful step leads to (the lifecycle table's happy path); with the dialog id
/// in hand, possibly further (a migrate call that also made the item available: the id is
/// written with the transition, so the item is never DialogCreated without it).
fn after_success(state: WorkflowState, dialog_known: bool) -> Option<WorkflowState> {
    let stage = state.stage();
    if dialog_known { stage.with_dialog.or(stage.success) } else { stage.success }
}

/// How many identical server errors in a row `error` makes: one more than before when it is a
/// 500 saying what the previous error said (ids aside), 1 for a new 500, 0 for anything else.
/// Counted per step attempt, as the engine sees outcomes (the client's quick in-call retries
/// are inside one attempt).
///
/// Only 500 and 501 count: that is how A3 answers an exception in its own code (a NOT NULL
/// column, a null dereference), which no retry cures. 502, 503 and 504 come from gateways and
/// outages; they look the same on every try too, and capping them would fail a whole phase in
/// seconds during a short outage, so they keep the full retry budget.
fn identical_server_errors(facts: &Facts, error: &str) -> i32 {
    if !matches!(reason::server_status(error), Some(500 | 501)) {
        0
    } else if facts.last_error.is_some_and(|prev| reason::same_error(prev, error)) {
        facts.same_error_count.max(1) + 1
    } else {
        1
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
        put_back: false,
        resume_state: resume,
        same_error_count: 0,
    };
    let park = |to_state: WorkflowState, error: String| Transition {
        from: state,
        to: to_state,
        attempt: facts.attempt,
        due: Due::Never,
        error: Some(error),
        by_operator,
        put_back: false,
        resume_state: Some(state),
        same_error_count: 0,
    };

    match event {
        Event::Step(outcome) => {
            if !state.is_runnable() {
                return Err(not_allowed());
            }
            Ok(match outcome {
                StepOutcome::Done { dialog_id, .. } => {
                    let next = after_success(state, dialog_id.is_some()).ok_or_else(not_allowed)?;
                    let due = if next.is_runnable() { Due::Now } else { Due::Never };
                    to(next, 0, due, None, None)
                }
                StepOutcome::Retryable(e) => {
                    let attempt = facts.attempt + 1;
                    let same = identical_server_errors(&facts, e);
                    if same >= facts.max_identical_server_errors.max(1) {
                        let first = reason::first_line(e);
                        let mut t = park(Failed, format!("the same server error {same} times: {first}"));
                        t.attempt = attempt;
                        t
                    } else if attempt >= facts.max_attempts {
                        let mut t = park(Failed, format!("gave up after {attempt} attempts: {e}"));
                        t.attempt = attempt;
                        t
                    } else {
                        let due = Due::Backoff { attempt, at_least: Duration::ZERO };
                        Transition {
                            same_error_count: same,
                            ..to(state, attempt, due, Some(e.clone()), None)
                        }
                    }
                }
                // Refused credentials are the token's fault, not the item's: it goes back as it
                // was, due at once (the dispatcher holds off until A3 accepts us again), with a
                // note in its history so operators see why it did not move.
                StepOutcome::Refused(e) => Transition {
                    put_back: true,
                    same_error_count: facts.same_error_count,
                    ..to(
                        state,
                        facts.attempt,
                        Due::Now,
                        Some(format!("put back, no attempt counted: {e}")),
                        None,
                    )
                },
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
mod tests;
