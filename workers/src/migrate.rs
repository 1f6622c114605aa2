//! The migrate step (CreatedInA2 → Migrated): validate, upload each attachment (idempotent by A2
//! attachment id), then POST the correspondence with the attachment ids, its histories and
//! `IsMigrating: true`. Invalid content is rejected here, never sent.

use crate::a2::{A2Attachment, A2Correspondence, A2EventBody, Histories, synthetic_bytes};
use crate::a3::model::*;
use crate::a3::{A3Client, Failure};
use crate::validation::validate;
use crate::{Inputs, Step, StepKind, StepOutcome, WorkItem};
use std::path::PathBuf;
use uuid::Uuid;

/// The migrate step.
#[derive(Debug, Clone)]
pub struct MigrateStep {
    client: A3Client,
    /// Directory that relative attachment locations are resolved against.
    attachment_root: PathBuf,
}

impl MigrateStep {
    /// A migrate step calling A3 through `client`.
    pub fn new(client: A3Client, attachment_root: PathBuf) -> Self {
        Self { client, attachment_root }
    }

    async fn bytes(&self, a: &A2Attachment) -> Result<Vec<u8>, Failure> {
        if let Some(n) = a.location.strip_prefix("synthetic:") {
            let len = n
                .parse::<usize>()
                .ok()
                .filter(|n| *n <= crate::a2::MAX_SYNTHETIC)
                .ok_or_else(|| Failure::Invalid(format!("bad attachment location `{}`", a.location)))?;
            return Ok(synthetic_bytes(&a.altinn2_attachment_id, len));
        }
        let path = self.attachment_root.join(&a.location);
        tokio::fs::read(&path).await.map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                Failure::Permanent(format!("attachment file {} not found", path.display()))
            }
            _ => Failure::Retryable(format!("cannot read attachment {}: {e}", path.display())),
        })
    }

    async fn migrate(&self, item: &WorkItem) -> Result<StepOutcome, Failure> {
        if !item.input_errors.is_empty() {
            return Err(Failure::Permanent(item.input_errors.join("; ")));
        }
        let Some(r) = item.record.as_deref() else {
            return Err(Failure::Permanent("no readable A2 record for this item".into()));
        };
        if let Some(reason) = validate(r) {
            return Err(Failure::Invalid(reason));
        }
        let mut attachment_ids = Vec::with_capacity(r.attachments.len());
        for a in &r.attachments {
            let bytes = self.bytes(a).await?;
            if bytes.is_empty() {
                return Err(Failure::Invalid(format!("attachment {} is empty", a.altinn2_attachment_id)));
            }
            // A3 compares the checksum with the bytes it stores, and a mismatch ends in a 500
            // (ATT-10) that no retry cures: refuse it here, with the reason.
            if let Some(expected) = a.checksum.as_deref().filter(|c| !c.trim().is_empty()) {
                let actual = md5_hex(&bytes);
                if actual != expected {
                    return Err(Failure::Invalid(format!(
                        "attachment {}: checksum {expected} does not match its bytes (MD5 {actual})",
                        a.altinn2_attachment_id
                    )));
                }
            }
            let query = AttachmentUploadQuery {
                resource_id: r.resource_id.clone(),
                sender: r.sender.clone(),
                sender_party_uuid: r.sender_party_uuid,
                senders_reference: r.senders_reference.clone(),
                file_name: a.file_name.clone(),
                display_name: a.display_name.clone(),
                is_encrypted: a.is_encrypted,
                checksum: a.checksum.clone(),
                altinn2_attachment_id: a.altinn2_attachment_id.clone(),
                created: Some(r.created),
                altinn2_senders_reference: Some(r.senders_reference.clone()),
            };
            attachment_ids.push(self.client.upload_attachment(&query, bytes).await?);
        }
        let body = request(r, item, attachment_ids);
        let resp = self.client.migrate(&body).await?;
        Ok(StepOutcome::Done {
            a3_correspondence_id: Some(resp.correspondence_id),
            // Only a dialog A3 created in the call names one (contract COR-5, COR-25..27): `""`
            // (a background job will create it) and null (a remigration, `makeAvailable`
            // ignored) leave the item to the make-available step, which answers the dialog the
            // job made, or makes it.
            dialog_id: if body.make_available { dialog_uuid(resp.dialog_id.as_deref()) } else { None },
            // Purges stay pending: the sync step sends them once the item is in A3 (see
            // `first_migration`).
            synced_events: item.events.iter().filter(|e| first_migration(&e.body)).map(|e| e.id).collect(),
        })
    }
}

/// The migrate request: the record, the item's pending events as histories (deduplicated the way
/// A3 does, oldest first), `IsMigrating: true`, and `makeAvailable` as the item's phase asks.
pub fn request(r: &A2Correspondence, item: &WorkItem, attachments: Vec<Uuid>) -> MigrateCorrespondenceExt {
    let h = Histories::of(item.events.iter().map(|e| &e.body).filter(|e| first_migration(e)));
    MigrateCorrespondenceExt {
        correspondence_data: CorrespondenceData {
            correspondence: Correspondence {
                resource_id: r.resource_id.clone(),
                senders_reference: r.senders_reference.clone(),
                message_sender: r.message_sender.clone(),
                sender: r.sender.clone(),
                content: Content {
                    language: r.language.clone(),
                    message_title: r.title.clone(),
                    message_summary: r.summary.clone(),
                    message_body: r.body.clone(),
                },
                requested_publish_time: r.requested_publish_time,
                due_date_time: r.due_date_time,
                external_references: r.external_references.clone(),
                property_list: r.property_list.clone(),
                reply_options: r.reply_options.clone(),
                ignore_reservation: r.ignore_reservation,
                is_confirmation_needed: r.is_confirmation_needed,
                is_confidential: false,
            },
            recipients: vec![r.recipient.clone()],
            existing_attachments: attachments,
            published: r.published,
        },
        altinn2_correspondence_id: r.altinn2_correspondence_id,
        created: r.created,
        party_id: r.party_id,
        is_migrating: true,
        make_available: item.make_available_on_migrate,
        event_history: h.status,
        notification_history: h.notification,
        forwarding_history: h.forwarding,
    }
}

#[async_trait::async_trait]
impl Step for MigrateStep {
    fn kind(&self) -> StepKind {
        StepKind::Migrate
    }

    fn inputs(&self) -> Inputs {
        Inputs { record: true, events: true }
    }

    async fn run(&self, item: &WorkItem) -> StepOutcome {
        self.migrate(item).await.unwrap_or_else(StepOutcome::from)
    }
}

/// Whether `e` goes with the first migration. A purge does not: in a first migration A3 stores it
/// as a delete event only and leaves the item unpurged, so make-available would later create a
/// dialog for it (contract COR-24: upstream "does not migrate hard deletes"). Sent through the
/// status sync instead, A3 purges the item as A2 did (SST-6).
pub fn first_migration(e: &A2EventBody) -> bool {
    !matches!(
        e,
        A2EventBody::Status(s)
            if matches!(s.status, CorrespondenceStatus::PurgedByRecipient | CorrespondenceStatus::PurgedByAltinn)
    )
}

/// The MD5 of `bytes` in lower-case hex, the form A3's checksum takes.
pub fn md5_hex(bytes: &[u8]) -> String {
    use md5::Digest;
    md5::Md5::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}
