//! The sync calls for events that arrive after a correspondence was migrated: one request per
//! history (status, notification, forwarding).

use super::{ForwardingEvent, NotificationEvent, StatusEvent};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// POST `correspondence/syncStatusEvent`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncStatusEventRequest {
    /// A3 id.
    pub correspondence_id: Uuid,
    /// Non-empty.
    pub synced_status_events: Vec<StatusEvent>,
}

/// POST `correspondence/syncNotificationEvent`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncNotificationEventRequest {
    /// A3 id.
    pub correspondence_id: Uuid,
    /// Non-empty.
    pub synced_notification_events: Vec<NotificationEvent>,
}

/// POST `correspondence/syncForwardingEvent`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncForwardingEventRequest {
    /// A3 id.
    pub correspondence_id: Uuid,
    /// Non-empty.
    pub synced_forwarding_events: Vec<ForwardingEvent>,
}
