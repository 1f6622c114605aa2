//! Retries through the dispatcher with the injected clock: backoff by the policy, permanent errors,
//! max attempts, rate limiting, rejection, and `retry` bringing failed items back.

use crate::store::{items, store_at};
use orchestrator::clock::{Clock, ManualClock};
use orchestrator::dispatcher::{Dispatcher, DispatcherConfig, RunReport};
use orchestrator::retry::RetryPolicy;
use orchestrator::state_machine::Event;
use orchestrator::store::{Selector, Store};
use schema::WorkflowState;
use schema::entity::workflow;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tests::{TestDb, on_both_backends};
use tokio_util::sync::CancellationToken;
use workers::noop::NoopStep;
use workers::{Step, StepKind, StepOutcome, WorkItem};

/// When each (A2 id, step) was run, by the manual clock.
type Calls = Arc<Mutex<HashMap<(i64, StepKind), Vec<i64>>>>;

/// Behaves by `a2_id % 5`: 0 permanent error in migrate, 1 always 503 in make-available,
/// 2 invalid in migrate, 3 two 503s then fine, 4 one 429 then fine. Records when it ran.
struct Scripted {
    kind: StepKind,
    clock: ManualClock,
    calls: Calls,
}

#[async_trait::async_trait]
impl Step for Scripted {
    fn kind(&self) -> StepKind {
        self.kind
    }

    async fn run(&self, item: &WorkItem) -> StepOutcome {
        let n = {
            let mut calls = self.calls.lock().unwrap();
            let v = calls.entry((item.a2_id.get(), self.kind)).or_default();
            v.push(self.clock.now_ms());
            v.len()
        };
        match (item.a2_id.get() % 5, self.kind) {
            (0, StepKind::Migrate) => StepOutcome::Permanent("404: unknown correspondence".into()),
            (1, StepKind::MakeAvailable) => StepOutcome::Retryable("503 Service Unavailable".into()),
            (2, StepKind::Migrate) => StepOutcome::Invalid("messageTitle longer than 255".into()),
            (3, StepKind::Migrate) if n <= 2 => StepOutcome::Retryable("timeout".into()),
            (4, StepKind::Sync) if n == 1 => StepOutcome::RateLimited {
                error: "429 Too Many Requests".into(),
                retry_after: Duration::from_secs(30),
            },
            _ => StepOutcome::done(),
        }
    }
}

fn policy() -> RetryPolicy {
    RetryPolicy {
        initial: Duration::from_secs(1),
        multiplier: 2.0,
        max_interval: Duration::from_secs(60),
        randomization: 0.0,
        max_attempts: 4,
        ..RetryPolicy::default()
    }
}

/// Runs a dispatcher to the end while moving the manual clock forward in small steps.
pub(crate) async fn run_with_clock(
    store: &Store,
    clock: &ManualClock,
    steps: Vec<Arc<dyn Step>>,
) -> RunReport {
    let cfg = DispatcherConfig { step_timeout: Duration::from_secs(30), ..DispatcherConfig::default() };
    run_with_config(store, clock, steps, cfg).await
}

async fn run_with_config(
    store: &Store,
    clock: &ManualClock,
    steps: Vec<Arc<dyn Step>>,
    cfg: DispatcherConfig,
) -> RunReport {
    let cfg = DispatcherConfig {
        exit_when_idle: true,
        idle_poll: Duration::from_millis(2),
        write_linger: Duration::ZERO,
        ..cfg
    };
    let mut d = Dispatcher::new(store.clone(), cfg);
    for s in steps {
        d = d.with_step(s, 4);
    }
    let handle = tokio::spawn(d.drive(CancellationToken::new()));
    let ticker = {
        let clock = clock.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(3)).await;
                clock.advance(Duration::from_millis(250));
            }
        })
    };
    let report =
        tokio::time::timeout(Duration::from_secs(120), handle).await.expect("dispatcher finished").unwrap();
    ticker.abort();
    report.unwrap()
}

/// Runs a dispatcher to the end, driving the manual clock from here: whenever no item is leased
/// and none is due, the clock jumps to exactly the earliest due time, so every step runs at the
/// instant its item became due (a retry due late shows as a longer gap, not a hidden one).
async fn run_stepping_clock(
    conn: &DatabaseConnection,
    store: &Store,
    clock: &ManualClock,
    steps: Vec<Arc<dyn Step>>,
) -> RunReport {
    let cfg = DispatcherConfig {
        step_timeout: Duration::from_secs(30),
        exit_when_idle: true,
        idle_poll: Duration::from_millis(2),
        write_linger: Duration::ZERO,
        ..DispatcherConfig::default()
    };
    let mut d = Dispatcher::new(store.clone(), cfg);
    for s in steps {
        d = d.with_step(s, 4);
    }
    let mut handle = tokio::spawn(d.drive(CancellationToken::new()));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        tokio::select! {
            report = &mut handle => return report.unwrap().unwrap(),
            _ = tokio::time::sleep(Duration::from_millis(2)) => {}
        }
        assert!(tokio::time::Instant::now() < deadline, "the dispatcher did not finish");
        let runnable = workflow::Entity::find()
            .filter(workflow::Column::State.is_in(WorkflowState::RUNNABLE))
            .all(conn)
            .await
            .unwrap();
        let now = clock.now_ms();
        if runnable.iter().any(|w| w.lease_owner.is_some() || w.next_run_at <= now) {
            continue; // work to do at this instant
        }
        if let Some(next) = runnable.iter().map(|w| w.next_run_at).min() {
            clock.advance(Duration::from_millis(u64::try_from(next - now).unwrap()));
        }
    }
}

async fn retries_follow_the_policy(db: &TestDb) {
    let clock = ManualClock::new(1_790_000_000_000);
    let store = store_at(db, &clock, policy());
    store.insert_items(&items(1..51, "retries")).await.unwrap();
    let calls: Calls = Arc::default();
    let steps: Vec<Arc<dyn Step>> = StepKind::ALL
        .into_iter()
        .map(|kind| Arc::new(Scripted { kind, clock: clock.clone(), calls: calls.clone() }) as Arc<dyn Step>)
        .collect();
    let report = run_stepping_clock(&db.conn, &store, &clock, steps).await;
    assert_eq!(report.lease_lost, 0);
    assert_eq!(report.failed, 20, "10 permanent + 10 out of attempts");
    assert_eq!(report.rejected, 10);

    let rows: HashMap<i64, workflow::Model> = workflow::Entity::find()
        .order_by_asc(workflow::Column::A2Id)
        .all(&db.conn)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.a2_id, r))
        .collect();
    let calls = calls.lock().unwrap().clone();
    for (a2_id, row) in &rows {
        match a2_id % 5 {
            0 => {
                assert_eq!(row.state, WorkflowState::Failed);
                assert_eq!(row.resume_state, Some(WorkflowState::CreatedInA2));
                assert_eq!(row.last_error.as_deref(), Some("404: unknown correspondence"));
                assert_eq!(calls[&(*a2_id, StepKind::Migrate)].len(), 1, "permanent errors are not retried");
            }
            1 => {
                assert_eq!(row.state, WorkflowState::Failed);
                assert_eq!(row.resume_state, Some(WorkflowState::Migrated));
                assert_eq!(row.attempt, 4);
                assert!(row.last_error.as_deref().unwrap().contains("gave up after 4 attempts: 503"));
                let times = &calls[&(*a2_id, StepKind::MakeAvailable)];
                assert_eq!(times.len(), 4, "max attempts");
                let gaps: Vec<i64> = times.windows(2).map(|w| w[1] - w[0]).collect();
                let delays: Vec<i64> =
                    (1..4).map(|k| orchestrator::clock::millis(policy().delay(k))).collect();
                assert_eq!(delays, [1000, 2000, 4000], "the policy doubles from 1 s");
                assert_eq!(gaps, delays, "each retry exactly when the policy makes it due");
            }
            2 => {
                assert_eq!(row.state, WorkflowState::Rejected);
                assert_eq!(row.last_error.as_deref(), Some("messageTitle longer than 255"));
            }
            3 => {
                assert_eq!(row.state, WorkflowState::Synced);
                let times = &calls[&(*a2_id, StepKind::Migrate)];
                assert_eq!(times.len(), 3);
                assert_eq!([times[1] - times[0], times[2] - times[1]], [1000, 2000], "{times:?}");
            }
            _ => {
                assert_eq!(row.state, WorkflowState::Synced);
                let times = &calls[&(*a2_id, StepKind::Sync)];
                assert_eq!(times.len(), 2, "{times:?}");
                assert_eq!(times[1] - times[0], 30_000, "Retry-After is honoured, to the ms: {times:?}");
            }
        }
    }

    // `retry` brings the failed items back to the step they stopped at; rejected ones stay.
    let sel = Selector { state: Some(WorkflowState::Failed), ..Selector::default() };
    let r = store.operate(&sel, Event::OperatorRetry, orchestrator::store::Origin::Cli).await.unwrap();
    assert_eq!(r.changed, 20);
    let back = store.show("1").await.unwrap().unwrap().item;
    assert_eq!((back.state, back.attempt), (WorkflowState::Migrated, 0));
    assert!(back.last_error.unwrap().contains("503"), "the reason it stopped stays visible after retry");
    let fine: Vec<Arc<dyn Step>> = StepKind::ALL
        .into_iter()
        .map(|k| Arc::new(NoopStep::new(k, Duration::ZERO)) as Arc<dyn Step>)
        .collect();
    run_stepping_clock(&db.conn, &store, &clock, fine).await;
    let status = store.status().await.unwrap();
    assert_eq!(status.by_state.get(&WorkflowState::Synced), Some(&40));
    assert_eq!(status.by_state.get(&WorkflowState::Rejected), Some(&10));
    assert_eq!(status.leased, 0);
    let _ = clock.now_ms();
    tests::assert_history_consistent(&db.conn).await;
}
on_both_backends!(retries_follow_the_policy);

/// Never answers: the dispatcher's step timeout must turn it into a retryable failure.
struct Hangs;

#[async_trait::async_trait]
impl Step for Hangs {
    fn kind(&self) -> StepKind {
        StepKind::Migrate
    }

    async fn run(&self, _item: &WorkItem) -> StepOutcome {
        std::future::pending().await
    }
}

async fn hung_steps_time_out_and_fail(db: &TestDb) {
    let clock = ManualClock::new(1_790_000_000_000);
    let store = store_at(db, &clock, policy());
    store.insert_items(&items(1..4, "hangs")).await.unwrap();
    let cfg = DispatcherConfig { step_timeout: Duration::from_millis(50), ..DispatcherConfig::default() };
    let report = run_with_config(&store, &clock, vec![Arc::new(Hangs)], cfg).await;
    assert_eq!((report.failed, report.retries), (3, 9));
    let item = store.show("2").await.unwrap().unwrap().item;
    assert_eq!(item.state, WorkflowState::Failed);
    assert!(item.last_error.unwrap().contains("step timed out after 50ms"));
    assert_eq!(store.status().await.unwrap().leased, 0);
}
on_both_backends!(hung_steps_time_out_and_fail);
