//! The make-available step (Migrated → DialogCreated). Items arrive one by one from the dispatcher;
//! a batcher collects them into calls of up to `batch_size` ids, and each item advances or fails on
//! its own status in the answer.
//!
//! For an item whose migrate call already asked A3 to make it available (`makeAvailable: true`)
//! the call only learns the dialog id: A3 created the dialog in a background job, and a second
//! request for it answers the stored id without creating anything (contract COR-25, MA-2). The
//! step first gives that job `dialog_job_wait` to run, because a call that comes first creates the
//! dialog itself, silently, and the job's dialog with events never happens (COR-26).

use crate::a3::model::dialog_uuid;
use crate::a3::{A3Client, Failure};
use crate::{Step, StepKind, StepOutcome, WorkItem};
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

/// An id to make available, whether its migrate call asked for it already, and where the outcome goes.
type Waiter = (Uuid, bool, oneshot::Sender<StepOutcome>);

/// The make-available step.
#[derive(Debug, Clone)]
pub struct MakeAvailableStep {
    tx: mpsc::Sender<Waiter>,
    dialog_job_wait: Duration,
}

/// How long an item migrated with `makeAvailable: true` waits before its make-available call, so
/// that A3's background job, not the call, creates its dialog.
pub const DEFAULT_DIALOG_JOB_WAIT: Duration = Duration::from_secs(5);

impl MakeAvailableStep {
    /// A step that sends up to `batch_size` ids per call, waiting at most `linger` to fill a batch.
    /// Must be created inside a tokio runtime (it starts the batcher task).
    pub fn new(client: A3Client, batch_size: usize, linger: Duration) -> Self {
        let batch_size = batch_size.max(1);
        let (tx, rx) = mpsc::channel::<Waiter>(batch_size * 4);
        tokio::spawn(batcher(client, rx, batch_size, linger));
        Self { tx, dialog_job_wait: DEFAULT_DIALOG_JOB_WAIT }
    }

    /// The same step waiting `wait` (instead of [`DEFAULT_DIALOG_JOB_WAIT`]) before the first call
    /// for an item migrated with `makeAvailable: true`.
    pub fn with_dialog_job_wait(mut self, wait: Duration) -> Self {
        self.dialog_job_wait = wait;
        self
    }
}

async fn batcher(client: A3Client, mut rx: mpsc::Receiver<Waiter>, batch_size: usize, linger: Duration) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        let deadline = tokio::time::Instant::now() + linger;
        while batch.len() < batch_size {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(w)) => batch.push(w),
                Ok(None) | Err(_) => break,
            }
        }
        let client = client.clone();
        // Calls run concurrently; the client's own limits bound them.
        tokio::spawn(async move {
            let ids: Vec<Uuid> = batch.iter().map(|(id, _, _)| *id).collect();
            match client.make_available(&ids).await {
                Ok(resp) => {
                    let by_id: HashMap<Uuid, _> =
                        resp.statuses.into_iter().map(|s| (s.correspondence_id, s)).collect();
                    for (id, on_migrate, reply) in batch {
                        let outcome = match by_id.get(&id) {
                            Some(s) if s.ok => match dialog_uuid(s.dialog_id.as_deref()) {
                                Some(dialog) => StepOutcome::Done {
                                    a3_correspondence_id: None,
                                    dialog_id: Some(dialog),
                                    synced_events: Vec::new(),
                                },
                                // ok without a dialog: Dialogporten refused it (MA-12) and A3
                                // still holds the item as migrating. Counting it as available
                                // would hide it from every inbox.
                                None => StepOutcome::Permanent(format!(
                                    "make_available: A3 answered ok without a dialog id ({:?}); Dialogporten did not create the dialog",
                                    s.dialog_id.as_deref().unwrap_or("null")
                                )),
                            },
                            Some(s) => StepOutcome::Permanent(format!(
                                "make_available: {}",
                                s.error.as_deref().unwrap_or("refused without a reason")
                            )),
                            None => StepOutcome::Retryable(
                                "make_available: no status for this id in the answer".into(),
                            ),
                        };
                        let _ = reply.send(if on_migrate { after_own_job(outcome) } else { outcome });
                    }
                }
                Err(f) => {
                    for (_, _, reply) in batch {
                        let _ = reply.send(StepOutcome::from(f.clone()));
                    }
                }
            }
        });
    }
}

/// For an item whose migrate call asked A3 to make it available, a status without a dialog is
/// worth another try: A3's job and our call may have created the dialog at the same moment, and
/// Dialogporten refuses the second create (the dialog id is derived from the correspondence), so
/// one side answers `ok:true, dialogId:""` or `ok:false`; the next call finds the stored dialog
/// (contract §3). Refusals that do not heal use up the retry budget and fail the item then.
fn after_own_job(outcome: StepOutcome) -> StepOutcome {
    match outcome {
        StepOutcome::Permanent(e) => {
            StepOutcome::Retryable(format!("{e} (A3's own dialog job may have raced this call)"))
        }
        other => other,
    }
}

#[async_trait::async_trait]
impl Step for MakeAvailableStep {
    fn kind(&self) -> StepKind {
        StepKind::MakeAvailable
    }

    async fn run(&self, item: &WorkItem) -> StepOutcome {
        let Some(id) = item.a3_correspondence_id else {
            return Failure::Permanent("no A3 correspondence id: the item was never migrated".into()).into();
        };
        if item.make_available_on_migrate && item.attempt == 0 {
            tokio::time::sleep(self.dialog_job_wait).await;
        }
        let (reply, answer) = oneshot::channel();
        if self.tx.send((id, item.make_available_on_migrate, reply)).await.is_err() {
            return StepOutcome::Retryable("make_available batcher stopped".into());
        }
        answer
            .await
            .unwrap_or_else(|_| StepOutcome::Retryable("make_available batcher dropped the item".into()))
    }
}
