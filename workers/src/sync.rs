//! The sync step (DialogCreated | SyncPending → Synced): the item's pending A2 events, deduplicated
//! the way A3 does, oldest first, to the status / notification / forwarding endpoints.

use crate::a2::Histories;
use crate::a3::model::*;
use crate::a3::{A3Client, Failure};
use crate::{Inputs, Step, StepKind, StepOutcome, WorkItem};

/// The sync step.
#[derive(Debug, Clone)]
pub struct SyncStep {
    client: A3Client,
}

impl SyncStep {
    /// A sync step calling A3 through `client`.
    pub fn new(client: A3Client) -> Self {
        Self { client }
    }

    async fn sync(&self, item: &WorkItem) -> Result<StepOutcome, Failure> {
        if !item.input_errors.is_empty() {
            return Err(Failure::Permanent(item.input_errors.join("; ")));
        }
        let Some(id) = item.a3_correspondence_id else {
            return Err(Failure::Permanent("no A3 correspondence id: the item was never migrated".into()));
        };
        let Histories { status, notification, forwarding } =
            Histories::of(item.events.iter().map(|e| &e.body));
        // A3 ignores the other statuses; they count as accepted.
        let status: Vec<_> = status.into_iter().filter(|s| s.status.is_syncable()).collect();
        if !status.is_empty() {
            let req = SyncStatusEventRequest { correspondence_id: id, synced_status_events: status };
            self.client.sync_status(&req).await?;
        }
        if !notification.is_empty() {
            let req = SyncNotificationEventRequest {
                correspondence_id: id,
                synced_notification_events: notification,
            };
            self.client.sync_notification(&req).await?;
        }
        if !forwarding.is_empty() {
            let req =
                SyncForwardingEventRequest { correspondence_id: id, synced_forwarding_events: forwarding };
            self.client.sync_forwarding(&req).await?;
        }
        Ok(StepOutcome::Done {
            a3_correspondence_id: None,
            dialog_id: None,
            synced_events: item.events.iter().map(|e| e.id).collect(),
        })
    }
}

#[async_trait::async_trait]
impl Step for SyncStep {
    fn kind(&self) -> StepKind {
        StepKind::Sync
    }

    fn inputs(&self) -> Inputs {
        Inputs { record: false, events: true }
    }

    async fn run(&self, item: &WorkItem) -> StepOutcome {
        self.sync(item).await.unwrap_or_else(StepOutcome::from)
    }
}
