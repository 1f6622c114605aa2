//! The live phase's `make_available = "with-migrate"` end to end against the simulator: the
//! migrate call asks A3 to make the item available, the item reaches DialogCreated with the
//! dialog id A3 holds, and a lost first answer (a dropped connection after A3 processed the call)
//! leaves one dialog, not two. Prints the Altinn 3 calls per item, beside a batched phase for
//! comparison (BENCHMARKS.md records them).

use altinn3_sim::{DialogJob, Faults, Inventory, SimConfig, Simulator};
use orchestrator::clock::SystemClock;
use orchestrator::dispatcher::{Dispatcher, DispatcherConfig};
use orchestrator::phase::{MakeAvailable, Phase, Window};
use orchestrator::retry::RetryPolicy;
use orchestrator::store::{ClaimOrder, Selection, Store};
use schema::WorkflowState;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tests::{TestDb, on_both_backends};
use tokio_util::sync::CancellationToken;
use workers::StepKind;
use workers::make_available::MakeAvailableStep;
use workers::migrate::MigrateStep;
use workers::sync::SyncStep;

const ITEMS: usize = 60;
const N: u64 = 60;

/// One run: `ITEMS` fresh items through a phase with `mode`, against a simulator whose dialog
/// jobs run as `job` and that drops `drop_rate` of the calls (half of the drops after A3 has
/// processed the call). Returns what the simulator holds and how many items skipped Migrated.
async fn run(db: &TestDb, mode: MakeAvailable, job: DialogJob, drop_rate: f64) -> (Inventory, usize) {
    let policy = RetryPolicy {
        initial: Duration::from_millis(20),
        max_interval: Duration::from_millis(200),
        max_attempts: 30,
        ..RetryPolicy::default()
    };
    let store = Store::new(db.conn.clone(), Arc::new(SystemClock), policy);
    let records = crate::fixtures::import_valid(&store, ITEMS).await;
    let faults = Faults { drop_rate, ..Faults::default() };
    let sim = Simulator::start(
        SimConfig { token: "live".into(), seed: 14, faults, dialog_job: job },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let client = crate::fixtures::client(&sim, "live");
    let phase = Phase {
        name: "live".into(),
        selection: Selection::all(),
        steps: StepKind::ALL.to_vec(),
        order: ClaimOrder::Due,
        window: Window::Always,
        rate: None,
        concurrency: 16,
        make_available: mode,
    };
    let cfg = DispatcherConfig {
        exit_when_idle: true,
        idle_poll: Duration::from_millis(20),
        ..DispatcherConfig::default()
    };
    let make_available = MakeAvailableStep::new(client.clone(), 10, Duration::from_millis(20))
        // Ten times the job's delay, so that a loaded machine does not let our call come first.
        .with_dialog_job_wait(job.delay * 10);
    let report = Dispatcher::new(store.clone(), cfg)
        .with_phases(vec![phase])
        .with_step(Arc::new(MigrateStep::new(client.clone(), PathBuf::from("."))), 16)
        .with_step(Arc::new(make_available), 20)
        .with_step(Arc::new(SyncStep::new(client.clone())), 16)
        .drive(CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(report.failed + report.rejected, 0, "{report:?}");
    // Jobs still waiting for their delay would make the counts below early.
    for _ in 0..500 {
        let inv = sim.sim.inventory();
        if inv.dialog_jobs_run == inv.dialog_jobs_enqueued {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let inv = sim.sim.inventory();
    let mut skipped = 0;
    for r in &records {
        let shown = store.show(&r.altinn2_correspondence_id.to_string()).await.unwrap().unwrap();
        assert_eq!(shown.item.state, WorkflowState::Synced, "{}", r.altinn2_correspondence_id);
        let held = sim.sim.item(r.altinn2_correspondence_id).expect("in A3");
        // The dialog id we store is the one A3 holds: learnt from A3, not assumed.
        assert_eq!(
            shown.item.dialog_id.map(|d| d.to_string()),
            held.dialog_id,
            "{}",
            r.altinn2_correspondence_id
        );
        // It was known when the item became DialogCreated (same write), whichever way it came.
        if !shown.history.iter().any(|h| h.to_state == WorkflowState::Migrated) {
            skipped += 1;
        }
    }
    sim.stop().await;
    tests::assert_history_consistent(&db.conn).await;
    (inv, skipped)
}

fn per_item(inv: &Inventory, endpoint: &str) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let per = inv.calls.get(endpoint).copied().unwrap_or(0) as f64 / ITEMS as f64;
    per
}

fn report(label: &str, inv: &Inventory, skipped: usize) {
    let total: u64 = inv.calls.values().sum();
    #[allow(clippy::cast_precision_loss)]
    let all = total as f64 / ITEMS as f64;
    eprintln!(
        "{label}: A3 calls per item {all:.2} (migrate {:.2}, make-available {:.2}, sync {:.2}); \
         remigrations {}, dialogs {} created {} (with events {}), faults {}, items that skipped Migrated {skipped}",
        per_item(inv, "correspondence"),
        per_item(inv, "make_available"),
        per_item(inv, "sync_status") + per_item(inv, "sync_notification") + per_item(inv, "sync_forwarding"),
        inv.remigrations,
        inv.dialogs,
        inv.dialogs_created,
        inv.dialogs_created_with_events,
        inv.faults_injected,
    );
}

/// Every dialog present once: one per item, and no correspondence ever got a second one.
fn every_dialog_once(inv: &Inventory) {
    assert_eq!(inv.correspondences, N);
    assert_eq!(inv.dialogs, N, "every item has its dialog");
    assert_eq!(inv.dialogs_created, N, "no dialog created twice");
    assert_eq!(inv.duplicates_stored, 0);
    assert!(inv.violations.is_empty(), "{:?}", inv.violations);
}

async fn with_migrate_survives_lost_answers(db: &TestDb) {
    let job = DialogJob { development: false, delay: Duration::from_millis(30) };
    let (inv, skipped) = run(db, MakeAvailable::WithMigrate, job, 0.25).await;
    report("with-migrate, 25% of calls dropped", &inv, skipped);
    every_dialog_once(&inv);
    assert!(inv.faults_injected.drop_after > 0 && inv.remigrations > 0, "answers were lost: {inv:?}");
    assert_eq!(inv.dialog_jobs_enqueued, N, "one job per item: retries are remigrations");
    assert_eq!(skipped, 0, "outside Development A3 never answers the id: every item asks make-available");
    // The job made the dialogs: our make-available call came after it and only learnt the id.
    assert_eq!(inv.dialogs_created_with_events, N);
}
on_both_backends!(with_migrate_survives_lost_answers);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_migrate_in_development_takes_one_call() {
    let db = TestDb::sqlite().await;
    let job = DialogJob { development: true, delay: Duration::ZERO };
    let (inv, skipped) = run(&db, MakeAvailable::WithMigrate, job, 0.25).await;
    report("with-migrate, Development, 25% dropped", &inv, skipped);
    every_dialog_once(&inv);
    // An item whose first answer was lost is a remigration (dialogId null) and asks make-available;
    // the others skipped Migrated with the dialog id from the migrate answer.
    assert!(skipped > 0 && skipped < ITEMS, "skipped {skipped}");
    let fresh = TestDb::sqlite().await;
    let (clean, skipped_all) = run(&fresh, MakeAvailable::WithMigrate, job, 0.0).await;
    fresh.finish().await;
    report("with-migrate, Development, no faults", &clean, skipped_all);
    assert_eq!(skipped_all, ITEMS);
    assert_eq!(clean.calls.get("make_available").copied().unwrap_or(0), 0, "no make-available call at all");
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batched_for_comparison() {
    let db = TestDb::sqlite().await;
    let (inv, skipped) = run(&db, MakeAvailable::Batched, DialogJob::default(), 0.25).await;
    report("batched, 25% of calls dropped", &inv, skipped);
    every_dialog_once(&inv);
    assert_eq!((inv.dialog_jobs_enqueued, inv.dialogs_created_with_events, skipped), (0, 0, 0));
    db.finish().await;
}

/// The same without faults, both ways: one migrate call per item either way; with-migrate adds
/// no call, it moves the dialog's creation to A3's job.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_faults_both_ways() {
    let job = DialogJob { development: false, delay: Duration::from_millis(30) };
    for (label, mode) in [
        ("batched, no faults", MakeAvailable::Batched),
        ("with-migrate, no faults", MakeAvailable::WithMigrate),
    ] {
        let db = TestDb::sqlite().await;
        let (inv, skipped) = run(&db, mode, job, 0.0).await;
        report(label, &inv, skipped);
        every_dialog_once(&inv);
        assert_eq!(inv.calls.get("correspondence").copied(), Some(N), "one migrate call per item");
        assert_eq!(inv.remigrations, 0);
        let by_job = if mode == MakeAvailable::WithMigrate { N } else { 0 };
        assert_eq!(inv.dialogs_created_with_events, by_job);
        db.finish().await;
    }
}
