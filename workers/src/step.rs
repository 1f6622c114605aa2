//! The `Step` trait, the item it receives and the outcome it returns.

use crate::a2::{A2Correspondence, A2EventBody};
pub use schema::StepKind;
use schema::{A2Id, WorkflowId, WorkflowState};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// A claimed item as a step sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkItem {
    /// Workflow id.
    pub id: WorkflowId,
    /// `Altinn2CorrespondenceId`.
    pub a2_id: A2Id,
    /// The import batch it came with (a label; not a config phase).
    pub batch: String,
    /// State at claim time.
    pub state: WorkflowState,
    /// Failed attempts so far of this step.
    pub attempt: i32,
    /// The error of the previous attempt, if it failed (the retry policy compares it with the
    /// next one).
    pub last_error: Option<String>,
    /// Identical server errors in a row so far.
    pub same_error_count: i32,
    /// A3 id, once migrated.
    pub a3_correspondence_id: Option<Uuid>,
    /// Dialog id, once made available.
    pub dialog_id: Option<Uuid>,
    /// The A2 record, when the step asked for it ([`Inputs::record`]). None if there is none.
    pub record: Option<Arc<A2Correspondence>>,
    /// The item's A2 events not yet accepted by A3, oldest first, when the step asked for them.
    pub events: Vec<PendingEvent>,
    /// Stored inputs that could not be read (a step that needs them fails the item with these,
    /// rather than succeed without them).
    pub input_errors: Vec<String>,
    /// The item's phase has the migrate call make it available too (`makeAvailable: true`;
    /// phase setting `make_available = "with-migrate"`). Set by the dispatcher's lane.
    pub make_available_on_migrate: bool,
}

impl WorkItem {
    /// An item with no inputs loaded.
    pub fn bare(id: WorkflowId, a2_id: A2Id, batch: String, state: WorkflowState, attempt: i32) -> Self {
        Self {
            id,
            a2_id,
            batch,
            state,
            attempt,
            last_error: None,
            same_error_count: 0,
            a3_correspondence_id: None,
            dialog_id: None,
            record: None,
            events: Vec::new(),
            input_errors: Vec::new(),
            make_available_on_migrate: false,
        }
    }
}

/// An A2 event waiting to be replayed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingEvent {
    /// Row id in `a2_events`: reported back in [`StepOutcome::Done`] once A3 accepted it.
    pub id: i64,
    /// The event.
    pub body: A2EventBody,
}

/// What a step needs loaded with each claimed item.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Inputs {
    /// The A2 record.
    pub record: bool,
    /// The pending A2 events.
    pub events: bool,
}

/// What a step says happened. Classification is the step's job; what follows is the state machine's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepOutcome {
    /// The step's effect is in A3. Ids learnt on the way are stored.
    Done {
        /// A3 correspondence id, from migrate.
        a3_correspondence_id: Option<Uuid>,
        /// Dialog id, from make-available, or from a migrate call with `makeAvailable: true`
        /// when A3 created the dialog in the call (the item then skips make-available).
        dialog_id: Option<Uuid>,
        /// Ids of the pending events A3 now holds (marked synced with the transition).
        synced_events: Vec<i64>,
    },
    /// A transient failure (timeout, connection, 408, 5xx): try again after backoff.
    Retryable(String),
    /// A3 refused our credentials (401/403): the token's fault, not the item's. The item goes
    /// back as it was (no attempt counted) and the run stops starting Altinn 3 work until the
    /// credentials are accepted again.
    Refused(String),
    /// A3 asked us to slow down (429): wait at least `retry_after`; does not count as an attempt.
    RateLimited {
        /// What A3 said.
        error: String,
        /// The Retry-After it gave.
        retry_after: Duration,
    },
    /// A failure that will not go away by retrying (e.g. 404 on sync of an unknown item).
    Permanent(String),
    /// The input is invalid (e.g. title over 255 chars): reject until the data is fixed.
    Invalid(String),
}

impl StepOutcome {
    /// A success that learnt no ids.
    pub fn done() -> Self {
        Self::Done { a3_correspondence_id: None, dialog_id: None, synced_events: Vec::new() }
    }
}

/// One kind of work. Implementations must be idempotent by A2 id: a step may run again for the same
/// item after a crash or a lost lease.
#[async_trait::async_trait]
pub trait Step: Send + Sync + 'static {
    /// Which step this is.
    fn kind(&self) -> StepKind;

    /// What to load with each item (nothing by default).
    fn inputs(&self) -> Inputs {
        Inputs::default()
    }

    /// Do the work for one item.
    async fn run(&self, item: &WorkItem) -> StepOutcome;
}
