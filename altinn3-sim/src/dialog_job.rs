//! The dialog a migrate call with `makeAvailable: true` asks for
//! (`MigrateCorrespondenceHandler.cs:65-97`). Outside `Development` A3 does not create it in the
//! call: it enqueues a Hangfire job (`:79`) that runs `MakeCorrespondenceAvailableInDialogportenAndApi`
//! later with `createEvents: true`, chains the publish after it (`:80`;
//! `Helpers/HangfireScheduleHelper.cs:20-23`), and answers `"dialogId": ""` (`:65,97`). So the
//! dialog does not exist when the answer arrives; it exists once the job has run. In `Development`
//! the dialog is created inline and the answer carries its id (`:68-76`; an exception there is
//! swallowed and the answer is `""`). A remigration never reaches this code (`:100-145`).
//!
//! The simulator runs the job `delay` after the call (in a task the server spawns), or before the
//! answer is sent when `delay` is zero. Like the job, it loads the correspondence when it runs: a
//! dialog made available meanwhile by a make-available call is found and nothing is created
//! (`:231-235`).

use crate::faults::millis;
use crate::inventory::Tables;
use crate::make_available;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use uuid::Uuid;

/// How A3 creates the dialog of a migrate call with `makeAvailable: true`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DialogJob {
    /// Answer as A3 does in its `Development` environment: the dialog is created in the call and
    /// the answer carries its id. Off (the default): as in every other environment, a background
    /// job creates it and the answer's `dialogId` is `""`.
    pub development: bool,
    /// How long after the call the background job runs (zero: before the answer is sent).
    #[serde(rename = "delay_ms", with = "millis")]
    pub delay: Duration,
}

/// The background job for correspondence `cid`: `MakeCorrespondenceAvailableInDialogportenAndApi(
/// cid, None, null, createEvents: true)` (`MigrateCorrespondenceHandler.cs:79`). A failure (a
/// purged item) is the job's, never the caller's.
pub(crate) fn run(store: &mut Tables, cid: Uuid) {
    let _ = make_available::make_available(store, cid, true);
    store.ledger.dialog_jobs_run += 1;
}

/// What the migrate call does for `makeAvailable: true` after the correspondence was stored, and
/// the `dialogId` it answers.
pub(crate) fn on_migrate(store: &mut Tables, cid: Uuid) -> String {
    if store.dialog_job.development {
        // Inline, errors swallowed (:68-76).
        return make_available::make_available(store, cid, true).unwrap_or_default();
    }
    store.ledger.dialog_jobs_enqueued += 1;
    if store.dialog_job.delay.is_zero() {
        run(store, cid);
    } else {
        store.dialog_jobs.push(cid);
    }
    String::new()
}
