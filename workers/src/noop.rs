//! In-process steps that do no I/O: the engine's benchmark and tests drive items with them.

use crate::{Inputs, Step, StepKind, StepOutcome, WorkItem};
use std::time::Duration;
use uuid::Uuid;

/// Succeeds after an optional delay, inventing the ids a real A3 call would return.
#[derive(Debug, Clone)]
pub struct NoopStep {
    kind: StepKind,
    delay: Duration,
}

impl NoopStep {
    /// A step of `kind` that takes `delay` per item (zero for the throughput benchmark).
    pub fn new(kind: StepKind, delay: Duration) -> Self {
        Self { kind, delay }
    }
}

#[async_trait::async_trait]
impl Step for NoopStep {
    fn kind(&self) -> StepKind {
        self.kind
    }

    /// Like the real steps, migrate and sync take the item's pending events (and report them
    /// accepted), so an item with events does not go back to SyncPending for ever.
    fn inputs(&self) -> Inputs {
        Inputs { record: false, events: self.kind != StepKind::MakeAvailable }
    }

    async fn run(&self, item: &WorkItem) -> StepOutcome {
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        let synced_events = item.events.iter().map(|e| e.id).collect();
        match self.kind {
            StepKind::Migrate => StepOutcome::Done {
                a3_correspondence_id: Some(Uuid::now_v7()),
                dialog_id: None,
                synced_events,
            },
            StepKind::MakeAvailable => StepOutcome::Done {
                a3_correspondence_id: None,
                dialog_id: Some(Uuid::now_v7()),
                synced_events: vec![],
            },
            StepKind::Sync => {
                StepOutcome::Done { a3_correspondence_id: None, dialog_id: None, synced_events }
            }
        }
    }
}
