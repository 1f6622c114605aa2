//! The Altinn 3 side end to end, over real HTTP against the simulator: faults, later events,
//! rate limits, and the token kept secret.

use altinn3_sim::Faults;
use orchestrator::clock::SystemClock;
use orchestrator::demo::{self, DemoOptions};
use orchestrator::dispatcher::{DispatcherConfig, a3_dispatcher};
use orchestrator::retry::RetryPolicy;
use orchestrator::store::Store;
use schema::WorkflowState;
use std::sync::Arc;
use std::time::Duration;
use tests::{TestDb, on_both_backends};
use tokio_util::sync::CancellationToken;
use workers::a2::A2EventBody;
use workers::a3::Failure;
use workers::a3::model::{CorrespondenceStatus, StatusEvent};

fn quiet(items: u64) -> DemoOptions {
    DemoOptions { items, progress: false, concurrency: 16, ..DemoOptions::default() }
}

async fn faults_lose_and_duplicate_nothing(db: &TestDb) {
    let store = Store::new(db.conn.clone(), Arc::new(SystemClock), RetryPolicy::default());
    let faults = Faults {
        error_5xx_rate: 0.20,
        rate_429: 0.05,
        retry_after: Duration::from_secs(1),
        drop_rate: 0.02,
        latency_min: Duration::ZERO,
        latency_max: Duration::from_millis(2),
        rate_limit: None,
    };
    let opts = DemoOptions { faults, invalid_rate: 0.05, ..quiet(400) };
    let r = demo::run(store, opts, CancellationToken::new()).await.unwrap();
    let v = &r.verification;
    assert!(v.ok(), "{v:#?}");
    assert!(v.invalid > 0 && v.invalid_not_rejected.is_empty(), "invalid items are rejected: {v:?}");
    assert_eq!(r.by_state.get(&WorkflowState::Synced), Some(&v.expected), "every valid item is Synced");
    assert_eq!(r.by_state.get(&WorkflowState::Rejected), Some(&v.invalid));
    assert!(r.rejected.iter().all(|(_, why)| !why.is_empty()), "rejected with a reason");
    let f = r.faults_injected;
    assert!(f.error_5xx > 0 && f.rate_429 > 0 && f.drop_before + f.drop_after > 0, "faults happened: {f:?}");
    assert_eq!(v.duplicates_stored, 0);
    tests::assert_history_consistent(&db.conn).await;
}
on_both_backends!(faults_lose_and_duplicate_nothing);

async fn a_later_event_makes_a_synced_item_pending_once(db: &TestDb) {
    let store = Store::new(db.conn.clone(), Arc::new(SystemClock), RetryPolicy::default());
    let records = crate::fixtures::import_valid(&store, 20).await;
    let sim = crate::fixtures::simulator("t", 1).await;
    let client = crate::fixtures::client(&sim, "t");
    let cfg = DispatcherConfig {
        exit_when_idle: true,
        idle_poll: Duration::from_millis(20),
        ..DispatcherConfig::default()
    };
    let root = std::env::current_dir().unwrap();
    let run =
        || a3_dispatcher(&store, cfg.clone(), &client, 8, 10, root.clone()).drive(CancellationToken::new());
    run().await.unwrap();
    let target = records[3].altinn2_correspondence_id;
    assert_eq!(store.show(&target.to_string()).await.unwrap().unwrap().item.state, WorkflowState::Synced);

    let party = records[3].status_history[0].event_user_party_uuid;
    let at: chrono::DateTime<chrono::Utc> = "2026-11-20T12:00:00.100Z".parse().unwrap();
    let archived = StatusEvent {
        status: CorrespondenceStatus::Archived,
        status_text: "Archived".into(),
        status_changed: at,
        event_user_uuid: None,
        event_user_party_uuid: party,
    };
    // A2's near-duplicate from a second data source, 400 microseconds later.
    let twin = StatusEvent { status_changed: at + chrono::Duration::microseconds(400), ..archived.clone() };
    let added = store
        .add_events(&[
            (target, A2EventBody::Status(archived.clone())),
            (target, A2EventBody::Status(twin.clone())),
        ])
        .await
        .unwrap();
    assert_eq!((added.inserted, added.duplicates, added.made_pending), (1, 1, 1));
    assert_eq!(
        store.show(&target.to_string()).await.unwrap().unwrap().item.state,
        WorkflowState::SyncPending
    );
    let again = store.add_events(&[(target, A2EventBody::Status(twin))]).await.unwrap();
    assert_eq!((again.inserted, again.made_pending), (0, 0), "a known event changes nothing");

    let report = run().await.unwrap();
    assert_eq!(report.transitions, 1, "only the pending item moved");
    let shown = store.show(&target.to_string()).await.unwrap().unwrap();
    assert_eq!(shown.item.state, WorkflowState::Synced);
    let states: Vec<_> = shown.history.iter().map(|h| h.to_state).collect();
    assert_eq!(&states[states.len() - 2..], &[WorkflowState::SyncPending, WorkflowState::Synced]);
    let held = sim.sim.item(target).unwrap();
    let key = altinn3_sim::keys::status("Archived", at, party);
    let archived_held = held.statuses.iter().filter(|e| e.key == key).count();
    assert_eq!(archived_held, 1, "the event is in A3 once");
    assert_eq!(sim.sim.inventory().duplicates_stored, 0);
    sim.stop().await;
    tests::assert_history_consistent(&db.conn).await;
}
on_both_backends!(a_later_event_makes_a_synced_item_pending_once);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_limit_holds_per_endpoint() {
    let db = TestDb::sqlite().await;
    let store = Store::new(db.conn.clone(), Arc::new(SystemClock), RetryPolicy::default());
    let rate = 25;
    let r = demo::run(store, DemoOptions { rate, ..quiet(150) }, CancellationToken::new()).await.unwrap();
    assert!(r.verification.ok(), "{:#?}", r.verification);
    eprintln!("max calls per second: {:?}", r.max_calls_per_second);
    // Governor allows a burst of `rate` and then `rate` per second: at most 2×rate in any second.
    for (endpoint, max) in &r.max_calls_per_second {
        assert!(
            *max <= u64::from(rate) * 2,
            "{endpoint}: {max} calls in one second with a limit of {rate}/s"
        );
    }
    assert!(r.calls["attachment"] > u64::from(rate) * 2, "enough calls to test the limit: {:?}", r.calls);
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_token_is_refused_and_never_echoed() {
    let sim = crate::fixtures::simulator("right-token-5150", 1).await;
    let client = crate::fixtures::client(&sim, "wrong-token-8086");
    let err = client.make_available(&[uuid::Uuid::now_v7()]).await.unwrap_err();
    let text = format!("{err} {err:?} {client:?}");
    assert!(matches!(err, Failure::Refused(_)), "{text}");
    assert!(text.contains("401"), "{text}");
    assert!(!text.contains("8086") && !text.contains("5150"), "a token leaked: {text}");
    sim.stop().await;
}
