//! One stored correspondence as the inventory shows it, with its stored events and attachments, in
//! the simulator's own plain types (statuses by their A3 enum names, each event with its dedup key).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One stored correspondence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimItem {
    /// `Altinn2CorrespondenceId`.
    pub altinn2_correspondence_id: i64,
    /// A3's id.
    pub correspondence_id: Uuid,
    /// The Dialogporten dialog id, once made available.
    pub dialog_id: Option<String>,
    /// `IsMigrating` (false once made available, or when migrated without `IsMigrating`).
    pub is_migrating: bool,
    /// `Published` (the first Published event's time, `MigrateCorrespondenceMapper.cs:15`).
    pub published: Option<DateTime<Utc>>,
    /// `Created`.
    pub created: DateTime<Utc>,
    /// `ResourceId`.
    pub resource_id: String,
    /// `Sender`.
    pub sender: String,
    /// `Recipient` (lower-cased).
    pub recipient: String,
    /// `SendersReference`.
    pub senders_reference: String,
    /// `MessageSender`.
    pub message_sender: Option<String>,
    /// `RequestedPublishTime`.
    pub requested_publish_time: DateTime<Utc>,
    /// `PartyId`.
    pub party_id: i32,
    /// Content `(Language, MessageTitle, MessageSummary, MessageBody)`.
    pub content: (String, String, String, String),
    /// `PropertyList`.
    pub property_list: Vec<(String, String)>,
    /// Reply options' `LinkURL`s.
    pub reply_option_urls: Vec<String>,
    /// Linked attachments, in link order (may repeat).
    pub attachment_ids: Vec<Uuid>,
    /// The linked attachments.
    pub attachments: Vec<SimAttachment>,
    /// Status rows, in stored order.
    pub statuses: Vec<SimStatusEvent>,
    /// Delete events, in stored order.
    pub delete_events: Vec<SimDeleteEvent>,
    /// Notifications, in stored order.
    pub notifications: Vec<SimNotification>,
    /// Forwarding events, in stored order.
    pub forwardings: Vec<SimForwarding>,
    /// External references as `(type name, value)`.
    pub external_references: Vec<(String, String)>,
}

/// A stored status row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimStatusEvent {
    /// Status name (core `CorrespondenceStatus`).
    pub status: String,
    /// `StatusChanged` (microsecond precision).
    pub status_changed: DateTime<Utc>,
    /// `PartyUuid`.
    pub party_uuid: Uuid,
    /// `StatusText`.
    pub status_text: String,
    /// `migrate`, `remigrate` or `sync`.
    pub origin: String,
    /// `SyncedFromAltinn2` (set by remigration and sync, and on delete events).
    pub synced_from_altinn2: Option<DateTime<Utc>>,
    /// [`crate::keys::status`].
    pub key: String,
}

/// A stored delete event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimDeleteEvent {
    /// The status it came from (`SoftDeletedByRecipient`, `RestoredByRecipient`, `PurgedBy…`).
    pub status: String,
    /// `CorrespondenceDeleteEventType` name.
    pub event_type: String,
    /// `EventOccurred`.
    pub occurred: DateTime<Utc>,
    /// `PartyUuid`.
    pub party_uuid: Uuid,
    /// `migrate`, `remigrate` or `sync`.
    pub origin: String,
    /// `SyncedFromAltinn2` (set by remigration and sync, and on delete events).
    pub synced_from_altinn2: Option<DateTime<Utc>>,
    /// [`crate::keys::delete_event`].
    pub key: String,
}

/// A stored notification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimNotification {
    /// Channel name.
    pub channel: String,
    /// `NotificationSent`.
    pub sent: Option<DateTime<Utc>>,
    /// `Altinn2NotificationId`.
    pub altinn2_notification_id: Option<i32>,
    /// `NotificationAddress`.
    pub address: Option<String>,
    /// `IsReminder`.
    pub is_reminder: bool,
    /// `migrate`, `remigrate` or `sync`.
    pub origin: String,
    /// `SyncedFromAltinn2` (set by remigration and sync, and on delete events).
    pub synced_from_altinn2: Option<DateTime<Utc>>,
    /// [`crate::keys::notification`].
    pub key: String,
}

/// A stored forwarding event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimForwarding {
    /// `ForwardedOnDate`.
    pub forwarded_on: DateTime<Utc>,
    /// `ForwardedByPartyUuid`.
    pub forwarded_by_party_uuid: Uuid,
    /// `ForwardedByUserId`.
    pub forwarded_by_user_id: i32,
    /// `ForwardedByUserUuid`.
    pub forwarded_by_user_uuid: Uuid,
    /// `ForwardedToUserId`.
    pub forwarded_to_user_id: Option<i32>,
    /// `ForwardedToUserUuid`.
    pub forwarded_to_user_uuid: Option<Uuid>,
    /// `ForwardingText`.
    pub forwarding_text: Option<String>,
    /// `ForwardedToEmailAddress`.
    pub forwarded_to_email: Option<String>,
    /// `MailboxSupplier`.
    pub mailbox_supplier: Option<String>,
    /// `migrate`, `remigrate` or `sync`.
    pub origin: String,
    /// `SyncedFromAltinn2` (set by remigration and sync, and on delete events).
    pub synced_from_altinn2: Option<DateTime<Utc>>,
    /// [`crate::keys::forwarding`].
    pub key: String,
}

/// A stored attachment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimAttachment {
    /// A3's id.
    pub attachment_id: Uuid,
    /// `Altinn2AttachmentId`.
    pub altinn2_attachment_id: Option<String>,
    /// `ResourceId`.
    pub resource_id: String,
    /// `Sender`.
    pub sender: String,
    /// `PartyUuid` of its status row (`senderPartyUuid`; nil when it was missing).
    pub sender_party_uuid: Option<Uuid>,
    /// `SendersReference` (from `altinn2sendersReference`).
    pub senders_reference: String,
    /// `FileName`.
    pub file_name: Option<String>,
    /// `DisplayName`.
    pub display_name: Option<String>,
    /// `Checksum` (MD5 of the data, lower-case hex).
    pub checksum: Option<String>,
    /// `IsEncrypted`.
    pub is_encrypted: bool,
    /// `Created`.
    pub created: DateTime<Utc>,
    /// Bytes.
    pub size: u64,
    /// Latest status name.
    pub status: Option<String>,
    /// Latest status text.
    pub status_text: Option<String>,
    /// Latest status time.
    pub status_changed: Option<DateTime<Utc>>,
}
