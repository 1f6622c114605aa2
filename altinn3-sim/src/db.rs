//! The in-memory tables with the constraints of A3's PostgreSQL schema at 0c94adb5
//! (`Persistence/Migrations/ApplicationDbContextModelSnapshot.cs`): NOT NULL columns (`IsRequired()`),
//! unique indexes (`IsUnique()`, NULLs distinct as in PostgreSQL, exact microsecond timestamps) and
//! the foreign keys the migration can break. PostgreSQL checks NOT NULL before unique indexes, and a
//! `SaveChanges` is one transaction: all rows or none.

use chrono::{DateTime, Utc};
use std::collections::HashSet;
use uuid::Uuid;

/// A constraint violation, as PostgreSQL reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DbError {
    /// 23502.
    NotNull { table: &'static str, column: &'static str },
    /// 23505.
    Unique { index: &'static str },
    /// 23503.
    ForeignKey { table: &'static str, constraint: &'static str },
}

impl DbError {
    /// PostgreSQL's message.
    pub(crate) fn message(&self) -> String {
        match self {
            Self::NotNull { table, column } => {
                format!(
                    "23502: null value in column \"{column}\" of relation \"{table}\" violates not-null constraint"
                )
            }
            Self::Unique { index } => {
                format!("23505: duplicate key value violates unique constraint \"{index}\"")
            }
            Self::ForeignKey { table, constraint } => {
                format!(
                    "23503: insert or update on table \"{table}\" violates foreign key constraint \"{constraint}\""
                )
            }
        }
    }

    /// `IsPostgresUniqueViolation()`.
    pub(crate) fn is_unique(&self) -> bool {
        matches!(self, Self::Unique { .. })
    }
}

fn not_null<T: Clone>(v: &Option<T>, table: &'static str, column: &'static str) -> Result<T, DbError> {
    v.clone().ok_or(DbError::NotNull { table, column })
}

/// `Attachments` row (snapshot :28-101).
#[derive(Debug, Clone)]
pub(crate) struct AttachmentRow {
    pub id: Uuid,
    pub altinn2_attachment_id: Option<String>,
    pub resource_id: String,
    pub sender: String,
    pub senders_reference: String,
    pub file_name: Option<String>,
    pub display_name: Option<String>,
    pub checksum: Option<String>,
    pub is_encrypted: bool,
    pub created: DateTime<Utc>,
    pub size: u64,
}

/// An attachment to insert; `None` in a NOT NULL column fails the insert.
#[derive(Debug, Clone)]
pub(crate) struct NewAttachment {
    pub row: AttachmentRow,
    pub resource_id: Option<String>,
    pub sender: Option<String>,
}

/// `AttachmentStatuses` row (snapshot :103-130).
#[derive(Debug, Clone)]
pub(crate) struct AttachmentStatusRow {
    pub attachment_id: Uuid,
    pub status: &'static str,
    pub status_changed: DateTime<Utc>,
    pub status_text: String,
    pub party_uuid: Uuid,
}

/// `Correspondences` row with its content, reply options and property list (snapshot :250-360, :183-214).
#[derive(Debug, Clone)]
pub(crate) struct CorrespondenceRow {
    pub id: Uuid,
    pub altinn2_id: i32,
    pub resource_id: String,
    pub sender: String,
    pub senders_reference: String,
    pub recipient: String,
    pub message_sender: Option<String>,
    pub created: DateTime<Utc>,
    pub requested_publish_time: DateTime<Utc>,
    pub published: Option<DateTime<Utc>>,
    pub is_migrating: bool,
    pub party_id: i32,
    pub language: String,
    pub message_title: String,
    pub message_summary: String,
    pub message_body: String,
    pub property_list: Vec<(String, String)>,
    pub reply_option_urls: Vec<String>,
}

/// `CorrespondenceStatuses` row (snapshot :500-537).
#[derive(Debug, Clone)]
pub(crate) struct StatusRow {
    pub correspondence_id: Uuid,
    pub status: i64,
    pub status_changed: DateTime<Utc>,
    pub status_text: String,
    pub party_uuid: Uuid,
    pub synced_from_altinn2: Option<DateTime<Utc>>,
    pub origin: &'static str,
}

/// `CorrespondenceNotifications` row (snapshot :417-475).
#[derive(Debug, Clone)]
pub(crate) struct NotificationRow {
    pub correspondence_id: Uuid,
    pub altinn2_notification_id: Option<i32>,
    pub address: Option<String>,
    pub channel: i64,
    pub sent: Option<DateTime<Utc>>,
    pub is_reminder: bool,
    pub synced_from_altinn2: Option<DateTime<Utc>>,
    pub origin: &'static str,
}

/// `CorrespondenceForwardingEvents` row (snapshot :362-415).
#[derive(Debug, Clone)]
pub(crate) struct ForwardingRow {
    pub correspondence_id: Uuid,
    pub forwarded_on: DateTime<Utc>,
    pub by_party: Uuid,
    pub by_user_id: i32,
    pub by_user_uuid: Uuid,
    pub to_user_id: Option<i32>,
    pub to_user_uuid: Option<Uuid>,
    pub text: Option<String>,
    pub to_email: Option<String>,
    pub mailbox_supplier: Option<String>,
    pub synced_from_altinn2: Option<DateTime<Utc>>,
    pub origin: &'static str,
}

/// `CorrespondenceDeleteEvents` row (snapshot :216-248); `status` is the Ext status it came from.
#[derive(Debug, Clone)]
pub(crate) struct DeleteEventRow {
    pub correspondence_id: Uuid,
    pub status: i64,
    pub event_type: &'static str,
    pub occurred: DateTime<Utc>,
    pub party_uuid: Uuid,
    pub synced_from_altinn2: Option<DateTime<Utc>>,
    pub origin: &'static str,
}

/// `ExternalReferences` row (snapshot :571-592).
#[derive(Debug, Clone)]
pub(crate) struct ExternalRefRow {
    pub correspondence_id: Uuid,
    pub reference_type: i64,
    pub value: String,
}

/// A correspondence and everything `CreateCorrespondence` saves with it in one `SaveChanges`
/// (`CorrespondenceRepository.cs:46-51`); `None` in NOT NULL columns fails it.
#[derive(Debug, Clone)]
pub(crate) struct NewCorrespondence {
    pub row: CorrespondenceRow,
    pub sender: Option<String>,
    pub message_summary: Option<String>,
    pub language: Option<String>,
    pub statuses: Vec<StatusRow>,
    pub notifications: Vec<NotificationRow>,
    pub forwardings: Vec<ForwardingRow>,
    pub external_refs: Vec<(i64, Option<String>)>,
    pub attachment_ids: Vec<Uuid>,
}

/// The tables.
#[derive(Debug, Default)]
pub(crate) struct Db {
    pub attachments: Vec<AttachmentRow>,
    pub attachment_statuses: Vec<AttachmentStatusRow>,
    pub correspondences: Vec<CorrespondenceRow>,
    pub statuses: Vec<StatusRow>,
    pub notifications: Vec<NotificationRow>,
    pub forwardings: Vec<ForwardingRow>,
    pub delete_events: Vec<DeleteEventRow>,
    pub external_refs: Vec<ExternalRefRow>,
    /// `CorrespondenceAttachments`: (correspondence, attachment), no unique index (snapshot :156-181).
    pub correspondence_attachments: Vec<(Uuid, Uuid)>,
    /// `IdempotencyKeys` primary keys (snapshot :594-622).
    pub idempotency_keys: HashSet<Uuid>,
}

/// Unique `IX_CorrespondenceStatuses_Unique` (CorrespondenceId, Status, StatusChanged, PartyUuid) (snapshot :532-534).
fn status_clash(a: &StatusRow, b: &StatusRow) -> bool {
    a.correspondence_id == b.correspondence_id
        && a.status == b.status
        && a.status_changed == b.status_changed
        && a.party_uuid == b.party_uuid
}

/// Unique `IX_CorrespondenceNotifications_Synced` (CorrespondenceId, Altinn2NotificationId,
/// NotificationAddress, NotificationChannel, NotificationSent) WHERE Altinn2NotificationId IS NOT
/// NULL (snapshot :469-472); a NULL in any column never clashes.
fn notification_clash(a: &NotificationRow, b: &NotificationRow) -> bool {
    a.correspondence_id == b.correspondence_id
        && a.altinn2_notification_id.is_some()
        && a.altinn2_notification_id == b.altinn2_notification_id
        && a.address.is_some()
        && a.address == b.address
        && a.channel == b.channel
        && a.sent.is_some()
        && a.sent == b.sent
}

/// Unique `IX_CorrespondenceForwardingEvents_Unique` (CorrespondenceId, ForwardedOnDate,
/// ForwardedByPartyUuid) (snapshot :410-412).
fn forwarding_clash(a: &ForwardingRow, b: &ForwardingRow) -> bool {
    a.correspondence_id == b.correspondence_id && a.forwarded_on == b.forwarded_on && a.by_party == b.by_party
}

/// Unique `IX_CorrespondenceDeleteEvents_Unique` (CorrespondenceId, EventType, EventOccurred,
/// PartyUuid) (snapshot :243-245).
fn delete_clash(a: &DeleteEventRow, b: &DeleteEventRow) -> bool {
    a.correspondence_id == b.correspondence_id
        && a.event_type == b.event_type
        && a.occurred == b.occurred
        && a.party_uuid == b.party_uuid
}

const STATUS_UNIQUE: DbError = DbError::Unique { index: "IX_CorrespondenceStatuses_Unique" };
const NOTIFICATION_UNIQUE: DbError = DbError::Unique { index: "IX_CorrespondenceNotifications_Synced" };
const FORWARDING_UNIQUE: DbError = DbError::Unique { index: "IX_CorrespondenceForwardingEvents_Unique" };
const DELETE_UNIQUE: DbError = DbError::Unique { index: "IX_CorrespondenceDeleteEvents_Unique" };

impl Db {
    /// `InitializeAttachment` (`AttachmentRepository.cs:15-43`): NOT NULL `ResourceId`, `Sender`,
    /// `SendersReference` (snapshot :66-78), then unique `Altinn2AttachmentId` (snapshot :91-92).
    pub(crate) fn insert_attachment(&mut self, new: NewAttachment) -> Result<Uuid, DbError> {
        let mut row = new.row;
        row.resource_id = not_null(&new.resource_id, "Attachments", "ResourceId")?;
        row.sender = not_null(&new.sender, "Attachments", "Sender")?;
        if row.altinn2_attachment_id.is_some()
            && self.attachments.iter().any(|a| a.altinn2_attachment_id == row.altinn2_attachment_id)
        {
            return Err(DbError::Unique { index: "IX_Attachments_Altinn2AttachmentId" });
        }
        let id = row.id;
        self.attachments.push(row);
        Ok(id)
    }

    /// `AddAttachmentStatus`: FK `AttachmentId` → `Attachments` (snapshot :739-748).
    pub(crate) fn insert_attachment_status(&mut self, row: AttachmentStatusRow) -> Result<(), DbError> {
        if !self.attachments.iter().any(|a| a.id == row.attachment_id) {
            return Err(DbError::ForeignKey {
                table: "AttachmentStatuses",
                constraint: "FK_AttachmentStatuses_Attachments_AttachmentId",
            });
        }
        self.attachment_statuses.push(row);
        Ok(())
    }

    /// `CreateCorrespondence`: all rows in one transaction, checked in the order EF inserts them
    /// (principal first, then dependents).
    pub(crate) fn create_correspondence(&mut self, new: NewCorrespondence) -> Result<Uuid, DbError> {
        const T: &str = "Correspondences";
        let mut row = new.row;
        // NOT NULL Sender (snapshot :310-312), then unique Altinn2CorrespondenceId (snapshot :327-328).
        row.sender = not_null(&new.sender, T, "Sender")?;
        if self.correspondences.iter().any(|c| c.altinn2_id == row.altinn2_id) {
            return Err(DbError::Unique { index: "IX_Correspondences_Altinn2CorrespondenceId" });
        }
        // CorrespondenceContents: Language, MessageSummary NOT NULL (snapshot :192-206).
        row.language = not_null(&new.language, "CorrespondenceContents", "Language")?;
        row.message_summary = not_null(&new.message_summary, "CorrespondenceContents", "MessageSummary")?;
        for (i, s) in new.statuses.iter().enumerate() {
            if new.statuses[..i].iter().any(|p| status_clash(p, s)) {
                return Err(STATUS_UNIQUE);
            }
        }
        for (i, n) in new.notifications.iter().enumerate() {
            if new.notifications[..i].iter().any(|p| notification_clash(p, n)) {
                return Err(NOTIFICATION_UNIQUE);
            }
        }
        for (i, f) in new.forwardings.iter().enumerate() {
            if new.forwardings[..i].iter().any(|p| forwarding_clash(p, f)) {
                return Err(FORWARDING_UNIQUE);
            }
        }
        // ExternalReferences.ReferenceValue NOT NULL (snapshot :583-585).
        let mut refs = Vec::new();
        for (t, v) in &new.external_refs {
            let value = not_null(v, "ExternalReferences", "ReferenceValue")?;
            refs.push(ExternalRefRow { correspondence_id: row.id, reference_type: *t, value });
        }
        // CorrespondenceAttachments.AttachmentId FK → Attachments (snapshot :750-756).
        if new.attachment_ids.iter().any(|a| !self.attachments.iter().any(|x| x.id == *a)) {
            return Err(DbError::ForeignKey {
                table: "CorrespondenceAttachments",
                constraint: "FK_CorrespondenceAttachments_Attachments_AttachmentId",
            });
        }
        let id = row.id;
        self.correspondence_attachments.extend(new.attachment_ids.iter().map(|a| (id, *a)));
        self.statuses.extend(new.statuses);
        self.notifications.extend(new.notifications);
        self.forwardings.extend(new.forwardings);
        self.external_refs.extend(refs);
        self.correspondences.push(row);
        Ok(id)
    }

    /// `AddCorrespondenceStatusForSync` (`CorrespondenceStatusRepository.cs:21-40`).
    pub(crate) fn insert_status(&mut self, row: StatusRow) -> Result<(), DbError> {
        if self.statuses.iter().any(|s| status_clash(s, &row)) {
            return Err(STATUS_UNIQUE);
        }
        self.statuses.push(row);
        Ok(())
    }

    /// `AddNotificationForSync` (`CorrespondenceNotificationRepository.cs:21-41`).
    pub(crate) fn insert_notification(&mut self, row: NotificationRow) -> Result<(), DbError> {
        if self.notifications.iter().any(|s| notification_clash(s, &row)) {
            return Err(NOTIFICATION_UNIQUE);
        }
        self.notifications.push(row);
        Ok(())
    }

    /// `AddForwardingEventForSync` (`CorrespondenceForwardingEventRepository.cs:13-36`).
    pub(crate) fn insert_forwarding(&mut self, row: ForwardingRow) -> Result<(), DbError> {
        if self.forwardings.iter().any(|s| forwarding_clash(s, &row)) {
            return Err(FORWARDING_UNIQUE);
        }
        self.forwardings.push(row);
        Ok(())
    }

    /// `AddDeleteEventForSync` (`CorrespondenceDeleteEventRepository.cs:13-33`).
    pub(crate) fn insert_delete_event(&mut self, row: DeleteEventRow) -> Result<(), DbError> {
        if self.delete_events.iter().any(|s| delete_clash(s, &row)) {
            return Err(DELETE_UNIQUE);
        }
        self.delete_events.push(row);
        Ok(())
    }

    /// The correspondence with id `id`.
    pub(crate) fn correspondence(&self, id: Uuid) -> Option<&CorrespondenceRow> {
        self.correspondences.iter().find(|c| c.id == id)
    }

    /// The dialog id of a correspondence: its `DialogportenDialogId` external reference.
    pub(crate) fn dialog_id(&self, id: Uuid) -> Option<String> {
        self.external_refs
            .iter()
            .find(|r| r.correspondence_id == id && r.reference_type == crate::enums::DIALOG_ID_REFERENCE)
            .map(|r| r.value.clone())
    }

    /// Rows that break a unique index (re-checked from the tables; 0 unless a rule was bypassed).
    pub(crate) fn unique_breaches(&self) -> u64 {
        fn count<T>(rows: &[T], clash: impl Fn(&T, &T) -> bool) -> u64 {
            let n = rows.iter().enumerate().filter(|(i, r)| rows[..*i].iter().any(|p| clash(p, r))).count();
            u64::try_from(n).unwrap_or(u64::MAX)
        }
        count(&self.statuses, status_clash)
            + count(&self.notifications, notification_clash)
            + count(&self.forwardings, forwarding_clash)
            + count(&self.delete_events, delete_clash)
            + count(&self.correspondences, |a, b| a.altinn2_id == b.altinn2_id)
            + count(&self.attachments, |a, b| {
                a.altinn2_attachment_id.is_some() && a.altinn2_attachment_id == b.altinn2_attachment_id
            })
    }
}
