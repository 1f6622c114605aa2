//! POST `attachment`: the query string that describes an uploaded attachment (the body is the
//! raw bytes).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

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
