//! Claim, lease, fencing and history on both backends.

use orchestrator::clock::{Clock, ManualClock};
use orchestrator::retry::RetryPolicy;
use orchestrator::state_machine::{Due, Event, Facts, decide};
use orchestrator::store::{Applied, Claim, ClaimOrder, Fence, NewItem, Selection, Store};
use schema::entity::workflow;
use schema::{A2Id, NodeId, WorkflowState};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use std::sync::Arc;
use std::time::Duration;
use tests::{TestDb, on_both_backends};
use uuid::Uuid;
use workers::{StepOutcome, WorkItem};

const T0: i64 = 1_790_000_000_000;

pub(crate) fn store_at(db: &TestDb, clock: &ManualClock, policy: RetryPolicy) -> Store {
    Store::new(db.conn.clone(), Arc::new(clock.clone()), policy)
}

pub(crate) fn items(range: std::ops::Range<i64>, batch: &str) -> Vec<NewItem> {
    range.map(|a2_id| NewItem::new(a2_id, batch)).collect()
}

fn done(item: &WorkItem) -> Applied {
    let facts = Facts::new(item.state, item.attempt, None, &RetryPolicy::default());
    let transition = decide(facts, &Event::Step(StepOutcome::done())).unwrap();
    Applied { a3_correspondence_id: Some(Uuid::now_v7()), ..Applied::plain(item.id, item.a2_id, transition) }
}

async fn claim_is_exclusive_and_fenced(db: &TestDb) {
    let clock = ManualClock::new(T0);
    let store = store_at(db, &clock, RetryPolicy::default());
    assert_eq!(store.insert_items(&items(1..11, "p1")).await.unwrap(), 10);
    assert_eq!(
        store.insert_items(&items(5..13, "p1")).await.unwrap(),
        2,
        "known A2 ids are not enqueued twice"
    );

    let (a, b) = (NodeId::new(), NodeId::new());
    let lease = Duration::from_secs(30);
    let first = store.claim_any(a, lease, 5, &WorkflowState::RUNNABLE).await.unwrap();
    let second = store.claim_any(b, lease, 100, &WorkflowState::RUNNABLE).await.unwrap();
    assert_eq!(first.len(), 5);
    assert_eq!(second.len(), 7);
    assert!(first.iter().all(|i| !second.iter().any(|j| j.id == i.id)), "claims overlap");
    assert!(store.claim_any(b, lease, 100, &WorkflowState::RUNNABLE).await.unwrap().is_empty());

    // A completes its own items; B's attempt to complete A's item is fenced off.
    let r = store.apply(&[done(&first[0])], Fence::Lease(b), Some(b)).await.unwrap();
    assert_eq!((r.committed.len(), r.lost.len()), (0, 1));
    let r = store.apply(&first.iter().map(done).collect::<Vec<_>>(), Fence::Lease(a), Some(a)).await.unwrap();
    assert_eq!((r.committed.len(), r.lost.len()), (5, 0));
    // Applying the same results again is a no-op: the state fence no longer holds.
    let r = store.apply(&first.iter().map(done).collect::<Vec<_>>(), Fence::Lease(a), Some(a)).await.unwrap();
    assert_eq!((r.committed.len(), r.lost.len()), (0, 5));

    let row = workflow::Entity::find_by_id(first[0].id.get()).one(&db.conn).await.unwrap().unwrap();
    assert_eq!(row.state, WorkflowState::Migrated);
    assert_eq!(row.lease_owner, None);
    assert!(row.a3_correspondence_id.is_some());
    // Migrated items are due again at once, for the next step; a claim for another step skips them.
    assert!(store.claim(b, lease, 100, WorkflowState::SyncPending).await.unwrap().is_empty());
    let next = store.claim(b, lease, 100, WorkflowState::Migrated).await.unwrap();
    assert_eq!(next.len(), 5);
    assert!(next.iter().all(|i| i.state == WorkflowState::Migrated && i.a3_correspondence_id.is_some()));

    // One batch of items whose fence holds and one whose does not (a stale result for an item
    // that has moved on): only the first are written, and only they get history rows.
    // (`first[0]`'s first step, again; B holds it now, in Migrated.)
    let moving: Vec<&WorkItem> = next.iter().filter(|i| i.id != first[0].id).take(2).collect();
    let mixed: Vec<Applied> = moving.iter().copied().chain([&first[0]]).map(done).collect();
    let r = store.apply(&mixed, Fence::Lease(b), Some(b)).await.unwrap();
    assert_eq!((r.committed.len(), r.lost, moving.len()), (2, vec![first[0].id], 2));

    let histories = tests::assert_history_consistent(&db.conn).await;
    assert_eq!(histories.len(), 12);
    assert_eq!(histories[&first[0].id.get()].len(), 2, "a fenced-off item has no new history row");
    for m in moving {
        assert_eq!(histories[&m.id.get()].len(), 3, "a written item has its history row");
    }
}
on_both_backends!(claim_is_exclusive_and_fenced);

async fn expired_leases_are_claimable_again(db: &TestDb) {
    let clock = ManualClock::new(T0);
    let store = store_at(db, &clock, RetryPolicy::default());
    store.insert_items(&items(1..4, "p")).await.unwrap();
    let (dead, alive) = (NodeId::new(), NodeId::new());
    let lease = Duration::from_secs(10);
    let taken = store.claim_any(dead, lease, 10, &WorkflowState::RUNNABLE).await.unwrap();
    assert_eq!(taken.len(), 3);
    clock.advance(Duration::from_secs(9));
    assert!(
        store.claim_any(alive, lease, 10, &WorkflowState::RUNNABLE).await.unwrap().is_empty(),
        "lease still valid"
    );
    // A heartbeat renews the lease.
    let ids: Vec<_> = taken.iter().map(|i| i.id).collect();
    assert_eq!(store.renew(dead, &ids, lease).await.unwrap(), 3);
    clock.advance(Duration::from_secs(9));
    assert!(
        store.claim_any(alive, lease, 10, &WorkflowState::RUNNABLE).await.unwrap().is_empty(),
        "renewed lease"
    );
    clock.advance(Duration::from_secs(2));
    let again = store.claim_any(alive, lease, 10, &WorkflowState::RUNNABLE).await.unwrap();
    assert_eq!(again.len(), 3, "expired leases come back");
    // The node that lost its lease cannot commit over the new owner.
    let r = store
        .apply(&taken.iter().map(done).collect::<Vec<_>>(), Fence::Lease(dead), Some(dead))
        .await
        .unwrap();
    assert_eq!(r.lost.len(), 3);
    let r = store
        .apply(&again.iter().map(done).collect::<Vec<_>>(), Fence::Lease(alive), Some(alive))
        .await
        .unwrap();
    assert_eq!(r.committed.len(), 3);
    // Release frees leases at once.
    let held = store.claim_any(alive, lease, 10, &WorkflowState::RUNNABLE).await.unwrap();
    assert_eq!(held.len(), 3);
    assert_eq!(store.release(alive).await.unwrap(), 3);
    assert_eq!(store.claim_any(dead, lease, 10, &WorkflowState::RUNNABLE).await.unwrap().len(), 3);
    tests::assert_history_consistent(&db.conn).await;
}
on_both_backends!(expired_leases_are_claimable_again);

/// A claim is one unit: released by its id (its reply was lost, so the node does not know what it
/// took), and a commit is fenced by it, so when a node's lease lapsed and the node claimed the
/// item again, only the newer run can write.
async fn a_claim_is_released_and_fenced_by_its_id(db: &TestDb) {
    let clock = ManualClock::new(T0);
    let store = store_at(db, &clock, RetryPolicy::default());
    store.insert_items(&items(1..7, "p")).await.unwrap();
    let node = NodeId::new();
    let lease = Duration::from_secs(10);
    let (lost, kept) = (Claim::new(node, lease), Claim::new(node, lease));
    let all = Selection::all();
    let state = WorkflowState::CreatedInA2;
    let taken = store.claim_in(&lost, 3, state, &all, ClaimOrder::Due).await.unwrap();
    let other = store.claim_in(&kept, 3, state, &all, ClaimOrder::Due).await.unwrap();
    assert_eq!((taken.len(), other.len()), (3, 3));
    // Releasing the lost claim frees its three items and not the same node's other claim.
    assert_eq!(store.release_claim(&lost).await.unwrap(), 3);
    assert_eq!(store.release_claim(&lost).await.unwrap(), 0, "nothing left to release");
    let leased = workflow::Entity::find().filter(workflow::Column::LeaseOwner.is_not_null()).count(&db.conn);
    assert_eq!(leased.await.unwrap(), 3);
    let second = NodeId::new();
    let again = store.claim_any(second, lease, 10, &WorkflowState::RUNNABLE).await.unwrap();
    let mut ids: Vec<_> = again.iter().map(|i| i.id).collect();
    ids.sort();
    let mut want: Vec<_> = taken.iter().map(|i| i.id).collect();
    want.sort();
    assert_eq!(ids, want, "exactly the released claim's items are claimable");
    let batch: Vec<Applied> = again.iter().map(done).collect();
    let r = store.apply(&batch, Fence::Lease(second), Some(second)).await.unwrap();
    assert_eq!(r.committed.len(), 3);

    // The kept claim's lease lapses; the same node claims the items again under a new claim.
    clock.advance(Duration::from_secs(11));
    let newer = Claim::new(node, lease);
    let retaken = store.claim_in(&newer, 10, state, &all, ClaimOrder::Due).await.unwrap();
    assert_eq!(retaken.len(), 3);
    let under = |items: &[WorkItem], claim: &Claim| -> Vec<Applied> {
        items.iter().map(|i| Applied { claim: Some(claim.id), ..done(i) }).collect()
    };
    let r = store.apply(&under(&other, &kept), Fence::Lease(node), Some(node)).await.unwrap();
    assert_eq!((r.committed.len(), r.lost.len()), (0, 3), "the superseded run cannot write");
    // Releasing the superseded claim does not touch the newer claim's leases.
    assert_eq!(store.release_claim(&kept).await.unwrap(), 0);
    let r = store.apply(&under(&retaken, &newer), Fence::Lease(node), Some(node)).await.unwrap();
    assert_eq!((r.committed.len(), r.lost.len()), (3, 0), "the newer run writes");
    tests::assert_history_consistent(&db.conn).await;
}
on_both_backends!(a_claim_is_released_and_fenced_by_its_id);

/// The heartbeat's renewal and the writer's commit touch the same rows at the same time, in
/// opposite orders here; neither may deadlock the other (PostgreSQL aborted one of them before
/// renewal skipped rows a commit holds).
async fn renewal_and_commit_do_not_deadlock(db: &TestDb) {
    let clock = ManualClock::new(T0);
    let store = store_at(db, &clock, RetryPolicy::default());
    store.insert_items(&items(1..3001, "p")).await.unwrap();
    let node = NodeId::new();
    let lease = Duration::from_secs(60);
    let mut taken = store.claim_any(node, lease, 3000, &WorkflowState::RUNNABLE).await.unwrap();
    assert_eq!(taken.len(), 3000);
    taken.sort_by_key(|i| std::cmp::Reverse(i.id));
    let ids: Vec<_> = taken.iter().rev().map(|i| i.id).collect();
    let heartbeat = {
        let store = store.clone();
        tokio::spawn(async move {
            for _ in 0..40 {
                store.renew(node, &ids, lease).await.expect("renewal failed");
            }
        })
    };
    let mut committed = 0;
    for chunk in taken.chunks(100) {
        let batch: Vec<Applied> = chunk.iter().map(done).collect();
        committed +=
            store.apply(&batch, Fence::Lease(node), Some(node)).await.expect("commit failed").committed.len();
    }
    heartbeat.await.expect("the heartbeat panicked");
    assert_eq!(committed, 3000, "every commit written");
}
on_both_backends!(renewal_and_commit_do_not_deadlock);

async fn claims_due_items_in_due_order(db: &TestDb) {
    let clock = ManualClock::new(T0);
    let store = store_at(db, &clock, RetryPolicy::default());
    store.insert_items(&items(1..2, "p")).await.unwrap();
    clock.advance(Duration::from_secs(1));
    store.insert_items(&items(2..3, "p")).await.unwrap();
    let owner = NodeId::new();
    let lease = Duration::from_secs(10);
    let first = store.claim_any(owner, lease, 1, &WorkflowState::RUNNABLE).await.unwrap();
    assert_eq!(first[0].a2_id, A2Id(1), "oldest due first");
    // Nothing is claimed before it is due.
    let policy = RetryPolicy { randomization: 0.0, ..RetryPolicy::default() };
    let store = store_at(db, &clock, policy);
    let facts = Facts::new(first[0].state, 0, None, &policy);
    let t = decide(facts, &Event::Step(StepOutcome::Retryable("503".into()))).unwrap();
    store
        .apply(&[Applied::plain(first[0].id, first[0].a2_id, t)], Fence::Lease(owner), Some(owner))
        .await
        .unwrap();
    let row = workflow::Entity::find_by_id(first[0].id.get()).one(&db.conn).await.unwrap().unwrap();
    assert_eq!(row.next_run_at, clock.now_ms() + 1000, "first retry after the initial interval");
    assert_eq!(row.attempt, 1);
    assert_eq!(row.last_error.as_deref(), Some("503"));
    let now = store.claim_any(owner, lease, 10, &WorkflowState::RUNNABLE).await.unwrap();
    assert_eq!(now.iter().map(|i| i.a2_id.get()).collect::<Vec<_>>(), vec![2]);
    clock.advance(Duration::from_millis(1000));
    let later = store.claim_any(owner, lease, 10, &WorkflowState::RUNNABLE).await.unwrap();
    assert_eq!(later.iter().map(|i| (i.a2_id.get(), i.attempt)).collect::<Vec<_>>(), vec![(1, 1)]);
}
on_both_backends!(claims_due_items_in_due_order);

async fn migrations_are_safe_to_run_twice(db: &TestDb) {
    // Opening runs the migrations again on the already-migrated database.
    let again = orchestrator::db::open(&db.target).await.unwrap();
    let clock = ManualClock::new(T0);
    let store = Store::new(again.clone(), Arc::new(clock), RetryPolicy::default());
    store.insert_items(&items(1..3, "p")).await.unwrap();
    assert_eq!(workflow::Entity::find().count(&db.conn).await.unwrap(), 2);
    again.close().await.unwrap();
}
on_both_backends!(migrations_are_safe_to_run_twice);

/// A claim that committed while its reply was lost (made here behind the dispatcher's back, as
/// its node) is not renewed by the node's heartbeat, which renews only what the node holds in
/// memory: the leases lapse, the items are claimed again and finish, instead of staying leased
/// for as long as the node lives.
async fn a_claim_the_node_never_saw_is_not_renewed(db: &TestDb) {
    use orchestrator::dispatcher::{Dispatcher, DispatcherConfig};
    let store =
        Store::new(db.conn.clone(), Arc::new(orchestrator::clock::SystemClock), RetryPolicy::default());
    store.insert_items(&items(1..21, "p")).await.unwrap();
    let node = orchestrator::node::register(&store).await.unwrap();
    let lease = Duration::from_millis(1500);
    let lost = store.claim_any(node, lease, 5, &WorkflowState::RUNNABLE).await.unwrap();
    assert_eq!(lost.len(), 5);
    let cfg = DispatcherConfig {
        lease,
        exit_when_idle: true,
        idle_poll: Duration::from_millis(20),
        write_linger: Duration::ZERO,
        ..DispatcherConfig::default()
    };
    let d =
        workers::StepKind::ALL.iter().fold(Dispatcher::new(store.clone(), cfg).with_node(node), |d, k| {
            d.with_step(Arc::new(workers::noop::NoopStep::new(*k, Duration::ZERO)), 4)
        });
    // The heartbeat beats every 500 ms; renewed, these leases would never lapse and the run
    // would never end.
    let report =
        tokio::time::timeout(Duration::from_secs(60), d.drive(tokio_util::sync::CancellationToken::new()))
            .await
            .expect("the lost claim's items came back and finished: their leases were not renewed")
            .unwrap();
    assert_eq!(report.transitions, 60);
    let leased = workflow::Entity::find()
        .filter(workflow::Column::LeaseOwner.is_not_null())
        .count(&db.conn)
        .await
        .unwrap();
    assert_eq!(leased, 0);
    tests::assert_history_consistent(&db.conn).await;
}
on_both_backends!(a_claim_the_node_never_saw_is_not_renewed);

/// A completion writes every column its transition carries, on both backends alike (the batch
/// arrives as a `VALUES` list, in power-of-two pieces on SQLite, whole on PostgreSQL): a success with the id
/// it learnt and its lease kept for a chained next step, a retry with its error and backoff, and a
/// failure parked with the state to resume. Text that PostgreSQL cannot hold (NUL) is replaced,
/// and quotes and non-ASCII text arrive as written.
async fn a_completion_writes_every_column_it_carries(db: &TestDb) {
    let clock = ManualClock::new(T0);
    let store = store_at(db, &clock, RetryPolicy::default());
    store.insert_items(&items(1..4, "p1")).await.unwrap();
    let node = NodeId::new();
    let claimed = store.claim(node, Duration::from_secs(30), 10, WorkflowState::CreatedInA2).await.unwrap();
    assert_eq!(claimed.len(), 3);
    let decided = |item: &WorkItem, outcome: StepOutcome| {
        let facts = Facts::new(item.state, item.attempt, None, &RetryPolicy::default());
        Applied::plain(item.id, item.a2_id, decide(facts, &Event::Step(outcome)).unwrap())
    };
    let error = "A3 said \"no\" \0 to «blåbær» {\"x\":[1]}";
    let chain_until = T0 + 45_000;
    let success = Applied {
        a3_correspondence_id: Some(Uuid::now_v7()),
        chain_until: Some(chain_until),
        ..decided(&claimed[0], StepOutcome::done())
    };
    let retry = decided(&claimed[1], StepOutcome::Retryable(error.into()));
    let failure = decided(&claimed[2], StepOutcome::Permanent(error.into()));
    let batch = [success.clone(), retry.clone(), failure.clone()];
    let r = store.apply(&batch, Fence::Lease(node), Some(node)).await.unwrap();
    assert_eq!((r.committed.len(), r.lost.len()), (3, 0));

    let stored = error.replace('\0', "\u{fffd}");
    for a in &batch {
        let row = workflow::Entity::find_by_id(a.id.get()).one(&db.conn).await.unwrap().unwrap();
        let t = &a.transition;
        assert_eq!(row.state, t.to(), "{t:?}");
        assert_eq!(row.resume_state, t.resume_state(), "{t:?}");
        assert_eq!(row.attempt, t.attempt(), "{t:?}");
        // The backoff's delay is jittered: each call draws its own.
        match t.due() {
            Due::Backoff { .. } => assert!(row.next_run_at > T0, "{t:?}"),
            due => assert_eq!(row.next_run_at, store.due_at(T0, due), "{t:?}"),
        }
        assert_eq!(row.same_error_count, t.same_error_count(), "{t:?}");
        assert_eq!(row.last_error.as_deref(), t.error().map(|_| stored.as_str()), "{t:?}");
        assert_eq!(row.reason.is_some(), t.error().is_some(), "{t:?}");
        assert_eq!(row.a3_correspondence_id, a.a3_correspondence_id, "{t:?}");
        assert_eq!(row.dialog_id, None);
        match a.chain_until {
            Some(until) => assert_eq!((row.lease_owner, row.lease_until), (Some(node.get()), Some(until))),
            None => assert_eq!((row.lease_owner, row.lease_until), (None, None), "{t:?}"),
        }
    }
    assert_eq!(failure.transition.resume_state(), Some(WorkflowState::CreatedInA2), "the failure is parked");
    assert!(retry.transition.attempt() > 0 && matches!(retry.transition.due(), Due::Backoff { .. }));

    // Make-available's dialog id, and an item whose step learnt no id keeps the one it has.
    assert!(
        store.claim(node, Duration::from_secs(30), 10, WorkflowState::Migrated).await.unwrap().is_empty(),
        "the kept lease holds the item for its chained step"
    );
    clock.set(chain_until + 1);
    let next = store.claim(node, Duration::from_secs(30), 10, WorkflowState::Migrated).await.unwrap();
    assert_eq!(next.len(), 1, "once the kept lease lapses, a claim takes the item");
    let dialog = Uuid::now_v7();
    let available = Applied {
        dialog_id: Some(dialog),
        ..decided(
            &next[0],
            StepOutcome::Done {
                a3_correspondence_id: None,
                dialog_id: Some(dialog),
                synced_events: Vec::new(),
            },
        )
    };
    store.apply(&[available], Fence::Lease(node), Some(node)).await.unwrap();
    let row = workflow::Entity::find_by_id(next[0].id.get()).one(&db.conn).await.unwrap().unwrap();
    assert_eq!((row.dialog_id, row.a3_correspondence_id), (Some(dialog), success.a3_correspondence_id));
    tests::assert_history_consistent(&db.conn).await;
}
on_both_backends!(a_completion_writes_every_column_it_carries);
