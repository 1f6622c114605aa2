//! The in-memory tables with the constraints of A3's PostgreSQL schema at 0c94adb5
//! (`Persistence/Migrations/ApplicationDbContextModelSnapshot.cs`): NOT NULL columns (`IsRequired()`),
//! unique indexes (`IsUnique()`, NULLs distinct as in PostgreSQL, exact microsecond timestamps) and
//! the foreign keys the migration can break. PostgreSQL checks NOT NULL before unique indexes, and a
//! `SaveChanges` is one transaction: all rows or none.
//!
//! Rows are looked up as PostgreSQL would: through the unique indexes and by `CorrespondenceId`
//! (hash maps of row positions, kept by the insert methods, the only way rows get in), not by
//! scanning a table, so a call's cost does not grow with the rows stored (the demo ran at 3.1k
//! items/s at 10k items and 1.2k at 30k when it scanned).

use chrono::{DateTime, Utc};
use std::collections::{HashMap, HashSet};
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

/// Positions of one correspondence's rows in the dependent tables.
#[derive(Debug, Default)]
struct Dependents {
    statuses: Vec<usize>,
    notifications: Vec<usize>,
    forwardings: Vec<usize>,
    delete_events: Vec<usize>,
    external_refs: Vec<usize>,
    /// `CorrespondenceAttachments`: no unique index (snapshot :156-181), so an id may repeat.
    attachments: Vec<Uuid>,
}

/// The tables, and the indexes that find their rows.
#[derive(Debug, Default)]
pub(crate) struct Db {
    attachments: Vec<AttachmentRow>,
    attachment_statuses: Vec<AttachmentStatusRow>,
    correspondences: Vec<CorrespondenceRow>,
    statuses: Vec<StatusRow>,
    notifications: Vec<NotificationRow>,
    forwardings: Vec<ForwardingRow>,
    delete_events: Vec<DeleteEventRow>,
    external_refs: Vec<ExternalRefRow>,
    /// `IdempotencyKeys` primary keys (snapshot :594-622).
    pub idempotency_keys: HashSet<Uuid>,
    attachment_by_id: HashMap<Uuid, usize>,
    attachment_by_a2: HashMap<String, usize>,
    /// The latest status row of each attachment.
    attachment_status: HashMap<Uuid, usize>,
    correspondence_by_id: HashMap<Uuid, usize>,
    correspondence_by_a2: HashMap<i32, usize>,
    dependents: HashMap<Uuid, Dependents>,
}

/// The rows of `table` at `positions`, in insertion order.
fn rows<'a, T>(table: &'a [T], positions: Option<&'a Vec<usize>>) -> impl Iterator<Item = &'a T> + 'a {
    positions.into_iter().flatten().map(move |i| &table[*i])
}

/// Rows of one group that clash with an earlier row of it.
fn clashes<T>(table: &[T], positions: &[usize], clash: impl Fn(&T, &T) -> bool) -> u64 {
    let n = positions
        .iter()
        .enumerate()
        .filter(|(i, r)| positions[..*i].iter().any(|p| clash(&table[*p], &table[**r])))
        .count();
    u64::try_from(n).unwrap_or(u64::MAX)
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
        if self.attachment_by_a2(row.altinn2_attachment_id.as_deref()).is_some() {
            return Err(DbError::Unique { index: "IX_Attachments_Altinn2AttachmentId" });
        }
        let id = row.id;
        let at = self.attachments.len();
        if let Some(a2) = &row.altinn2_attachment_id {
            self.attachment_by_a2.insert(a2.clone(), at);
        }
        self.attachment_by_id.insert(id, at);
        self.attachments.push(row);
        Ok(id)
    }

    /// `AddAttachmentStatus`: FK `AttachmentId` → `Attachments` (snapshot :739-748).
    pub(crate) fn insert_attachment_status(&mut self, row: AttachmentStatusRow) -> Result<(), DbError> {
        if !self.attachment_by_id.contains_key(&row.attachment_id) {
            return Err(DbError::ForeignKey {
                table: "AttachmentStatuses",
                constraint: "FK_AttachmentStatuses_Attachments_AttachmentId",
            });
        }
        self.attachment_status.insert(row.attachment_id, self.attachment_statuses.len());
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
        if self.correspondence_by_a2.contains_key(&row.altinn2_id) {
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
        if new.attachment_ids.iter().any(|a| !self.attachment_by_id.contains_key(a)) {
            return Err(DbError::ForeignKey {
                table: "CorrespondenceAttachments",
                constraint: "FK_CorrespondenceAttachments_Attachments_AttachmentId",
            });
        }
        // The statuses, notifications and forwardings are the new correspondence's own (its id is
        // new), so no stored row can clash with them.
        let id = row.id;
        self.dependents.entry(id).or_default().attachments.extend(&new.attachment_ids);
        for s in new.statuses {
            self.push_status(s);
        }
        for n in new.notifications {
            self.push_notification(n);
        }
        for f in new.forwardings {
            self.push_forwarding(f);
        }
        for r in refs {
            self.add_external_ref(r);
        }
        self.correspondence_by_id.insert(id, self.correspondences.len());
        self.correspondence_by_a2.insert(row.altinn2_id, self.correspondences.len());
        self.correspondences.push(row);
        Ok(id)
    }

    /// `AddCorrespondenceStatusForSync` (`CorrespondenceStatusRepository.cs:21-40`).
    pub(crate) fn insert_status(&mut self, row: StatusRow) -> Result<(), DbError> {
        if self.statuses_of(row.correspondence_id).any(|s| status_clash(s, &row)) {
            return Err(STATUS_UNIQUE);
        }
        self.push_status(row);
        Ok(())
    }

    /// `AddNotificationForSync` (`CorrespondenceNotificationRepository.cs:21-41`).
    pub(crate) fn insert_notification(&mut self, row: NotificationRow) -> Result<(), DbError> {
        if self.notifications_of(row.correspondence_id).any(|s| notification_clash(s, &row)) {
            return Err(NOTIFICATION_UNIQUE);
        }
        self.push_notification(row);
        Ok(())
    }

    /// `AddForwardingEventForSync` (`CorrespondenceForwardingEventRepository.cs:13-36`).
    pub(crate) fn insert_forwarding(&mut self, row: ForwardingRow) -> Result<(), DbError> {
        if self.forwardings_of(row.correspondence_id).any(|s| forwarding_clash(s, &row)) {
            return Err(FORWARDING_UNIQUE);
        }
        self.push_forwarding(row);
        Ok(())
    }

    /// `AddDeleteEventForSync` (`CorrespondenceDeleteEventRepository.cs:13-33`).
    pub(crate) fn insert_delete_event(&mut self, row: DeleteEventRow) -> Result<(), DbError> {
        if self.delete_events_of(row.correspondence_id).any(|s| delete_clash(s, &row)) {
            return Err(DELETE_UNIQUE);
        }
        let id = row.correspondence_id;
        append(&mut self.delete_events, &mut self.dependents.entry(id).or_default().delete_events, row);
        Ok(())
    }

    /// Adds an `ExternalReferences` row (no unique index).
    pub(crate) fn add_external_ref(&mut self, row: ExternalRefRow) {
        let id = row.correspondence_id;
        append(&mut self.external_refs, &mut self.dependents.entry(id).or_default().external_refs, row);
    }

    fn push_status(&mut self, row: StatusRow) {
        let id = row.correspondence_id;
        append(&mut self.statuses, &mut self.dependents.entry(id).or_default().statuses, row);
    }

    fn push_notification(&mut self, row: NotificationRow) {
        let id = row.correspondence_id;
        append(&mut self.notifications, &mut self.dependents.entry(id).or_default().notifications, row);
    }

    fn push_forwarding(&mut self, row: ForwardingRow) {
        let id = row.correspondence_id;
        append(&mut self.forwardings, &mut self.dependents.entry(id).or_default().forwardings, row);
    }

    /// The correspondence with id `id`.
    pub(crate) fn correspondence(&self, id: Uuid) -> Option<&CorrespondenceRow> {
        self.correspondence_by_id.get(&id).map(|i| &self.correspondences[*i])
    }

    /// The correspondence with id `id`, to change its mutable columns (never its id or A2 id,
    /// which the indexes hold).
    pub(crate) fn correspondence_mut(&mut self, id: Uuid) -> Option<&mut CorrespondenceRow> {
        self.correspondence_by_id.get(&id).map(|i| &mut self.correspondences[*i])
    }

    /// The correspondence with `Altinn2CorrespondenceId` `a2`.
    pub(crate) fn correspondence_by_a2(&self, a2: i32) -> Option<&CorrespondenceRow> {
        self.correspondence_by_a2.get(&a2).map(|i| &self.correspondences[*i])
    }

    /// The attachment with id `id`.
    pub(crate) fn attachment(&self, id: Uuid) -> Option<&AttachmentRow> {
        self.attachment_by_id.get(&id).map(|i| &self.attachments[*i])
    }

    /// The attachment with `Altinn2AttachmentId` `a2` (none for None: NULLs are distinct).
    pub(crate) fn attachment_by_a2(&self, a2: Option<&str>) -> Option<&AttachmentRow> {
        a2.and_then(|a2| self.attachment_by_a2.get(a2)).map(|i| &self.attachments[*i])
    }

    /// The latest status row of attachment `id`.
    pub(crate) fn attachment_status(&self, id: Uuid) -> Option<&AttachmentStatusRow> {
        self.attachment_status.get(&id).map(|i| &self.attachment_statuses[*i])
    }

    /// Every table's rows, in insertion order.
    pub(crate) fn attachments(&self) -> &[AttachmentRow] {
        &self.attachments
    }

    pub(crate) fn correspondences(&self) -> &[CorrespondenceRow] {
        &self.correspondences
    }

    pub(crate) fn statuses(&self) -> &[StatusRow] {
        &self.statuses
    }

    pub(crate) fn notifications(&self) -> &[NotificationRow] {
        &self.notifications
    }

    pub(crate) fn forwardings(&self) -> &[ForwardingRow] {
        &self.forwardings
    }

    pub(crate) fn delete_events(&self) -> &[DeleteEventRow] {
        &self.delete_events
    }

    /// The attachments linked to correspondence `cid`, in link order.
    pub(crate) fn attachments_of(&self, cid: Uuid) -> &[Uuid] {
        self.dependents.get(&cid).map_or(&[], |d| d.attachments.as_slice())
    }

    /// Correspondence `cid`'s rows of each dependent table, in insertion order.
    pub(crate) fn statuses_of(&self, cid: Uuid) -> impl Iterator<Item = &StatusRow> + '_ {
        rows(&self.statuses, self.dependents.get(&cid).map(|d| &d.statuses))
    }

    pub(crate) fn notifications_of(&self, cid: Uuid) -> impl Iterator<Item = &NotificationRow> + '_ {
        rows(&self.notifications, self.dependents.get(&cid).map(|d| &d.notifications))
    }

    pub(crate) fn forwardings_of(&self, cid: Uuid) -> impl Iterator<Item = &ForwardingRow> + '_ {
        rows(&self.forwardings, self.dependents.get(&cid).map(|d| &d.forwardings))
    }

    pub(crate) fn delete_events_of(&self, cid: Uuid) -> impl Iterator<Item = &DeleteEventRow> + '_ {
        rows(&self.delete_events, self.dependents.get(&cid).map(|d| &d.delete_events))
    }

    pub(crate) fn external_refs_of(&self, cid: Uuid) -> impl Iterator<Item = &ExternalRefRow> + '_ {
        rows(&self.external_refs, self.dependents.get(&cid).map(|d| &d.external_refs))
    }

    /// The dialog id of a correspondence: its `DialogportenDialogId` external reference.
    pub(crate) fn dialog_id(&self, id: Uuid) -> Option<String> {
        self.external_refs_of(id)
            .find(|r| r.reference_type == crate::enums::DIALOG_ID_REFERENCE)
            .map(|r| r.value.clone())
    }

    /// Rows that break a unique index (re-checked from the tables; 0 unless a rule was bypassed).
    /// Every event index leads with `CorrespondenceId`, so rows are compared within their
    /// correspondence's group.
    pub(crate) fn unique_breaches(&self) -> u64 {
        let mut n = 0;
        for d in self.dependents.values() {
            n += clashes(&self.statuses, &d.statuses, status_clash)
                + clashes(&self.notifications, &d.notifications, notification_clash)
                + clashes(&self.forwardings, &d.forwardings, forwarding_clash)
                + clashes(&self.delete_events, &d.delete_events, delete_clash);
        }
        let mut a2_ids = HashSet::new();
        n += self.correspondences.iter().filter(|c| !a2_ids.insert(c.altinn2_id)).count() as u64;
        let mut attachment_ids = HashSet::new();
        n += self
            .attachments
            .iter()
            .filter_map(|a| a.altinn2_attachment_id.as_deref())
            .filter(|a2| !attachment_ids.insert(*a2))
            .count() as u64;
        n
    }
}

/// Appends `row` to `table`, and its position to `positions` (one correspondence's index of
/// that table).
fn append<T>(table: &mut Vec<T>, positions: &mut Vec<usize>, row: T) {
    positions.push(table.len());
    table.push(row);
}

#[cfg(test)]
mod tests {
    use super::{Db, DbError, StatusRow};
    use chrono::{TimeZone, Utc};
    use uuid::Uuid;

    fn status(cid: Uuid, party: Uuid, second: u32) -> StatusRow {
        StatusRow {
            correspondence_id: cid,
            status: 2,
            status_changed: Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, second).unwrap(),
            status_text: String::new(),
            party_uuid: party,
            synced_from_altinn2: None,
            origin: "test",
        }
    }

    #[test]
    fn the_unique_index_is_per_correspondence_and_sees_every_stored_row() {
        let mut db = Db::default();
        let (a, b, party) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        // Many rows of other correspondences between them: the clash is found by key, not by luck.
        db.insert_status(status(a, party, 1)).unwrap();
        for i in 0..1000 {
            db.insert_status(status(Uuid::now_v7(), party, i % 60)).unwrap();
        }
        assert_eq!(
            db.insert_status(status(a, party, 1)),
            Err(DbError::Unique { index: "IX_CorrespondenceStatuses_Unique" })
        );
        db.insert_status(status(b, party, 1)).expect("the same status of another correspondence");
        db.insert_status(status(a, party, 2)).expect("another time");
        db.insert_status(status(a, Uuid::now_v7(), 1)).expect("another party");
        let of_a: Vec<u32> = db.statuses_of(a).map(|s| chrono::Timelike::second(&s.status_changed)).collect();
        assert_eq!(of_a, vec![1, 2, 1], "a's rows, in insertion order");
        assert_eq!(db.statuses().len(), 1004);
        assert_eq!(db.unique_breaches(), 0);
    }
}
