//! What an Altinn 2 correspondence export carries (one JSON object per line), and the events that
//! arrive later. The format is documented in `docs/a2-export-format.md`.

use crate::a3::dedup;
use crate::a3::model::{ExternalReference, ForwardingEvent, NotificationEvent, ReplyOption, StatusEvent};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

/// One A2 correspondence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct A2Correspondence {
    /// `Altinn2CorrespondenceId` (ReporteeElementId).
    pub altinn2_correspondence_id: i64,
    /// A2 party id of the recipient.
    pub party_id: i64,
    /// Service owner organisation number.
    pub service_owner: String,
    /// A3 resource id.
    pub resource_id: String,
    /// Recipient URN (`urn:altinn:person:identifier-no:…` or `urn:altinn:organization:identifier-no:…`).
    pub recipient: String,
    /// Sender (obsolete in A3, still required there): the service owner as `urn:altinn:organization:identifier-no:<orgnr>`
    /// or `0192:<orgnr>`. Sent on the correspondence and on every attachment upload.
    pub sender: String,
    /// The sending party's Altinn party UUID, when the export knows it. A3 records it as the party
    /// on each migrated attachment's status rows; without it A3 stores the empty GUID there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_party_uuid: Option<Uuid>,
    /// Sender display name.
    #[serde(default)]
    pub message_sender: Option<String>,
    /// Sender's reference.
    pub senders_reference: String,
    /// Created in A2.
    pub created: DateTime<Utc>,
    /// Requested publish time.
    pub requested_publish_time: DateTime<Utc>,
    /// Published in A2.
    #[serde(default)]
    pub published: Option<DateTime<Utc>>,
    /// Due date.
    #[serde(default)]
    pub due_date_time: Option<DateTime<Utc>>,
    /// nb, nn or en.
    pub language: String,
    /// Title.
    pub title: String,
    /// Summary.
    #[serde(default)]
    pub summary: String,
    /// Body.
    pub body: String,
    /// Confirmation needed.
    #[serde(default)]
    pub is_confirmation_needed: bool,
    /// Send even to recipients who reserved themselves against digital post.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_reservation: Option<bool>,
    /// External references (at most 10).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub external_references: Vec<ExternalReference>,
    /// Reply options (links the recipient may answer through).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reply_options: Vec<ReplyOption>,
    /// Free properties (at most 10; keys up to 50, values up to 300 characters).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub property_list: BTreeMap<String, String>,
    /// Status history.
    #[serde(default)]
    pub status_history: Vec<StatusEvent>,
    /// Notification history.
    #[serde(default)]
    pub notification_history: Vec<NotificationEvent>,
    /// Forwarding history.
    #[serde(default)]
    pub forwarding_history: Vec<ForwardingEvent>,
    /// Attachments.
    #[serde(default)]
    pub attachments: Vec<A2Attachment>,
}

/// One attachment reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct A2Attachment {
    /// A2's attachment id (unique).
    pub altinn2_attachment_id: String,
    /// File name.
    pub file_name: String,
    /// Display name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Encrypted.
    #[serde(default)]
    pub is_encrypted: bool,
    /// Checksum.
    #[serde(default)]
    pub checksum: Option<String>,
    /// Where the bytes are: a relative file path (resolved against the attachment root, by default
    /// the working directory; never absolute, never `..`), or `synthetic:<bytes>` for
    /// generated data (deterministic content derived from the attachment id).
    pub location: String,
}

/// An A2 event, as stored and replayed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "event", rename_all = "camelCase")]
pub enum A2EventBody {
    /// A status change.
    Status(StatusEvent),
    /// A notification.
    Notification(NotificationEvent),
    /// A forwarding.
    Forwarding(ForwardingEvent),
}

impl A2EventBody {
    /// `status`, `notification` or `forwarding`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Status(_) => "status",
            Self::Notification(_) => "notification",
            Self::Forwarding(_) => "forwarding",
        }
    }

    /// A3's dedup key for this event.
    pub fn dedup_key(&self) -> String {
        match self {
            Self::Status(e) => dedup::status_key(e),
            Self::Notification(e) => dedup::notification_key(e),
            Self::Forwarding(e) => dedup::forwarding_key(e),
        }
    }

    /// When it happened (events are replayed in this order).
    pub fn occurred(&self) -> DateTime<Utc> {
        match self {
            Self::Status(e) => e.status_changed,
            Self::Notification(e) => e.notification_sent,
            Self::Forwarding(e) => e.forwarded_on_date,
        }
    }
}

/// A line of the events export: an event for one correspondence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct A2Event {
    /// The correspondence.
    pub altinn2_correspondence_id: i64,
    /// The event.
    #[serde(flatten)]
    pub body: A2EventBody,
}

impl A2Correspondence {
    /// The record's own histories as events (they are stored and replayed like later ones).
    pub fn events(&self) -> Vec<A2EventBody> {
        let mut out: Vec<A2EventBody> = Vec::new();
        out.extend(self.status_history.iter().cloned().map(A2EventBody::Status));
        out.extend(self.notification_history.iter().cloned().map(A2EventBody::Notification));
        out.extend(self.forwarding_history.iter().cloned().map(A2EventBody::Forwarding));
        out
    }
}

/// Pending events split by kind, each list oldest first and deduplicated the way A3 does: what
/// the migrate request carries as histories and the sync step sends.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Histories {
    /// Status events.
    pub status: Vec<StatusEvent>,
    /// Notification events.
    pub notification: Vec<NotificationEvent>,
    /// Forwarding events.
    pub forwarding: Vec<ForwardingEvent>,
}

impl Histories {
    /// Splits, sorts and deduplicates `events`.
    pub fn of<'a>(events: impl IntoIterator<Item = &'a A2EventBody>) -> Self {
        let mut h = Self::default();
        for e in events {
            match e {
                A2EventBody::Status(s) => h.status.push(s.clone()),
                A2EventBody::Notification(n) => h.notification.push(n.clone()),
                A2EventBody::Forwarding(f) => h.forwarding.push(f.clone()),
            }
        }
        // A3 stores the text as given (`""` included); A2 leaves it empty where the status says
        // it all, so the status name makes the history readable in A3.
        for s in h.status.iter_mut().filter(|s| s.status_text.trim().is_empty()) {
            s.status_text = s.status.as_str().to_string();
        }
        // A3's organisation-number pattern lets null through but not `""`.
        for f in h.forwarding.iter_mut() {
            f.mailbox_supplier = f.mailbox_supplier.take().filter(|m| !m.trim().is_empty());
        }
        h.status.sort_by_key(|e| e.status_changed);
        h.notification.sort_by_key(|e| e.notification_sent);
        h.forwarding.sort_by_key(|e| e.forwarded_on_date);
        Self {
            status: dedup::dedup(h.status, dedup::status_key),
            notification: dedup::dedup(h.notification, dedup::notification_key),
            forwarding: dedup::dedup(h.forwarding, dedup::forwarding_key),
        }
    }
}

/// The largest `synthetic:<n>` attachment (100 MiB).
pub const MAX_SYNTHETIC: usize = 100 << 20;

/// Deterministic bytes for a `synthetic:<n>` attachment: the same id always gives the same content.
pub fn synthetic_bytes(attachment_id: &str, len: usize) -> Vec<u8> {
    let mut state: u64 = attachment_id
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[0]
        })
        .collect()
}
