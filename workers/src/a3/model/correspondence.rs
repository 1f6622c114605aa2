//! POST `correspondence`: the migrated correspondence (its data, texts, external references and
//! reply options) and A3's answer with the attachments' statuses.

use super::{ForwardingEvent, NotificationEvent, StatusEvent};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use uuid::Uuid;

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
    /// A3 keeps dialog ids as strings, so this stays one: see
    /// [`dialog_uuid`](super::dialog_uuid).
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
