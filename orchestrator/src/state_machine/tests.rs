//! Unit tests of `decide`: every state against every event, the retry budget and the resume
//! state, and the count of identical server errors. Apart from the code so that `mod.rs` holds
//! only the decisions.

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
        // A success that brought the dialog id (make-available, or migrate with makeAvailable).
        Event::Step(StepOutcome::Done {
            a3_correspondence_id: None,
            dialog_id: Some(uuid::Uuid::nil()),
            synced_events: Vec::new(),
        }),
        Event::Step(StepOutcome::Retryable("503".into())),
        Event::Step(StepOutcome::Refused("401".into())),
        Event::Step(StepOutcome::RateLimited { error: "429".into(), retry_after: Duration::from_secs(7) }),
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
            let Transition {
                from,
                to,
                attempt,
                due,
                error,
                by_operator,
                put_back,
                resume_state,
                same_error_count,
            } = t;
            let due = match due {
                Due::Now => "now".to_string(),
                Due::Never => "never".to_string(),
                Due::Backoff { attempt, at_least } => {
                    format!("backoff{attempt}>={}ms", at_least.as_millis())
                }
            };
            let resume = resume_state.map(|s| s.to_string()).unwrap_or_else(|| "-".into());
            let error = error.map(|e| format!("{e:?}")).unwrap_or_else(|| "-".into());
            // Shown only when set, so the rows of every other outcome read as before.
            let put_back = if put_back { " put_back" } else { "" };
            format!(
                "{from}->{to}/{attempt}/{due} resume={resume} error={error} by_operator={by_operator} \
                 same={same_error_count}{put_back}"
            )
        }
        Err(TransitionError::NotAllowed { state, event }) => format!("not_allowed({state},{event})"),
        Err(TransitionError::Unchanged { state, event }) => format!("unchanged({state},{event})"),
    }
}

/// Every (state, event) pair, written out: the table is the specification.
#[test]
fn every_state_and_event() {
    let expected: &[(WorkflowState, [&str; 10])] = &[
        (
            CreatedInA2,
            [
                "created_in_a2->migrated/0/now resume=- error=- by_operator=false same=0",
                "created_in_a2->dialog_created/0/now resume=- error=- by_operator=false same=0",
                "created_in_a2->created_in_a2/3/backoff3>=0ms resume=- error=\"503\" by_operator=false same=0",
                "created_in_a2->created_in_a2/2/now resume=- error=\"put back, no attempt counted: 401\" by_operator=false same=0 put_back",
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
                "migrated->dialog_created/0/now resume=- error=- by_operator=false same=0",
                "migrated->migrated/3/backoff3>=0ms resume=- error=\"503\" by_operator=false same=0",
                "migrated->migrated/2/now resume=- error=\"put back, no attempt counted: 401\" by_operator=false same=0 put_back",
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
                "dialog_created->synced/0/never resume=- error=- by_operator=false same=0",
                "dialog_created->dialog_created/3/backoff3>=0ms resume=- error=\"503\" by_operator=false same=0",
                "dialog_created->dialog_created/2/now resume=- error=\"put back, no attempt counted: 401\" by_operator=false same=0 put_back",
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
                "not_allowed(synced,done)",
                "not_allowed(synced,retryable)",
                "not_allowed(synced,refused)",
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
                "sync_pending->synced/0/never resume=- error=- by_operator=false same=0",
                "sync_pending->sync_pending/3/backoff3>=0ms resume=- error=\"503\" by_operator=false same=0",
                "sync_pending->sync_pending/2/now resume=- error=\"put back, no attempt counted: 401\" by_operator=false same=0 put_back",
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
                "not_allowed(failed,done)",
                "not_allowed(failed,retryable)",
                "not_allowed(failed,refused)",
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
                "not_allowed(rejected,done)",
                "not_allowed(rejected,retryable)",
                "not_allowed(rejected,refused)",
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
                "not_allowed(cancelled,done)",
                "not_allowed(cancelled,retryable)",
                "not_allowed(cancelled,refused)",
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

/// Refused credentials (401/403) are the token's fault: the item goes back with its attempt
/// count and its streak of identical server errors as they were, even on its last attempt, and
/// its last error stays the one it had (the refusal is a note in its history only).
#[test]
fn refused_credentials_cost_no_attempt() {
    let last = "correspondence: HTTP 500: boom";
    for state in WorkflowState::RUNNABLE {
        let f = Facts::new(state, 4, None, &policy()).after_error(Some(last), 2);
        let refused = "correspondence: HTTP 401 (check the A3 token and its scope)";
        let t = decide(f, &Event::Step(StepOutcome::Refused(refused.into()))).unwrap();
        assert_eq!((t.from, t.to, t.attempt, t.same_error_count, t.due), (state, state, 4, 2, Due::Now));
        assert!(t.puts_back() && t.keeps_last_error() && !t.by_operator(), "{state}");
        assert_eq!(t.error.as_deref(), Some(format!("put back, no attempt counted: {refused}").as_str()));
        // Again and again: never Failed, however often it is refused.
        let again = decide(f, &Event::Step(StepOutcome::Refused(refused.into()))).unwrap();
        assert_eq!((again.to, again.attempt), (state, 4));
    }
    // Every other outcome writes its error as the item's last error.
    let retry = decide(facts(Migrated), &Event::Step(StepOutcome::Retryable("503".into()))).unwrap();
    assert!(!retry.puts_back() && !retry.keeps_last_error());
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
    let p =
        crate::retry::RetryPolicy { max_attempts: 10, max_identical_server_errors: 3, ..Default::default() };
    let boom = |trace: &str| format!("attachment: HTTP 500: Internal Server Error (trace {trace})\nat A3");
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
    let p =
        crate::retry::RetryPolicy { max_attempts: 10, max_identical_server_errors: 2, ..Default::default() };
    // A gateway's 502/503/504 reads the same on every try; it is an outage, not a bug in A3.
    for outage in ["attachment: HTTP 503: Service Unavailable", "attachment: HTTP 502: Bad Gateway"] {
        let f = Facts::new(CreatedInA2, 5, None, &p).after_error(Some(outage), 0);
        let t = decide(f, &Event::Step(StepOutcome::Retryable(outage.into()))).unwrap();
        assert_eq!((t.to, t.attempt, t.same_error_count), (CreatedInA2, 6, 0), "{outage}");
    }
}

#[test]
fn different_or_non_server_errors_restart_the_count() {
    let p =
        crate::retry::RetryPolicy { max_attempts: 10, max_identical_server_errors: 2, ..Default::default() };
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
