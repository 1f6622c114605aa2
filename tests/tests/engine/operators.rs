//! Operator commands through the store: status, stuck, show, retry and cancel.

use crate::store::{items, store_at};
use orchestrator::clock::ManualClock;
use orchestrator::retry::RetryPolicy;
use orchestrator::state_machine::Event;
use orchestrator::store::{Origin, Selector};
use schema::WorkflowState;
use std::time::Duration;
use tests::{TestDb, on_both_backends};

async fn status_stuck_show_cancel_retry(db: &TestDb) {
    let clock = ManualClock::new(1_790_000_000_000);
    let store = store_at(db, &clock, RetryPolicy::default());
    store.insert_items(&items(1..6, "2025")).await.unwrap();
    store.insert_items(&items(100..103, "2024")).await.unwrap();

    let s = store.status().await.unwrap();
    assert_eq!(s.total, 8);
    assert_eq!(s.by_batch["2025"][&WorkflowState::CreatedInA2], 5);
    assert_eq!(s.by_batch["2024"][&WorkflowState::CreatedInA2], 3);

    // A node claims two items and dies: after the lease they show as stuck.
    let owner = schema::NodeId::new();
    let claimed = store.claim_any(owner, Duration::from_secs(60), 2, &WorkflowState::RUNNABLE).await.unwrap();
    assert!(store.stuck(30 * 60_000, 100).await.unwrap().is_empty());
    clock.advance(Duration::from_secs(61));
    let stuck = store.stuck(30 * 60_000, 100).await.unwrap();
    assert_eq!(stuck.len(), 2);
    assert!(stuck.iter().all(|s| s.reason == "lease expired"));
    clock.advance(Duration::from_secs(30 * 60));
    assert_eq!(store.stuck(30 * 60_000, 100).await.unwrap().len(), 8, "nothing moved for 30 minutes");

    // Cancel by A2 id and by workflow id; a leased item's lease is dropped with it.
    // One item by A2 id (not a claimed one: claims of equally due items come in any order) and
    // one claimed item by workflow id.
    let free = (1..6).find(|a2| !claimed.iter().any(|c| c.a2_id.get() == *a2)).unwrap();
    let sel = Selector {
        keys: vec![free.to_string(), claimed[1].id.to_string(), "999".into()],
        ..Selector::default()
    };
    let r = store.operate(&sel, Event::OperatorCancel, Origin::Cli).await.unwrap();
    assert_eq!(r.changed, 2);
    assert_eq!(r.not_found, vec!["999".to_string()]);
    let shown = store.show(&claimed[1].id.to_string()).await.unwrap().unwrap();
    assert_eq!(store.show(&free.to_string()).await.unwrap().unwrap().item.state, WorkflowState::Cancelled);
    assert_eq!(shown.item.state, WorkflowState::Cancelled);
    assert_eq!(shown.item.lease_owner, None);
    assert_eq!(shown.history.len(), 2);
    assert_eq!(shown.history[1].error.as_deref(), Some("cancelled by operator"));
    // Cancelling again is reported, not repeated.
    let again = store.operate(&sel, Event::OperatorCancel, Origin::Cli).await.unwrap();
    assert_eq!((again.changed, again.skipped.len()), (0, 2));
    // Retry on a runnable item is refused with a reason; on the cancelled ones it works.
    let r = store
        .operate(
            &Selector { batch: Some("2024".into()), ..Selector::default() },
            Event::OperatorRetry,
            Origin::Cli,
        )
        .await
        .unwrap();
    assert_eq!((r.changed, r.skipped.len()), (0, 3));
    assert!(r.skipped[0].reason.contains("not allowed"));
    let r = store
        .operate(
            &Selector { state: Some(WorkflowState::Cancelled), ..Selector::default() },
            Event::OperatorRetry,
            orchestrator::store::Origin::Cli,
        )
        .await
        .unwrap();
    assert_eq!(r.changed, 2);
    assert!(
        store.operate(&Selector::default(), Event::OperatorCancel, Origin::Cli).await.is_err(),
        "an empty selector is refused"
    );
    assert!(store.show("not-an-id").await.is_err());
    assert!(store.show("424242").await.unwrap().is_none());
    tests::assert_history_consistent(&db.conn).await;
}
on_both_backends!(status_stuck_show_cancel_retry);
