//! The counters `status`, `/metrics` and the dashboard read instead of scanning `workflows`:
//! after every kind of write they equal `count(*)` grouped by batch and state, on both backends,
//! also with several stores (slots) committing at once, and an upgraded database starts right.

use crate::store::{items, store_at};
use orchestrator::clock::ManualClock;
use orchestrator::retry::RetryPolicy;
use orchestrator::state_machine::{Event, Facts, decide};
use orchestrator::store::{Applied, Fence, Selector, Store};
use schema::entity::{workflow, workflow_history};
use schema::{NodeId, WorkflowState};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect};
use std::collections::BTreeMap;
use std::time::Duration;
use tests::{TestDb, on_both_backends};
use uuid::Uuid;
use workers::a2::A2EventBody;
use workers::a3::model::{CorrespondenceStatus, StatusEvent};
use workers::{StepOutcome, WorkItem};

const T0: i64 = 1_790_000_000_000;
const LEASE: Duration = Duration::from_secs(60);

fn outcome(item: &WorkItem, o: StepOutcome) -> Applied {
    let facts = Facts::new(item.state, item.attempt, None, &RetryPolicy::default());
    let t = decide(facts, &Event::Step(o)).unwrap();
    Applied { a3_correspondence_id: Some(Uuid::now_v7()), ..Applied::plain(item.id, item.a2_id, t) }
}

fn event(n: i64) -> A2EventBody {
    A2EventBody::Status(StatusEvent {
        status: CorrespondenceStatus::Archived,
        status_text: "Archived".into(),
        status_changed: chrono::DateTime::from_timestamp_millis(T0 + n).unwrap(),
        event_user_uuid: None,
        event_user_party_uuid: Uuid::nil(),
    })
}

/// The counters agree with the items, the leased count with the leases, and the throughput
/// chart with the history rows of transitions (enqueues are not transitions).
async fn assert_counts(db: &TestDb, store: &Store, step: &str) {
    assert_item_counts(db, store, step).await;
    let moved = workflow_history::Entity::find()
        .filter(workflow_history::Column::FromState.is_not_null())
        .count(&db.conn)
        .await
        .unwrap();
    assert_eq!(charted(store).await, moved, "{step}: transitions per minute");
}

/// Transitions in the throughput chart, in all.
async fn charted(store: &Store) -> u64 {
    store.throughput(0).await.unwrap().iter().map(|(_, n)| n).sum()
}

/// Items per batch and state, by `count(*)` over `workflows` (what the counters must equal).
async fn counted_by_batch(db: &TestDb) -> BTreeMap<String, BTreeMap<WorkflowState, u64>> {
    let rows: Vec<(String, WorkflowState, i64)> = workflow::Entity::find()
        .select_only()
        .column(workflow::Column::Batch)
        .column(workflow::Column::State)
        .column_as(workflow::Column::Id.count(), "n")
        .group_by(workflow::Column::Batch)
        .group_by(workflow::Column::State)
        .into_tuple()
        .all(&db.conn)
        .await
        .unwrap();
    let mut out: BTreeMap<String, BTreeMap<WorkflowState, u64>> = BTreeMap::new();
    for (batch, state, n) in rows {
        out.entry(batch).or_default().insert(state, u64::try_from(n).unwrap());
    }
    out
}

/// The counters agree with the items and the leased count with the leases.
async fn assert_item_counts(db: &TestDb, store: &Store, step: &str) {
    let by_batch = counted_by_batch(db).await;
    let mut by_state: BTreeMap<WorkflowState, u64> = WorkflowState::ALL.iter().map(|s| (*s, 0)).collect();
    for (state, n) in by_batch.values().flatten() {
        *by_state.get_mut(state).unwrap() += n;
    }
    let status = store.status().await.unwrap();
    assert_eq!(status.by_batch, by_batch, "{step}: counts per batch");
    assert_eq!(status.total, by_state.values().sum::<u64>(), "{step}: total");
    assert_eq!(store.state_counts().await.unwrap(), by_state, "{step}: counts per state");
    let leased = workflow::Entity::find()
        .filter(workflow::Column::LeaseOwner.is_not_null())
        .count(&db.conn)
        .await
        .unwrap();
    assert_eq!(status.leased, leased, "{step}: leased");
}

async fn counters_follow_every_write(db: &TestDb) {
    let clock = ManualClock::new(T0);
    let policy = RetryPolicy { randomization: 0.0, ..RetryPolicy::default() };
    let a = store_at(db, &clock, policy).with_count_slot(3);
    let b = store_at(db, &clock, policy).with_count_slot(7);
    assert_eq!(a.insert_items(&items(1..41, "a")).await.unwrap(), 40);
    assert_eq!(b.insert_items(&items(41..61, "b")).await.unwrap(), 20);
    // Known A2 ids are not inserted, so not counted either (61..71 are new, in "b").
    assert_eq!(a.insert_items(&items(35..71, "b")).await.unwrap(), 10);
    assert_counts(db, &a, "enqueued").await;

    let (node, other) = (NodeId::new(), NodeId::new());
    let mut taken = a.claim_any(node, LEASE, 100, &WorkflowState::RUNNABLE).await.unwrap();
    assert_eq!(taken.len(), 70);
    taken.sort_by_key(|i| i.a2_id);
    let done: Vec<_> = taken[..30].iter().map(|i| outcome(i, StepOutcome::done())).collect();
    let retry: Vec<_> =
        taken[30..40].iter().map(|i| outcome(i, StepOutcome::Retryable("503".into()))).collect();
    let fail: Vec<_> =
        taken[40..45].iter().map(|i| outcome(i, StepOutcome::Permanent("400".into()))).collect();
    let reject: Vec<_> =
        taken[45..50].iter().map(|i| outcome(i, StepOutcome::Invalid("bad".into()))).collect();
    assert_eq!(a.apply(&done, Fence::Lease(node), Some(node)).await.unwrap().committed.len(), 30);
    assert_counts(db, &a, "successes").await;
    assert_eq!(b.apply(&retry, Fence::Lease(node), Some(node)).await.unwrap().committed.len(), 10);
    assert_counts(db, &a, "retries").await;
    let parked = [fail, reject].concat();
    assert_eq!(a.apply(&parked, Fence::Lease(node), Some(node)).await.unwrap().committed.len(), 10);
    assert_counts(db, &b, "failures").await;
    // Results fenced off (another node's lease, or already written) change no counter.
    let stale: Vec<_> =
        taken[50..].iter().chain(&taken[..5]).map(|i| outcome(i, StepOutcome::done())).collect();
    let r = b.apply(&stale, Fence::Lease(other), Some(other)).await.unwrap();
    assert_eq!((r.committed.len(), r.lost.len()), (0, 25));
    assert_counts(db, &a, "lost fences").await;
    assert_eq!(a.release(node).await.unwrap(), 20);

    // Migrated → DialogCreated → Synced; ten items have an A2 event waiting when they reach
    // Synced, so the same transaction moves them on to SyncPending.
    let migrated = a.claim(node, LEASE, 100, WorkflowState::Migrated).await.unwrap();
    assert_eq!(migrated.len(), 30);
    let next: Vec<_> = migrated.iter().map(|i| outcome(i, StepOutcome::done())).collect();
    a.apply(&next, Fence::Lease(node), Some(node)).await.unwrap();
    let waiting: Vec<_> = migrated[..10].iter().map(|i| (i.a2_id.get(), event(i.a2_id.get()))).collect();
    assert_eq!(a.add_events(&waiting).await.unwrap().made_pending, 0);
    let dialogs = b.claim(node, LEASE, 100, WorkflowState::DialogCreated).await.unwrap();
    let next: Vec<_> = dialogs.iter().map(|i| outcome(i, StepOutcome::done())).collect();
    b.apply(&next, Fence::Lease(node), Some(node)).await.unwrap();
    assert_eq!(a.state_counts().await.unwrap()[&WorkflowState::SyncPending], 10);
    assert_counts(db, &b, "synced, some on to sync pending").await;
    // An event for a Synced item makes it SyncPending too.
    let synced: Vec<_> = migrated[10..15].iter().map(|i| (i.a2_id.get(), event(i.a2_id.get()))).collect();
    assert_eq!(b.add_events(&synced).await.unwrap().made_pending, 5);
    assert_counts(db, &a, "events for synced items").await;

    // Operators: retry the failed, cancel a whole batch (some of it is not cancellable).
    let retried = a
        .operate(
            &Selector { state: Some(WorkflowState::Failed), ..Selector::default() },
            Event::OperatorRetry,
            orchestrator::store::Origin::Cli,
        )
        .await
        .unwrap();
    assert_eq!(retried.changed, 5);
    assert_counts(db, &a, "operator retry").await;
    let cancelled = b
        .operate(
            &Selector { batch: Some("b".into()), ..Selector::default() },
            Event::OperatorCancel,
            orchestrator::store::Origin::Cli,
        )
        .await
        .unwrap();
    assert!(cancelled.changed > 0);
    assert_counts(db, &a, "operator cancel").await;

    // The throughput chart: every transition so far was written in T0's minute.
    clock.advance(Duration::from_secs(60));
    let later = a.claim_any(node, LEASE, 5, &WorkflowState::RUNNABLE).await.unwrap();
    let next: Vec<_> = later.iter().map(|i| outcome(i, StepOutcome::done())).collect();
    assert_eq!(a.apply(&next, Fence::Lease(node), Some(node)).await.unwrap().committed.len(), 5);
    let chart = a.throughput(T0).await.unwrap();
    let minute = T0 - T0.rem_euclid(60_000);
    assert_eq!(chart.iter().map(|(m, _)| *m).collect::<Vec<_>>(), vec![minute, minute + 60_000]);
    assert_eq!(chart[1].1, 5);
    assert_eq!(a.throughput(T0 + 60_000).await.unwrap().len(), 1);
    assert_counts(db, &a, "a minute later").await;

    // Removing a batch removes its counts; the chart keeps the transitions that happened.
    let before = charted(&a).await;
    b.delete_batch("b").await.unwrap();
    assert_item_counts(db, &a, "batch deleted").await;
    assert_eq!(charted(&a).await, before, "the chart is what was written, not what is left");
    assert!(!a.status().await.unwrap().by_batch.contains_key("b"));

    // Pruning drops the throughput minutes older than a week, and only those.
    clock.advance(Duration::from_secs(7 * 24 * 3600));
    a.prune_history(0).await.unwrap();
    assert_eq!(a.throughput(0).await.unwrap().len(), 1, "the minute a week ago is kept");
    clock.advance(Duration::from_secs(61));
    a.prune_history(0).await.unwrap();
    assert!(a.throughput(0).await.unwrap().is_empty());
    tests::assert_history_consistent(&db.conn).await;
}
on_both_backends!(counters_follow_every_write);

/// Three stores (two sharing a slot) claim and complete items of four batches at once, in
/// chunks holding every batch and in opposite orders: no deadlock, no count lost.
async fn concurrent_writers_keep_exact_counts(db: &TestDb) {
    let clock = ManualClock::new(T0);
    let store = store_at(db, &clock, RetryPolicy::default());
    for batch in 0..4 {
        let label = format!("w{batch}");
        let batch_items: Vec<_> =
            items(1..2001, &label).into_iter().filter(|i| i.a2_id % 4 == batch).collect();
        store.insert_items(&batch_items).await.unwrap();
    }
    let mut tasks = Vec::new();
    for (n, slot) in [1, 2, 1].into_iter().enumerate() {
        let store = store.clone().with_count_slot(slot);
        tasks.push(tokio::spawn(async move {
            let node = NodeId::new();
            let mut written = 0;
            loop {
                let mut taken = store.claim_any(node, LEASE, 60, &WorkflowState::RUNNABLE).await.unwrap();
                if taken.is_empty() {
                    return written;
                }
                if n == 1 {
                    taken.reverse();
                }
                let batch: Vec<_> = taken.iter().map(|i| outcome(i, StepOutcome::done())).collect();
                written += store.apply(&batch, Fence::Lease(node), Some(node)).await.unwrap().committed.len();
            }
        }));
    }
    let mut written = 0;
    for t in tasks {
        written += t.await.expect("a writer failed");
    }
    assert_eq!(written, 3 * 2000);
    assert_eq!(store.state_counts().await.unwrap()[&WorkflowState::Synced], 2000);
    assert_counts(db, &store, "after concurrent writers").await;
}
on_both_backends!(concurrent_writers_keep_exact_counts);

/// A database upgraded from before the counters starts with them right: the migration fills
/// them from the items already there.
async fn the_migration_counts_existing_items(db: &TestDb) {
    use sea_orm_migration::MigratorTrait;
    let clock = ManualClock::new(T0);
    let store = store_at(db, &clock, RetryPolicy::default());
    store.insert_items(&items(1..31, "old")).await.unwrap();
    store.insert_items(&items(31..41, "older")).await.unwrap();
    let node = NodeId::new();
    let taken = store.claim_any(node, LEASE, 12, &WorkflowState::RUNNABLE).await.unwrap();
    let done: Vec<_> = taken.iter().map(|i| outcome(i, StepOutcome::done())).collect();
    store.apply(&done, Fence::Lease(node), Some(node)).await.unwrap();
    // Back to the schema before the counters (the operator columns and the dropped record indexes came after them), then up
    // again, as an upgrade would.
    crate::fixtures::migrate_down_through(&db.conn, "m20261202_000007_item_counts").await;
    schema::Migrator::up(&db.conn, None).await.unwrap();
    let status = store.status().await.unwrap();
    assert_eq!(status.total, 40);
    assert_eq!(status.by_state[&WorkflowState::Migrated], 12);
    // The chart starts empty after an upgrade; only the item counts are filled.
    assert!(store.throughput(0).await.unwrap().is_empty());
    assert_eq!(status.by_batch, counted_by_batch(db).await);
    // Running the migrations again counts nothing twice.
    let again = orchestrator::db::open(&db.target).await.unwrap();
    assert_eq!(store.status().await.unwrap().total, 40);
    again.close().await.unwrap();
}
on_both_backends!(the_migration_counts_existing_items);
