//! The three histories of a correspondence, as sent in a migrate call and again in the sync calls:
//! status changes (with A3's status enum), notifications (with their channel) and forwardings.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

string_enum!(
    /// A3's correspondence status enum, numbered as A3 numbers it.
    CorrespondenceStatus {
        /// 0
        Initialized = 0,
        /// 1
        ReadyForPublish = 1,
        /// 2
        Published = 2,
        /// 3
        Fetched = 3,
        /// 4
        Read = 4,
        /// 5
        Replied = 5,
        /// 6
        Confirmed = 6,
        /// 7
        PurgedByRecipient = 7,
        /// 8
        PurgedByAltinn = 8,
        /// 9
        Archived = 9,
        /// 10
        Reserved = 10,
        /// 11
        Failed = 11,
        /// 12
        AttachmentsDownloaded = 12,
        /// 13 (migration)
        SoftDeletedByRecipient = 13,
        /// 14 (migration)
        RestoredByRecipient = 14,
    }
);

impl CorrespondenceStatus {
    /// Statuses the status-sync endpoint applies; others are ignored by A3, not errors.
    pub fn is_syncable(self) -> bool {
        matches!(
            self,
            Self::Read
                | Self::Confirmed
                | Self::Archived
                | Self::PurgedByRecipient
                | Self::PurgedByAltinn
                | Self::SoftDeletedByRecipient
                | Self::RestoredByRecipient
        )
    }
}

string_enum!(
    /// How a notification was sent in A2.
    NotificationChannel {
        /// 0
        Email = 0,
        /// 1
        Sms = 1,
        /// 2
        EmailPreferred = 2,
        /// 3
        SmsPreferred = 3,
        /// 4
        EmailAndSms = 4,
    }
);

/// One status change, in `eventHistory` and `syncedStatusEvents`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusEvent {
    /// The status.
    pub status: CorrespondenceStatus,
    /// Free text.
    #[serde(default)]
    pub status_text: String,
    /// When.
    pub status_changed: DateTime<Utc>,
    /// The user, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_user_uuid: Option<Uuid>,
    /// The party acting.
    pub event_user_party_uuid: Uuid,
}

/// One notification sent by A2.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationEvent {
    /// Channel.
    pub notification_channel: NotificationChannel,
    /// When.
    pub notification_sent: DateTime<Utc>,
    /// A2's id of the notification.
    pub altinn2_notification_id: i64,
    /// E-mail address or phone number.
    pub notification_address: String,
    /// A reminder, not the first notice.
    #[serde(default)]
    pub is_reminder: bool,
}

/// One forwarding done in A2.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ForwardingEvent {
    /// When.
    pub forwarded_on_date: DateTime<Utc>,
    /// The forwarding party.
    pub forwarded_by_party_uuid: Uuid,
    /// The forwarding user's A2 id.
    pub forwarded_by_user_id: i64,
    /// The forwarding user.
    pub forwarded_by_user_uuid: Uuid,
    /// Receiving user's A2 id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forwarded_to_user_id: Option<i64>,
    /// Receiving user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forwarded_to_user_uuid: Option<Uuid>,
    /// Text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forwarding_text: Option<String>,
    /// Receiving e-mail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forwarded_to_email: Option<String>,
    /// Mailbox supplier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mailbox_supplier: Option<String>,
}
