//! What the simulator holds and saw, in the simulator's own plain types (served at GET
//! `/sim/inventory`): counts, the bookkeeping of what A3 accepted but a correct client never sends
//! (`violations`), and every correspondence as a [`SimItem`] with its stored events and their dedup
//! keys as [`crate::keys`] computes them.

use crate::db::{AttachmentRow, Db};
use crate::enums;
use crate::faults::FaultCounts;
pub use crate::item::{
    SimAttachment, SimDeleteEvent, SimForwarding, SimItem, SimNotification, SimStatusEvent,
};
use crate::keys;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use uuid::Uuid;

/// Bookkeeping beside the tables.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    pub remigrations: u64,
    pub purges: u64,
    pub duplicate_events_received: u64,
    pub ignored_status_events: u64,
    pub violations: Vec<String>,
    pub made_available_order: Vec<i64>,
    pub responses: BTreeMap<String, u64>,
    pub dialogs_created: u64,
    pub dialogs_created_with_events: u64,
    pub dialog_jobs_enqueued: u64,
    pub dialog_jobs_run: u64,
}

/// Tables and bookkeeping, behind one lock.
#[derive(Debug, Default)]
pub(crate) struct Tables {
    pub db: Db,
    pub ledger: Ledger,
    /// How a migrate call's `makeAvailable: true` is carried out.
    pub dialog_job: crate::DialogJob,
    /// Dialog jobs enqueued by migrate calls, for the server to run after their delay.
    pub dialog_jobs: Vec<Uuid>,
}

/// Stored events by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventCounts {
    /// Status rows (`CorrespondenceStatuses`), including those of the first migration.
    pub status: u64,
    /// Notification rows.
    pub notification: u64,
    /// Forwarding-event rows.
    pub forwarding: u64,
    /// Delete-event rows (soft delete, restore, purges).
    pub delete: u64,
}

/// Everything the simulator holds and saw.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Inventory {
    /// Correspondences stored.
    pub correspondences: u64,
    /// Attachments stored.
    pub attachments: u64,
    /// Correspondences with a Dialogporten dialog.
    pub dialogs: u64,
    /// Stored events by kind.
    pub events: EventCounts,
    /// Migrate calls answered as remigrations (A2 id already stored).
    pub remigrations: u64,
    /// Correspondences purged by a synced or remigrated purge event (informational: that is how
    /// A2's purges reach A3).
    pub purges: u64,
    /// Stored events sharing a dedup key (to the second) with an earlier stored event of the same
    /// correspondence, plus rows breaking a unique index (re-checked from the tables).
    pub duplicates_stored: u64,
    /// Events received but not stored as duplicates (in one request, against stored, or on a unique index).
    pub duplicate_events_received: u64,
    /// Status events the status sync dropped (not Read/Confirmed/Archived/delete types).
    pub ignored_status_events: u64,
    /// Inputs A3 accepted (or failed on) that a correct client never sends.
    pub violations: Vec<String>,
    /// Faults injected.
    pub faults_injected: FaultCounts,
    /// Calls the rate limit (token bucket) refused, by endpoint name; empty without a limit.
    #[serde(default)]
    pub rate_limited: BTreeMap<String, u64>,
    /// Calls by endpoint name.
    pub calls: BTreeMap<String, u64>,
    /// Most calls within one second, by endpoint name.
    pub max_calls_per_second: BTreeMap<String, u64>,
    /// Milliseconds from the first call to the latest, by endpoint name.
    #[serde(default)]
    pub active_ms: BTreeMap<String, u64>,
    /// Answers by "endpoint status" (e.g. `"correspondence 200"`), faults excluded.
    pub responses: BTreeMap<String, u64>,
    /// A2 ids in the order first made available (dialog created).
    pub made_available_order: Vec<i64>,
    /// Dialogs created in Dialogporten, counting every creation: more than `dialogs` would
    /// mean a correspondence got a second dialog.
    #[serde(default)]
    pub dialogs_created: u64,
    /// Of those, created with events (not silently): by the background job of a migrate call
    /// with `makeAvailable: true` (`MigrateCorrespondenceHandler.cs:79`), or a batch with
    /// `createEvents`. A make-available call with ids creates silently (`:162,176`).
    #[serde(default)]
    pub dialogs_created_with_events: u64,
    /// Background dialog jobs enqueued by migrate calls with `makeAvailable: true`.
    #[serde(default)]
    pub dialog_jobs_enqueued: u64,
    /// Of those, the jobs that have run (the rest are still waiting for their delay).
    #[serde(default)]
    pub dialog_jobs_run: u64,
    /// Every correspondence, in creation order.
    pub items: Vec<SimItem>,
    /// Every attachment, in upload order.
    pub stored_attachments: Vec<SimAttachment>,
}

fn attachment(db: &Db, a: &AttachmentRow) -> SimAttachment {
    let st = db.attachment_status(a.id);
    SimAttachment {
        attachment_id: a.id,
        altinn2_attachment_id: a.altinn2_attachment_id.clone(),
        resource_id: a.resource_id.clone(),
        sender: a.sender.clone(),
        sender_party_uuid: st.map(|s| s.party_uuid),
        senders_reference: a.senders_reference.clone(),
        file_name: a.file_name.clone(),
        display_name: a.display_name.clone(),
        checksum: a.checksum.clone(),
        is_encrypted: a.is_encrypted,
        created: a.created,
        size: a.size,
        status: st.map(|s| s.status.to_string()),
        status_text: st.map(|s| s.status_text.clone()),
        status_changed: st.map(|s| s.status_changed),
    }
}

fn dup_count(keys: impl Iterator<Item = String>) -> u64 {
    let mut seen = HashSet::new();
    keys.filter(|k| !seen.insert(k.clone())).map(|_| 1).sum()
}

fn n(x: usize) -> u64 {
    u64::try_from(x).unwrap_or(u64::MAX)
}

impl Tables {
    /// The item of correspondence `id`.
    fn item_of(&self, id: Uuid) -> Option<SimItem> {
        let db = &self.db;
        let c = db.correspondence(id)?;
        let attachment_ids: Vec<Uuid> = db.attachments_of(id).to_vec();
        let attachments =
            attachment_ids.iter().filter_map(|a| db.attachment(*a)).map(|a| attachment(db, a)).collect();
        let statuses = db.statuses_of(id).map(|s| {
            let status = enums::core_status_name(s.status);
            SimStatusEvent {
                key: keys::status(&status, s.status_changed, s.party_uuid),
                status,
                status_changed: s.status_changed,
                party_uuid: s.party_uuid,
                status_text: s.status_text.clone(),
                origin: s.origin.to_string(),
                synced_from_altinn2: s.synced_from_altinn2,
            }
        });
        let delete_events = db.delete_events_of(id).map(|d| {
            let status = enums::name(enums::MIGRATE_STATUS, d.status);
            SimDeleteEvent {
                key: keys::delete_event(&status, d.occurred, d.party_uuid),
                status,
                event_type: d.event_type.to_string(),
                occurred: d.occurred,
                party_uuid: d.party_uuid,
                origin: d.origin.to_string(),
                synced_from_altinn2: d.synced_from_altinn2,
            }
        });
        let notifications = db.notifications_of(id).map(|x| {
            let channel = enums::name(enums::NOTIFICATION_CHANNEL, x.channel);
            SimNotification {
                key: keys::notification(
                    &channel,
                    x.sent.unwrap_or_else(crate::timestamp::min_value),
                    x.altinn2_notification_id.unwrap_or(0),
                    x.address.as_deref(),
                ),
                channel,
                sent: x.sent,
                altinn2_notification_id: x.altinn2_notification_id,
                address: x.address.clone(),
                is_reminder: x.is_reminder,
                origin: x.origin.to_string(),
                synced_from_altinn2: x.synced_from_altinn2,
            }
        });
        let forwardings = db.forwardings_of(id).map(|f| SimForwarding {
            key: keys::forwarding(f.forwarded_on, f.by_party),
            forwarded_on: f.forwarded_on,
            forwarded_by_party_uuid: f.by_party,
            forwarded_by_user_id: f.by_user_id,
            forwarded_by_user_uuid: f.by_user_uuid,
            forwarded_to_user_id: f.to_user_id,
            forwarded_to_user_uuid: f.to_user_uuid,
            forwarding_text: f.text.clone(),
            forwarded_to_email: f.to_email.clone(),
            mailbox_supplier: f.mailbox_supplier.clone(),
            origin: f.origin.to_string(),
            synced_from_altinn2: f.synced_from_altinn2,
        });
        Some(SimItem {
            altinn2_correspondence_id: i64::from(c.altinn2_id),
            correspondence_id: id,
            dialog_id: db.dialog_id(id),
            is_migrating: c.is_migrating,
            published: c.published,
            created: c.created,
            resource_id: c.resource_id.clone(),
            sender: c.sender.clone(),
            recipient: c.recipient.clone(),
            senders_reference: c.senders_reference.clone(),
            message_sender: c.message_sender.clone(),
            requested_publish_time: c.requested_publish_time,
            party_id: c.party_id,
            content: (
                c.language.clone(),
                c.message_title.clone(),
                c.message_summary.clone(),
                c.message_body.clone(),
            ),
            property_list: c.property_list.clone(),
            reply_option_urls: c.reply_option_urls.clone(),
            attachment_ids,
            attachments,
            statuses: statuses.collect(),
            delete_events: delete_events.collect(),
            notifications: notifications.collect(),
            forwardings: forwardings.collect(),
            external_references: db
                .external_refs_of(id)
                .map(|r| (enums::name(enums::REFERENCE_TYPE, r.reference_type), r.value.clone()))
                .collect(),
        })
    }

    /// The item with A2 id `a2_id`.
    pub(crate) fn item(&self, a2_id: i64) -> Option<SimItem> {
        let c = self.db.correspondence_by_a2(i32::try_from(a2_id).ok()?)?;
        self.item_of(c.id)
    }

    /// The inventory (without calls and faults, which the server adds).
    pub(crate) fn inventory(&self) -> Inventory {
        let db = &self.db;
        let items: Vec<SimItem> = db.correspondences().iter().filter_map(|c| self.item_of(c.id)).collect();
        let dup_events: u64 = items
            .iter()
            .map(|i| {
                dup_count(i.statuses.iter().map(|s| s.key.clone()))
                    + dup_count(i.delete_events.iter().map(|s| s.key.clone()))
                    + dup_count(i.notifications.iter().map(|s| s.key.clone()))
                    + dup_count(i.forwardings.iter().map(|s| s.key.clone()))
            })
            .sum();
        let l = &self.ledger;
        Inventory {
            correspondences: n(db.correspondences().len()),
            attachments: n(db.attachments().len()),
            dialogs: n(items.iter().filter(|i| i.dialog_id.is_some()).count()),
            events: EventCounts {
                status: n(db.statuses().len()),
                notification: n(db.notifications().len()),
                forwarding: n(db.forwardings().len()),
                delete: n(db.delete_events().len()),
            },
            remigrations: l.remigrations,
            purges: l.purges,
            duplicates_stored: dup_events + db.unique_breaches(),
            duplicate_events_received: l.duplicate_events_received,
            ignored_status_events: l.ignored_status_events,
            violations: l.violations.clone(),
            faults_injected: FaultCounts::default(),
            rate_limited: BTreeMap::new(),
            calls: BTreeMap::new(),
            max_calls_per_second: BTreeMap::new(),
            active_ms: BTreeMap::new(),
            responses: l.responses.clone(),
            made_available_order: l.made_available_order.clone(),
            dialogs_created: l.dialogs_created,
            dialogs_created_with_events: l.dialogs_created_with_events,
            dialog_jobs_enqueued: l.dialog_jobs_enqueued,
            dialog_jobs_run: l.dialog_jobs_run,
            items,
            stored_attachments: db.attachments().iter().map(|a| attachment(db, a)).collect(),
        }
    }
}
