//! The sync step (DialogCreated | SyncPending → Synced): the item's pending A2 events, deduplicated
//! the way A3 does, oldest first, to the status / notification / forwarding endpoints.

use crate::a2::A2EventBody;
use crate::a3::dedup;
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
        let (mut status, mut notification, mut forwarding) = (Vec::new(), Vec::new(), Vec::new());
        for e in &item.events {
            match &e.body {
                // A3 ignores the other statuses; they count as accepted.
                A2EventBody::Status(s) if s.status.is_syncable() => status.push(s.clone()),
                A2EventBody::Status(_) => {}
                A2EventBody::Notification(n) => notification.push(n.clone()),
                A2EventBody::Forwarding(f) => forwarding.push(f.clone()),
            }
        }
        status.sort_by_key(|e| e.status_changed);
        notification.sort_by_key(|e| e.notification_sent);
        forwarding.sort_by_key(|e| e.forwarded_on_date);
        let status = dedup::dedup(status, dedup::status_key);
        let notification = dedup::dedup(notification, dedup::notification_key);
        let forwarding = dedup::dedup(forwarding, dedup::forwarding_key);
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
