//! The Altinn 3 migration API's request and response bodies, named exactly as the contract gives
//! them (camelCase; `IsMigrating` with a capital I; enums as strings, numbers accepted on input).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use uuid::Uuid;

macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $n:expr),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($(#[$vm])* $variant),+ }

        impl $name {
            /// Every value.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// The contract's name.
            pub fn as_str(self) -> &'static str { match self { $($name::$variant => stringify!($variant)),+ } }
            /// The contract's number.
            pub fn number(self) -> u8 { match self { $($name::$variant => $n),+ } }
            /// By name (case-insensitive) or number.
            pub fn parse(s: &str) -> Option<Self> {
                let s = s.trim();
                if let Ok(n) = s.parse::<u8>() {
                    return Self::ALL.iter().copied().find(|v| v.number() == n);
                }
                Self::ALL.iter().copied().find(|v| v.as_str().eq_ignore_ascii_case(s))
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> { s.serialize_str(self.as_str()) }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let v = serde_json::Value::deserialize(d)?;
                let parsed = match &v {
                    serde_json::Value::String(s) => Self::parse(s),
                    serde_json::Value::Number(n) => n.as_u64().and_then(|n| Self::ALL.iter().copied().find(|x| u64::from(x.number()) == n)),
                    _ => None,
                };
                parsed.ok_or_else(|| serde::de::Error::custom(format!("invalid {}: {v}", stringify!($name))))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str(self.as_str()) }
        }
    };
}

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

/// POST `correspondence`: one A2 correspondence with its histories.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MigrateCorrespondenceExt {
    /// The correspondence itself.
    pub correspondence_data: CorrespondenceData,
    /// A2 id; A3 is idempotent on it.
    pub altinn2_correspondence_id: i64,
    /// Creation time in A2.
    pub created: DateTime<Utc>,
    /// A2 party id of the recipient.
    pub party_id: i64,
    /// Always true: omitting it means false, and A3 would publish the item at once without a dialog.
    #[serde(rename = "IsMigrating")]
    pub is_migrating: bool,
    /// Create the dialog at once (we never do: that is a phase decision).
    #[serde(default)]
    pub make_available: bool,
    /// Status history.
    #[serde(default)]
    pub event_history: Vec<StatusEvent>,
    /// Notification history.
    #[serde(default)]
    pub notification_history: Vec<NotificationEvent>,
    /// Forwarding history.
    #[serde(default)]
    pub forwarding_history: Vec<ForwardingEvent>,
}

/// `correspondenceData`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CorrespondenceData {
    /// The correspondence.
    pub correspondence: Correspondence,
    /// Recipient URNs; A3 uses the first.
    pub recipients: Vec<String>,
    /// Attachment ids the attachment endpoint returned.
    #[serde(default)]
    pub existing_attachments: Vec<Uuid>,
    /// When it was published in A2.
    #[serde(default)]
    pub published: Option<DateTime<Utc>>,
}

/// `correspondenceData.correspondence`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Correspondence {
    /// A3 resource id.
    pub resource_id: String,
    /// Sender's reference.
    pub senders_reference: String,
    /// Display name of the sender.
    #[serde(default)]
    pub message_sender: Option<String>,
    /// Obsolete but written to a NOT NULL column: always sent.
    pub sender: String,
    /// Texts.
    pub content: Content,
    /// Never null (A3 answers 500 otherwise).
    pub requested_publish_time: DateTime<Utc>,
    /// Due date.
    #[serde(default)]
    pub due_date_time: Option<DateTime<Utc>>,
    /// External references.
    #[serde(default)]
    pub external_references: Vec<ExternalReference>,
    /// Free properties.
    #[serde(default)]
    pub property_list: BTreeMap<String, String>,
    /// Reply options.
    #[serde(default)]
    pub reply_options: Vec<ReplyOption>,
    /// Confirmation needed.
    #[serde(default)]
    pub is_confirmation_needed: bool,
    /// Ignore the recipient's reservation against digital post (mapped to the entity by A3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_reservation: Option<bool>,
    /// Confidential. A3's migration mapper does not read it (the entity keeps its default).
    #[serde(default)]
    pub is_confidential: bool,
}

/// `content`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Content {
    /// nb, nn or en.
    pub language: String,
    /// 1–255 characters.
    pub message_title: String,
    /// At most 255 characters; "" rather than null.
    pub message_summary: String,
    /// At most 30,000 characters.
    pub message_body: String,
}

string_enum!(
    /// What an external reference points at (A3's `ReferenceTypeExt`).
    ReferenceType {
        /// 0
        Generic = 0,
        /// 1
        AltinnAppInstance = 1,
        /// 2
        AltinnBrokerFileTransfer = 2,
        /// 3
        DialogportenDialogId = 3,
        /// 4
        DialogportenProcessId = 4,
        /// 5: refused by A3 on a new correspondence.
        DialogportenTransmissionId = 5,
        /// 6: its value must name a transmission type.
        DialogportenTransmissionType = 6,
    }
);

/// An external reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExternalReference {
    /// The reference.
    pub reference_value: String,
    /// Its kind.
    pub reference_type: ReferenceType,
}

/// A reply option.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplyOption {
    /// Link (A3 spells the member `linkURL`).
    #[serde(rename = "linkURL", alias = "linkUrl")]
    pub link_url: String,
    /// Text.
    #[serde(default)]
    pub link_text: Option<String>,
}

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

/// 200 answer to POST `correspondence`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MigrateCorrespondenceResponse {
    /// Echo of the A2 id.
    pub altinn2_correspondence_id: i64,
    /// A3's id (the same on a remigration).
    pub correspondence_id: Uuid,
    /// Null on a remigration.
    #[serde(default)]
    pub attachment_statuses: Option<Vec<AttachmentStatus>>,
    /// Null unless made available; `""` when `makeAvailable: true` only queued the dialog (COR-5).
    /// A3 keeps dialog ids as strings, so this stays one: see [`dialog_uuid`].
    #[serde(default)]
    pub dialog_id: Option<String>,
}

/// One attachment's status in a migrate answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttachmentStatus {
    /// Attachment id.
    pub attachment_id: Uuid,
    /// Status name.
    pub status: String,
}

/// POST `makemigratedcorrespondenceavailable`: one id, a list, or a batch by date range.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MakeAvailableRequest {
    /// One item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correspondence_id: Option<Uuid>,
    /// Several items.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correspondence_ids: Option<Vec<Uuid>>,
    /// Batch mode: how many.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<i32>,
    /// Batch mode: in the background.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub async_processing: Option<bool>,
    /// Batch mode: from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_from: Option<DateTime<Utc>>,
    /// Batch mode: to (required there; A3 answers 500 without it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_to: Option<DateTime<Utc>>,
    /// Alert the recipient (we never do: the dialog is created silently).
    #[serde(default)]
    pub create_events: bool,
}

/// Answer to make-available: one status per id, so a batch can partly fail.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MakeAvailableResponse {
    /// Per item.
    pub statuses: Vec<MakeAvailableStatus>,
}

/// One item's result in a make-available answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MakeAvailableStatus {
    /// The item.
    pub correspondence_id: Uuid,
    /// Its dialog, on success. A3 answers `ok: true` with `""` when Dialogporten refused the
    /// dialog (MA-12), so this is kept as the string A3 sent: see [`dialog_uuid`].
    #[serde(default)]
    pub dialog_id: Option<String>,
    /// Why it failed.
    #[serde(default)]
    pub error: Option<String>,
    /// Success.
    pub ok: bool,
}

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

/// RFC 7807 problem details, as A3 sends errors.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProblemDetails {
    /// Type URI.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// HTTP status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Validation errors by field.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub errors: BTreeMap<String, Vec<String>>,
}

impl ProblemDetails {
    /// One line for logs and `last_error`.
    pub fn summary(&self) -> String {
        let mut s = self.title.clone().unwrap_or_default();
        if let Some(d) = &self.detail {
            if !s.is_empty() {
                s.push_str(": ");
            }
            s.push_str(d);
        }
        for (field, errs) in &self.errors {
            s.push_str(&format!("; {field}: {}", errs.join(", ")));
        }
        s
    }
}

/// The query string of POST `attachment` (the body is the raw bytes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttachmentUploadQuery {
    /// Resource id (required).
    pub resource_id: String,
    /// The sender (required in practice: A3's attachment `Sender` column is NOT NULL and is filled
    /// from this parameter alone; without it the insert fails and A3 answers 500).
    pub sender: String,
    /// Sender party: A3 writes it as the party of the attachment's status rows (the empty GUID
    /// when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_party_uuid: Option<Uuid>,
    /// Sender's reference (required).
    pub senders_reference: String,
    /// File name.
    pub file_name: String,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Encrypted.
    #[serde(default)]
    pub is_encrypted: bool,
    /// Checksum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
    /// A2's attachment id (required, unique): A3 is idempotent on it.
    pub altinn2_attachment_id: String,
    /// Creation time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<DateTime<Utc>>,
    /// A2 sender's reference.
    #[serde(default, rename = "altinn2sendersReference", skip_serializing_if = "Option::is_none")]
    pub altinn2_senders_reference: Option<String>,
}

/// The dialog id in an A3 answer, if it names one: `None` for null, `""` or anything that is not
/// a UUID (A3 stores dialog ids as strings and answers `""` for "no dialog").
pub fn dialog_uuid(dialog_id: Option<&str>) -> Option<Uuid> {
    dialog_id.map(str::trim).filter(|d| !d.is_empty()).and_then(|d| Uuid::parse_str(d).ok())
}
