//! The contract rules of migrating and making available in one call (`makeAvailable: true`,
//! §3 and COR-25..COR-29 of `docs/altinn3-contract.md`): when the dialog exists, what the answer's
//! `dialogId` holds, and what a remigration (a retry after a lost answer) does with the flag. The
//! client's side runs the real `MigrateStep` with an item of a `with-migrate` phase.

use super::h::*;
use altinn3_sim::{DialogJob, Faults, RunningSim, SimConfig, Simulator};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Duration;
use workers::migrate::MigrateStep;
use workers::{Step, StepOutcome};

/// A simulator whose dialog jobs run as `job` says.
async fn sim_with(job: DialogJob, faults: Faults) -> RunningSim {
    let cfg = SimConfig { token: TOKEN.into(), seed: 7, faults, dialog_job: job };
    Simulator::start(cfg, "127.0.0.1:0".parse().unwrap()).await.unwrap()
}

/// Production behaviour with the background job `ms` milliseconds after the call.
fn job_after(ms: u64) -> DialogJob {
    DialogJob { development: false, delay: Duration::from_millis(ms) }
}

/// Waits (bounded, 10 s) until every enqueued dialog job has run. The job delays are long (1.5 s)
/// where a test looks before the job runs, so a slow machine cannot reorder the two.
async fn jobs_done(sim: &RunningSim) {
    for _ in 0..1000 {
        let inv = sim.sim.inventory();
        if inv.dialog_jobs_run == inv.dialog_jobs_enqueued {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("dialog jobs still pending: {:?}", sim.sim.inventory().dialog_jobs_enqueued);
}

fn with_migrate(body: &Value) -> Value {
    let mut b = body.clone();
    b["makeAvailable"] = json!(true);
    b
}

/// The real migrate step for a `with-migrate` item.
async fn migrate_with(sim: &RunningSim, a2: i64) -> StepOutcome {
    let rec = record(a2, 0);
    let mut item = work_item(&rec, rec.events());
    item.make_available_on_migrate = true;
    MigrateStep::new(client(sim), PathBuf::from(".")).run(&item).await
}

/// COR-25: "`makeAvailable:true` on first migration, non-Development → `dialogId:""` and no dialog yet; the background job creates it with events; make-available afterwards → `ok:true` with the job's dialog id, nothing created."
#[tokio::test]
async fn cor_25_the_dialog_comes_from_the_background_job() {
    let sim = sim_with(job_after(1500), Faults::default()).await;
    let r = post(&sim, CORRESPONDENCE, &with_migrate(&corr(9001))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["dialogId"], json!(""));
    let i = item(&sim, 9001);
    assert!(i.dialog_id.is_none() && i.is_migrating, "no dialog when the answer arrives");
    jobs_done(&sim).await;
    let i = item(&sim, 9001);
    let dialog = i.dialog_id.clone().expect("the job created the dialog");
    assert!(!i.is_migrating);
    let inv = sim.sim.inventory();
    assert_eq!((inv.dialogs_created, inv.dialogs_created_with_events), (1, 1), "created with events");
    let resp = client(&sim).make_available(&[i.correspondence_id]).await.unwrap();
    assert!(resp.statuses[0].ok);
    assert_eq!(resp.statuses[0].dialog_id.as_deref(), Some(dialog.as_str()));
    assert_eq!(sim.sim.inventory().dialogs_created, 1, "make-available created nothing");
    // Our step: an empty dialog id is no dialog, so the item goes on to make-available.
    let o = migrate_with(&sim, 9002).await;
    assert!(matches!(o, StepOutcome::Done { a3_correspondence_id: Some(_), dialog_id: None, .. }), "{o:?}");
    sim.stop().await;
}

/// COR-26: "make-available before the background job ran → it creates the dialog itself, silently; the job then finds it and creates nothing: one dialog."
#[tokio::test]
async fn cor_26_make_available_before_the_job_creates_the_one_dialog() {
    let sim = sim_with(job_after(1500), Faults::default()).await;
    let r = post(&sim, CORRESPONDENCE, &with_migrate(&corr(9011))).await;
    let g: uuid::Uuid = serde_json::from_value(r.json["correspondenceId"].clone()).unwrap();
    let resp = client(&sim).make_available(&[g]).await.unwrap();
    assert!(resp.statuses[0].ok);
    let dialog = resp.statuses[0].dialog_id.clone().unwrap();
    assert!(!dialog.is_empty());
    jobs_done(&sim).await;
    let inv = sim.sim.inventory();
    assert_eq!(inv.dialogs, 1);
    assert_eq!(inv.dialogs_created, 1, "the job found the dialog and created none");
    assert_eq!(inv.dialogs_created_with_events, 0, "the call's dialog is silent");
    assert_eq!(item(&sim, 9011).dialog_id.as_deref(), Some(dialog.as_str()));
    sim.stop().await;
}

/// COR-27: "Remigration with `makeAvailable:true` after a first migration without it → 200, `dialogId:null`, no job, no dialog: the flag is ignored."
#[tokio::test]
async fn cor_27_a_remigration_ignores_make_available() {
    let sim = sim_with(job_after(0), Faults::default()).await;
    let first = post(&sim, CORRESPONDENCE, &corr(9021)).await;
    assert_eq!(first.json["dialogId"], Value::Null);
    let again = post(&sim, CORRESPONDENCE, &with_migrate(&corr(9021))).await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(again.json["dialogId"], Value::Null);
    assert_eq!(again.json["correspondenceId"], first.json["correspondenceId"]);
    let inv = sim.sim.inventory();
    assert_eq!((inv.remigrations, inv.dialog_jobs_enqueued, inv.dialogs), (1, 0, 0));
    assert!(item(&sim, 9021).is_migrating);
    sim.stop().await;
}

/// COR-28: "Development → the dialog is created in the call and `dialogId` is its id; make-available afterwards answers the same id."
#[tokio::test]
async fn cor_28_development_answers_the_dialog_id() {
    let sim = sim_with(DialogJob { development: true, delay: Duration::ZERO }, Faults::default()).await;
    let o = migrate_with(&sim, 9031).await;
    let StepOutcome::Done { a3_correspondence_id: Some(g), dialog_id: Some(d), .. } = o else {
        panic!("expected the dialog id in the answer: {o:?}")
    };
    let i = item(&sim, 9031);
    assert_eq!(i.dialog_id, Some(d.to_string()), "the dialog exists when the answer arrives");
    let resp = client(&sim).make_available(&[g]).await.unwrap();
    assert_eq!(resp.statuses[0].dialog_id, Some(d.to_string()));
    assert_eq!(sim.sim.inventory().dialogs_created, 1);
    sim.stop().await;
}

/// COR-29: "First answer lost after A3 processed the call; the same body again is a remigration → `dialogId:null`; the first call's job still creates the dialog, once."
#[tokio::test]
async fn cor_29_a_lost_answer_leaves_the_job_and_a_null_dialog_id() {
    // Every call dropped: the 1st before processing, the 2nd after (the faults alternate).
    let drop_all = Faults { drop_rate: 1.0, ..Faults::default() };
    let sim = sim_with(job_after(50), drop_all).await;
    let body = with_migrate(&corr(9041));
    for _ in 0..2 {
        let sent = http()
            .post(format!("{}/{BASE}/{CORRESPONDENCE}", sim.base_url))
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {TOKEN}"))
            .body(body.to_string())
            .send()
            .await;
        let lost = match sent {
            Err(_) => true,
            Ok(resp) => resp.text().await.is_err(),
        };
        assert!(lost, "the answer is dropped");
    }
    let f = sim.sim.inventory().faults_injected;
    assert_eq!((f.drop_before, f.drop_after), (1, 1));
    // The call whose answer was lost after processing stored the item and enqueued its job.
    jobs_done(&sim).await;
    let inv = sim.sim.inventory();
    assert_eq!((inv.correspondences, inv.dialog_jobs_enqueued, inv.dialogs), (1, 1, 1));
    sim.stop().await;
    // What the retry is answered, on a simulator that answers.
    let sim = sim_with(job_after(50), Faults::default()).await;
    let first = post(&sim, CORRESPONDENCE, &body).await;
    assert_eq!(first.json["dialogId"], json!(""));
    let retry = post(&sim, CORRESPONDENCE, &body).await;
    assert_eq!(retry.status, 200, "{}", retry.text);
    assert_eq!(retry.json["dialogId"], Value::Null, "a remigration: makeAvailable ignored");
    jobs_done(&sim).await;
    let inv = sim.sim.inventory();
    assert_eq!((inv.dialog_jobs_enqueued, inv.dialogs, inv.dialogs_created), (1, 1, 1));
    sim.stop().await;
}

/// COR-26, our side: for an item of a `with-migrate` phase a status without a dialog is retried
/// (the two creates may have raced, §3), where a batched item fails at once.
#[tokio::test]
async fn cor_26_our_step_retries_a_status_without_a_dialog_for_its_own_job() {
    use workers::make_available::MakeAvailableStep;
    let sim = sim_with(job_after(0), Faults::default()).await;
    let step = MakeAvailableStep::new(client(&sim), 10, Duration::from_millis(5))
        .with_dialog_job_wait(Duration::ZERO);
    let rec = record(9051, 0);
    let mut item = work_item(&rec, vec![]);
    item.state = schema::WorkflowState::Migrated;
    item.a3_correspondence_id = Some(uuid::Uuid::now_v7());
    let batched = step.run(&item).await;
    assert!(matches!(batched, StepOutcome::Permanent(_)), "{batched:?}");
    item.make_available_on_migrate = true;
    let live = step.run(&item).await;
    assert!(matches!(&live, StepOutcome::Retryable(e) if e.contains("not found")), "{live:?}");
    sim.stop().await;
}
