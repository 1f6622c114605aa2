//! POST `makemigratedcorrespondenceavailable`: the request (one id, a list or a batch by date
//! range) and the per-item answer, which can partly fail.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

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
    /// dialog (MA-12), so this is kept as the string A3 sent: see
    /// [`dialog_uuid`](super::dialog_uuid).
    #[serde(default)]
    pub dialog_id: Option<String>,
    /// Why it failed.
    #[serde(default)]
    pub error: Option<String>,
    /// Success.
    pub ok: bool,
}
