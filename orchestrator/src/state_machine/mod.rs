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

/// The state a successful step leads to (the lifecycle table's happy path).
fn after_success(state: WorkflowState) -> Option<WorkflowState> {
    state.stage().success
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
        resume_state: Some(state),
        same_error_count: 0,
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

    fn policy() -> crate::retry::RetryPolicy {
        crate::retry::RetryPolicy { max_attempts: 5, ..Default::default() }
    }

    fn facts(state: WorkflowState) -> Facts<'static> {
        Facts::new(state, 2, Some(Migrated), &policy())
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

    /// Rendering of a decision with every field of the transition:
    /// `from->to/attempt/due resume=… error=… by_operator=… same=…`, or the error kind.
    fn render(r: Result<Transition, TransitionError>) -> String {
        match r {
            Ok(t) => {
                // Destructured, so a new field cannot be left out of the table.
                let Transition { from, to, attempt, due, error, by_operator, resume_state, same_error_count } =
                    t;
                let due = match due {
                    Due::Now => "now".to_string(),
                    Due::Never => "never".to_string(),
                    Due::Backoff { attempt, at_least } => {
                        format!("backoff{attempt}>={}ms", at_least.as_millis())
                    }
                };
                let resume = resume_state.map(|s| s.to_string()).unwrap_or_else(|| "-".into());
                let error = error.map(|e| format!("{e:?}")).unwrap_or_else(|| "-".into());
                format!(
                    "{from}->{to}/{attempt}/{due} resume={resume} error={error} by_operator={by_operator} \
                     same={same_error_count}"
                )
            }
            Err(TransitionError::NotAllowed { state, event }) => format!("not_allowed({state},{event})"),
            Err(TransitionError::Unchanged { state, event }) => format!("unchanged({state},{event})"),
        }
    }

    /// Every (state, event) pair, written out: the table is the specification.
    #[test]
    fn every_state_and_event() {
        let expected: &[(WorkflowState, [&str; 8])] = &[
            (
                CreatedInA2,
                [
                    "created_in_a2->migrated/0/now resume=- error=- by_operator=false same=0",
                    "created_in_a2->created_in_a2/3/backoff3>=0ms resume=- error=\"503\" by_operator=false same=0",
                    "created_in_a2->created_in_a2/2/backoff2>=7000ms resume=- error=\"429\" by_operator=false same=0",
                    "created_in_a2->failed/2/never resume=created_in_a2 error=\"404\" by_operator=false same=0",
                    "created_in_a2->rejected/2/never resume=created_in_a2 error=\"title too long\" by_operator=false same=0",
                    "unchanged(created_in_a2,new_a2_event)",
                    "not_allowed(created_in_a2,operator_retry)",
                    "created_in_a2->cancelled/2/never resume=created_in_a2 error=\"cancelled by operator\" by_operator=true same=0",
                ],
            ),
            (
                Migrated,
                [
                    "migrated->dialog_created/0/now resume=- error=- by_operator=false same=0",
                    "migrated->migrated/3/backoff3>=0ms resume=- error=\"503\" by_operator=false same=0",
                    "migrated->migrated/2/backoff2>=7000ms resume=- error=\"429\" by_operator=false same=0",
                    "migrated->failed/2/never resume=migrated error=\"404\" by_operator=false same=0",
                    "migrated->rejected/2/never resume=migrated error=\"title too long\" by_operator=false same=0",
                    "unchanged(migrated,new_a2_event)",
                    "not_allowed(migrated,operator_retry)",
                    "migrated->cancelled/2/never resume=migrated error=\"cancelled by operator\" by_operator=true same=0",
                ],
            ),
            (
                DialogCreated,
                [
                    "dialog_created->synced/0/never resume=- error=- by_operator=false same=0",
                    "dialog_created->dialog_created/3/backoff3>=0ms resume=- error=\"503\" by_operator=false same=0",
                    "dialog_created->dialog_created/2/backoff2>=7000ms resume=- error=\"429\" by_operator=false same=0",
                    "dialog_created->failed/2/never resume=dialog_created error=\"404\" by_operator=false same=0",
                    "dialog_created->rejected/2/never resume=dialog_created error=\"title too long\" by_operator=false same=0",
                    "unchanged(dialog_created,new_a2_event)",
                    "not_allowed(dialog_created,operator_retry)",
                    "dialog_created->cancelled/2/never resume=dialog_created error=\"cancelled by operator\" by_operator=true same=0",
                ],
            ),
            (
                Synced,
                [
                    "not_allowed(synced,done)",
                    "not_allowed(synced,retryable)",
                    "not_allowed(synced,rate_limited)",
                    "not_allowed(synced,permanent)",
                    "not_allowed(synced,invalid)",
                    "synced->sync_pending/0/now resume=- error=- by_operator=false same=0",
                    "not_allowed(synced,operator_retry)",
                    "synced->cancelled/2/never resume=synced error=\"cancelled by operator\" by_operator=true same=0",
                ],
            ),
            (
                SyncPending,
                [
                    "sync_pending->synced/0/never resume=- error=- by_operator=false same=0",
                    "sync_pending->sync_pending/3/backoff3>=0ms resume=- error=\"503\" by_operator=false same=0",
                    "sync_pending->sync_pending/2/backoff2>=7000ms resume=- error=\"429\" by_operator=false same=0",
                    "sync_pending->failed/2/never resume=sync_pending error=\"404\" by_operator=false same=0",
                    "sync_pending->rejected/2/never resume=sync_pending error=\"title too long\" by_operator=false same=0",
                    "unchanged(sync_pending,new_a2_event)",
                    "not_allowed(sync_pending,operator_retry)",
                    "sync_pending->cancelled/2/never resume=sync_pending error=\"cancelled by operator\" by_operator=true same=0",
                ],
            ),
            (
                Failed,
                [
                    "not_allowed(failed,done)",
                    "not_allowed(failed,retryable)",
                    "not_allowed(failed,rate_limited)",
                    "not_allowed(failed,permanent)",
                    "not_allowed(failed,invalid)",
                    "unchanged(failed,new_a2_event)",
                    "failed->migrated/0/now resume=- error=\"operator retry from failed\" by_operator=true same=0",
                    "failed->cancelled/2/never resume=migrated error=\"cancelled by operator\" by_operator=true same=0",
                ],
            ),
            (
                Rejected,
                [
                    "not_allowed(rejected,done)",
                    "not_allowed(rejected,retryable)",
                    "not_allowed(rejected,rate_limited)",
                    "not_allowed(rejected,permanent)",
                    "not_allowed(rejected,invalid)",
                    "unchanged(rejected,new_a2_event)",
                    "rejected->migrated/0/now resume=- error=\"operator retry from rejected\" by_operator=true same=0",
                    "rejected->cancelled/2/never resume=migrated error=\"cancelled by operator\" by_operator=true same=0",
                ],
            ),
            (
                Cancelled,
                [
                    "not_allowed(cancelled,done)",
                    "not_allowed(cancelled,retryable)",
                    "not_allowed(cancelled,rate_limited)",
                    "not_allowed(cancelled,permanent)",
                    "not_allowed(cancelled,invalid)",
                    "unchanged(cancelled,new_a2_event)",
                    "cancelled->migrated/0/now resume=- error=\"operator retry from cancelled\" by_operator=true same=0",
                    "unchanged(cancelled,operator_cancel)",
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
        let f = Facts::new(Migrated, 4, None, &policy());
        let t = decide(f, &Event::Step(StepOutcome::Retryable("timeout".into()))).unwrap();
        assert_eq!(t.to, Failed);
        assert_eq!(t.attempt, 5);
        assert_eq!(t.resume_state, Some(Migrated));
        assert!(t.error.unwrap().contains("timeout"));
    }

    #[test]
    fn retry_without_resume_state_restarts_from_the_beginning() {
        let f = Facts::new(Cancelled, 0, None, &policy());
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

    #[test]
    fn identical_server_errors_fail_the_item_before_its_attempts_run_out() {
        let p = crate::retry::RetryPolicy {
            max_attempts: 10,
            max_identical_server_errors: 3,
            ..Default::default()
        };
        let boom =
            |trace: &str| format!("attachment: HTTP 500: Internal Server Error (trace {trace})\nat A3");
        let mut facts = Facts::new(CreatedInA2, 0, None, &p);
        let mut last: Option<String> = None;
        let mut seen = Vec::new();
        for k in 0..3 {
            // The same body but for an id: identical.
            let error = boom(&format!("0190a0b2-1c3d-7e4f-8a9b-0c1d2e3f4a5{k}"));
            let now = facts.after_error(last.as_deref(), facts.same_error_count);
            let t = decide(now, &Event::Step(StepOutcome::Retryable(error))).unwrap();
            seen.push((t.to, t.attempt, t.same_error_count));
            (facts.attempt, facts.same_error_count) = (t.attempt, t.same_error_count);
            last = t.error;
        }
        assert_eq!(
            last.as_deref(),
            Some(
                "the same server error 3 times: attachment: HTTP 500: Internal Server Error \
                 (trace 0190a0b2-1c3d-7e4f-8a9b-0c1d2e3f4a52)"
            ),
            "the first line only, the third time"
        );
        assert_eq!(seen, vec![(CreatedInA2, 1, 1), (CreatedInA2, 2, 2), (Failed, 3, 0)]);
    }

    #[test]
    fn an_outage_keeps_the_full_retry_budget() {
        let p = crate::retry::RetryPolicy {
            max_attempts: 10,
            max_identical_server_errors: 2,
            ..Default::default()
        };
        // A gateway's 502/503/504 reads the same on every try; it is an outage, not a bug in A3.
        for outage in ["attachment: HTTP 503: Service Unavailable", "attachment: HTTP 502: Bad Gateway"] {
            let f = Facts::new(CreatedInA2, 5, None, &p).after_error(Some(outage), 0);
            let t = decide(f, &Event::Step(StepOutcome::Retryable(outage.into()))).unwrap();
            assert_eq!((t.to, t.attempt, t.same_error_count), (CreatedInA2, 6, 0), "{outage}");
        }
    }

    #[test]
    fn different_or_non_server_errors_restart_the_count() {
        let p = crate::retry::RetryPolicy {
            max_attempts: 10,
            max_identical_server_errors: 2,
            ..Default::default()
        };
        let f = Facts::new(Migrated, 1, None, &p);
        let step = |f: Facts, e: &str| decide(f, &Event::Step(StepOutcome::Retryable(e.into()))).unwrap();
        let prev = "make_available: HTTP 500: busy";
        // Another status, another body, or a timeout: the streak starts again.
        assert_eq!(step(f.after_error(Some(prev), 1), "make_available: HTTP 501: busy").same_error_count, 1);
        assert_eq!(step(f.after_error(Some(prev), 1), "make_available: HTTP 500: down").same_error_count, 1);
        let timeout = step(f.after_error(Some(prev), 1), "make_available: timed out: x");
        assert_eq!((timeout.to, timeout.same_error_count), (Migrated, 0));
        // A 4xx is not a server error (and a permanent one fails anyway).
        assert_eq!(step(f.after_error(Some(prev), 1), "make_available: HTTP 408: slow").same_error_count, 0);
        // The same again: the cap of 2 is reached.
        let t = step(f.after_error(Some(prev), 1), prev);
        assert_eq!(
            (t.to, t.error.as_deref()),
            (Failed, Some("the same server error 2 times: make_available: HTTP 500: busy"))
        );
        // Success and operator retry reset the count.
        let f2 = f.after_error(Some(prev), 1);
        assert_eq!(decide(f2, &Event::Step(StepOutcome::done())).unwrap().same_error_count, 0);
    }
}
