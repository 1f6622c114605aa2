//! POST `attachment` (`MigrationController.cs:64-93`): metadata bound from the query string
//! (`[FromQuery] MigrateInitializeAttachmentExt`), data from the octet-stream body, mapped by
//! `MigrateAttachmentMapper.cs`, stored by `MigrateAttachmentHandler.cs`. Answers the attachment id
//! as a JSON string.

use crate::binding::{ModelState, Query};
use crate::db::{AttachmentRow, AttachmentStatusRow, NewAttachment};
use crate::inventory::Tables;
use crate::problem::{self, Answer};
use crate::timestamp;
use chrono::{DateTime, Utc};
use md5::{Digest, Md5};
use serde_json::json;
use uuid::Uuid;

/// The query, bound by C# property name (`MigrateInitializeAttachmentExt.cs`, `InitializeAttachmentExt.cs`,
/// `BaseAttachmentExt.cs`).
#[derive(Debug)]
struct AttachmentQuery {
    resource_id: Option<String>,
    sender: Option<String>,
    senders_reference: Option<String>,
    file_name: Option<String>,
    display_name: Option<String>,
    is_encrypted: bool,
    checksum: Option<String>,
    sender_party_uuid: Uuid,
    altinn2_attachment_id: Option<String>,
    created: DateTime<Utc>,
    altinn2_senders_reference: Option<String>,
}

/// Binds and validates the query (`[ApiController]` answers 400 on any model error).
fn bind(raw: Option<&str>, ms: &mut ModelState) -> AttachmentQuery {
    let q = Query::parse(raw, "initializeAttachmentExt");
    let _ = q.value(ms, "ExpirationInDays", |v| v.parse::<i32>().ok());
    let q = AttachmentQuery {
        resource_id: q.string("ResourceId", None),
        sender: q.string("Sender", None),
        senders_reference: q.string("SendersReference", None),
        file_name: q.string("FileName", None),
        display_name: q.string("DisplayName", None),
        // Value types keep their default when absent (no [BindRequired]); a bad value is a model error.
        is_encrypted: q
            .value(ms, "IsEncrypted", |v| match v.to_ascii_lowercase().as_str() {
                "true" => Some(true),
                "false" => Some(false),
                _ => None,
            })
            .unwrap_or(false),
        // `Checksum { get; set; } = string.Empty` (BaseAttachmentExt.cs:33).
        checksum: q.string("Checksum", Some("")),
        sender_party_uuid: q.value(ms, "SenderPartyUuid", |v| Uuid::parse_str(v).ok()).unwrap_or_default(),
        altinn2_attachment_id: q.string("Altinn2AttachmentId", None),
        created: q.value(ms, "Created", timestamp::parse).unwrap_or_else(timestamp::min_value),
        // `Altinn2SendersReference { get; set; } = string.Empty` (MigrateInitializeAttachmentExt.cs:23).
        altinn2_senders_reference: q.string("Altinn2SendersReference", Some("")),
    };
    // ResourceId: [StringLength(255, MinimumLength = 1)] [Required] [ResourceIdentifier] (InitializeAttachmentExt.cs:15-18).
    ms.required("ResourceId", q.resource_id.as_deref(), false);
    ms.string_length("ResourceId", q.resource_id.as_deref(), 255, 1);
    if !q.resource_id.as_deref().is_some_and(is_resource_identifier) {
        ms.add("ResourceId", "Invalid Resource identifier format");
    }
    // SendersReference: [StringLength(4096, MinimumLength = 1)] [Required] (BaseAttachmentExt.cs:39-41).
    ms.required("SendersReference", q.senders_reference.as_deref(), false);
    ms.string_length("SendersReference", q.senders_reference.as_deref(), 4096, 1);
    // FileName, DisplayName: [StringLength(255)] (BaseAttachmentExt.cs:12,19).
    ms.string_length("FileName", q.file_name.as_deref(), 255, 0);
    ms.string_length("DisplayName", q.display_name.as_deref(), 255, 0);
    // Checksum: [MD5Checksum] (BaseAttachmentExt.cs:32, MD5ChecksumAttribute.cs:11-27).
    if let Some(c) = q.checksum.as_deref().filter(|c| !c.trim().is_empty()) {
        if c.encode_utf16().count() != 32 {
            ms.add("Checksum", "The checksum, if used, must be a MD5 hash with a length of 32 characters");
        } else if c.to_lowercase() != c {
            ms.add("Checksum", "The checksum, if used, must be a MD5 hash in lower case");
        }
    }
    // Altinn2AttachmentId: non-nullable `string` → implicit [Required] (MigrateInitializeAttachmentExt.cs:14).
    ms.required("Altinn2AttachmentId", q.altinn2_attachment_id.as_deref(), true);
    q
}

/// `^(?:urn:altinn:resource:)?[^:]{1,255}$` (`ResourceIdentifierAttribute.cs:9-24`).
pub(crate) fn is_resource_identifier(s: &str) -> bool {
    let rest = s.strip_prefix("urn:altinn:resource:").unwrap_or(s);
    let n = rest.chars().count();
    (1..=255).contains(&n) && !rest.contains(':')
}

/// Handles one upload.
pub(crate) fn handle(store: &mut Tables, path: &str, query: Option<&str>, body: &[u8]) -> Answer {
    let mut ms = ModelState::default();
    let q = bind(query, &mut ms);
    if !ms.is_valid() {
        return problem::validation(&ms);
    }
    // ContentLength == 0 → InvalidFileSize (MigrateAttachmentHandler.cs:26-29).
    if body.is_empty() {
        return problem::error(problem::INVALID_FILE_SIZE);
    }
    let id = Uuid::now_v7(); // MigrationController.cs:86
    let hash: String = Md5::digest(body).iter().map(|b| format!("{b:02x}")).collect();
    // Checksum mismatch → HashMismatchException (StorageRepository.cs:198-202) → a Failed status row
    // for the not-yet-inserted attachment (MigrateAttachmentHelper.cs:56-59,67-78) → FK violation → 500.
    if let Some(c) = q.checksum.as_deref().filter(|c| !c.trim().is_empty())
        && !c.eq_ignore_ascii_case(&hash)
    {
        let row = AttachmentStatusRow {
            attachment_id: id,
            status: "Failed",
            status_changed: timestamp::stored(Utc::now()),
            status_text: "ChecksumMismatch".into(),
            party_uuid: q.sender_party_uuid,
        };
        let err = store.db.insert_attachment_status(row).err().map(|e| e.message()).unwrap_or_default();
        store.ledger.violations.push(format!(
            "attachment {:?}: checksum does not match the data; A3 fails with 500",
            q.altinn2_attachment_id
        ));
        return problem::internal(problem::db_update_exception(&err), path);
    }
    // The entity (MigrateAttachmentMapper.cs:12-24): SendersReference from altinn2sendersReference,
    // Sender copied from the query (NOT NULL column).
    let new = NewAttachment {
        row: AttachmentRow {
            id,
            altinn2_attachment_id: q.altinn2_attachment_id.clone(),
            resource_id: String::new(),
            sender: String::new(),
            senders_reference: q.altinn2_senders_reference.clone().unwrap_or_default(),
            file_name: q.file_name.clone(),
            display_name: q.display_name.clone(),
            checksum: Some(hash),
            is_encrypted: q.is_encrypted,
            created: timestamp::stored(q.created),
            size: u64::try_from(body.len()).unwrap_or(u64::MAX),
        },
        resource_id: q.resource_id.clone(),
        sender: q.sender.clone(),
    };
    let a2 = q.altinn2_attachment_id.clone().unwrap_or_default();
    match store.db.insert_attachment(new) {
        Ok(id) => {
            // Status row Published with PartyUuid = senderPartyUuid (MigrateAttachmentHandler.cs:54-63).
            let row = AttachmentStatusRow {
                attachment_id: id,
                status: "Published",
                status_changed: timestamp::stored(Utc::now()),
                status_text: "Published".into(),
                party_uuid: q.sender_party_uuid,
            };
            let _ = store.db.insert_attachment_status(row);
            if q.sender_party_uuid.is_nil() {
                store
                    .ledger
                    .violations
                    .push(format!("attachment {id} (A2 {a2}) stored with empty senderPartyUuid"));
            }
            if q.created == timestamp::min_value() {
                store.ledger.violations.push(format!(
                    "attachment {id} (A2 {a2}) stored with Created 0001-01-01 (created missing)"
                ));
            }
            Answer::ok(json!(id))
        }
        // Unique Altinn2AttachmentId → the existing attachment's id (MigrateAttachmentHandler.cs:82-117).
        Err(e) if e.is_unique() => {
            let existing = store.db.attachment_by_a2(q.altinn2_attachment_id.as_deref());
            match existing {
                Some(x) => Answer::ok(json!(x.id)),
                None => problem::internal("Sequence contains no elements", path),
            }
        }
        // NOT NULL (e.g. Sender) → DbUpdateException rethrown (MigrateAttachmentHandler.cs:84-87) → 500.
        Err(e) => {
            store.ledger.violations.push(format!("attachment A2 {a2}: {} (A3 fails with 500)", e.message()));
            problem::internal(problem::db_update_exception(&e.message()), path)
        }
    }
}
