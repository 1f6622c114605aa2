//! Storing events on an existing correspondence, for remigration and sync, as upstream's
//! `Helpers/CorrespondenceMigrationEventHelper.cs` does: filter (status kinds for sync, duplicates
//! against what is stored, compared to the second), then store one by one in chronological order,
//! each insert guarded by its unique index (a hit is swallowed: the event is lost silently).

use crate::db::{DeleteEventRow, ForwardingRow, NotificationRow, StatusRow};
use crate::enums::{self, status};
use crate::events::{ForwardingIn, NotificationIn, StatusIn};
use crate::inventory::Tables;
use crate::keys;
use crate::timestamp::{stored, truncate_to_second};
use chrono::Utc;
use uuid::Uuid;

/// `MigrationOperationType` (`Core/Models/Enums/MigrationOperationType.cs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operation {
    /// `Sync`.
    Sync,
    /// `Remigrate`.
    Remigrate,
}

impl Operation {
    fn name(self) -> &'static str {
        match self {
            Self::Sync => "Sync",
            Self::Remigrate => "Remigrate",
        }
    }

    fn origin(self) -> &'static str {
        match self {
            Self::Sync => "sync",
            Self::Remigrate => "remigrate",
        }
    }
}

/// A status row from a received event (`MigrateCorrespondenceMapper.cs:256-265` for migrate, with
/// the given text).
pub(crate) fn status_row(
    cid: Uuid,
    e: &StatusIn,
    text: String,
    origin: &'static str,
    synced: bool,
) -> StatusRow {
    StatusRow {
        correspondence_id: cid,
        status: e.status,
        status_changed: stored(e.changed),
        status_text: text,
        party_uuid: e.party,
        synced_from_altinn2: synced.then(Utc::now),
        origin,
    }
}

/// A delete-event row (`MigrateCorrespondenceMapper.cs:267-275`).
pub(crate) fn delete_row(cid: Uuid, e: &StatusIn, origin: &'static str) -> DeleteEventRow {
    DeleteEventRow {
        correspondence_id: cid,
        status: e.status,
        event_type: enums::delete_event_type(e.status).unwrap_or("Unknown"),
        occurred: stored(e.changed),
        party_uuid: e.party,
        synced_from_altinn2: Some(Utc::now()),
        origin,
    }
}

/// A notification row (`MigrateCorrespondenceMapper.cs:310-322`).
pub(crate) fn notification_row(
    cid: Uuid,
    n: &NotificationIn,
    origin: &'static str,
    synced: bool,
) -> NotificationRow {
    NotificationRow {
        correspondence_id: cid,
        altinn2_notification_id: Some(n.altinn2_id),
        address: n.address.clone(),
        channel: n.channel,
        sent: Some(stored(n.sent)),
        is_reminder: n.is_reminder,
        synced_from_altinn2: synced.then(Utc::now),
        origin,
    }
}

/// A forwarding row (`MigrateCorrespondenceMapper.cs:277-291`).
pub(crate) fn forwarding_row(
    cid: Uuid,
    f: &ForwardingIn,
    origin: &'static str,
    synced: bool,
) -> ForwardingRow {
    ForwardingRow {
        correspondence_id: cid,
        forwarded_on: stored(f.on),
        by_party: f.by_party,
        by_user_id: f.by_user_id,
        by_user_uuid: f.by_user_uuid,
        to_user_id: f.to_user_id,
        to_user_uuid: f.to_user_uuid,
        text: f.text.clone(),
        to_email: f.to_email.clone(),
        mailbox_supplier: f.mailbox_supplier.clone(),
        synced_from_altinn2: synced.then(Utc::now),
        origin,
    }
}

fn same_second(a: chrono::DateTime<Utc>, b: chrono::DateTime<Utc>) -> bool {
    truncate_to_second(a) == truncate_to_second(b)
}

/// Records an event lost on a unique index (the repository swallows the violation and the endpoint
/// answers 200).
fn lost(store: &mut Tables, a2: i32, what: &str, index: &str) {
    store.ledger.duplicate_events_received += 1;
    store.ledger.violations.push(format!(
        "correspondence A2 {a2}: {what} silently dropped by unique index {index} (an event of the same request already took its exact key)"
    ));
}

/// `FilterStatusEvents` + `FilterDeleteEvents` + `ProcessEventsInChronologicalOrder`
/// (`CorrespondenceMigrationEventHelper.cs:158-242,751-807`); returns how many were stored.
pub(crate) fn statuses_and_deletes(
    store: &mut Tables,
    cid: Uuid,
    a2: i32,
    statuses: &[StatusIn],
    deletes: &[StatusIn],
    op: Operation,
) -> u64 {
    // Sync stores only Read, Confirmed, Archived (`:36,254-263`); remigration all (`:256-260`).
    let mut valid = Vec::new();
    for e in statuses {
        if op == Operation::Remigrate
            || matches!(e.status, status::READ | status::CONFIRMED | status::ARCHIVED)
        {
            valid.push(e.clone());
        } else {
            store.ledger.ignored_status_events += 1;
        }
    }
    // Duplicates of stored statuses: same Status, StatusChanged to the second, PartyUuid (`:222-239`).
    let mut todo: Vec<(bool, StatusIn)> = Vec::new();
    for e in valid {
        let dup = store.db.statuses_of(cid).any(|s| {
            s.status == e.status && same_second(s.status_changed, e.changed) && s.party_uuid == e.party
        });
        if dup {
            store.ledger.duplicate_events_received += 1;
        } else {
            todo.push((false, e));
        }
    }
    // Duplicates of stored delete events: same type, time to the second, party (`:166-185`).
    for e in deletes {
        let ty = enums::delete_event_type(e.status);
        let dup = store.db.delete_events_of(cid).any(|d| {
            Some(d.event_type) == ty && same_second(d.occurred, e.changed) && d.party_uuid == e.party
        });
        if dup {
            store.ledger.duplicate_events_received += 1;
        } else {
            todo.push((true, e.clone()));
        }
    }
    // Statuses then deletes, stably ordered by time (`:763-768`).
    todo.sort_by_key(|(_, e)| e.changed);
    let mut saved = 0;
    for (is_delete, e) in todo {
        let ok =
            if is_delete { delete_event(store, cid, a2, &e, op) } else { status_event(store, cid, &e, op) };
        if ok {
            saved += 1;
        }
    }
    saved
}

/// `ProcessStatusEvent` / `StoreStatusEventAsCorrespondenceStatus` (`:38-131,428-441`).
fn status_event(store: &mut Tables, cid: Uuid, e: &StatusIn, op: Operation) -> bool {
    let text = format!("{} event {} from Altinn 2", op.name(), enums::core_status_name(e.status));
    let ok = store.db.insert_status(status_row(cid, e, text, op.origin(), true)).is_ok();
    if !ok {
        store.ledger.duplicate_events_received += 1;
    }
    ok
}

/// `ProcessDeleteEvent` (`:133-156`): purges once per correspondence (`:265-273,294-311`) with a
/// status row and a delete event (`:315-316`); soft delete/restore as a delete event (`:374-426`).
fn delete_event(store: &mut Tables, cid: Uuid, a2: i32, e: &StatusIn, op: Operation) -> bool {
    if matches!(e.status, status::PURGED_BY_RECIPIENT | status::PURGED_BY_ALTINN) {
        let purged = crate::make_available::is_purged(store, cid);
        // Idempotency key: `correspondence.Id.CreateVersion5("PurgeCorrespondence")` (`:294`), one per
        // correspondence; the simulator keys it by the correspondence id.
        let key = cid;
        if purged || !store.db.idempotency_keys.insert(key) {
            store.ledger.duplicate_events_received += 1;
            return false;
        }
        let text = format!("{} event {} from Altinn 2", op.name(), enums::core_status_name(e.status));
        let status_ok = store.db.insert_status(status_row(cid, e, text, op.origin(), true)).is_ok();
        let event_ok = store.db.insert_delete_event(delete_row(cid, e, op.origin())).is_ok();
        // The way A2's purges are meant to reach A3: informational, not a violation.
        tracing::debug!(a2, origin = op.origin(), "correspondence purged");
        store.ledger.purges += 1;
        return status_ok && event_ok;
    }
    let ok = store.db.insert_delete_event(delete_row(cid, e, op.origin())).is_ok();
    if !ok {
        store.ledger.duplicate_events_received += 1;
    }
    ok
}

/// `FilterNotificationEvents` (`:531-563`: same address, channel, sent to the second, A2 id — not
/// IsReminder) + `ProcessNotificationEvents` (`:596-674`).
pub(crate) fn notifications(
    store: &mut Tables,
    cid: Uuid,
    a2: i32,
    items: &[NotificationIn],
    op: Operation,
) -> u64 {
    let mut saved = 0;
    let todo: Vec<&NotificationIn> = items
        .iter()
        .filter(|n| {
            let dup = store.db.notifications_of(cid).any(|s| {
                s.address == n.address
                    && s.channel == n.channel
                    && s.sent.is_some_and(|t| same_second(t, n.sent))
                    && s.altinn2_notification_id == Some(n.altinn2_id)
            });
            if dup {
                store.ledger.duplicate_events_received += 1;
            }
            !dup
        })
        .collect();
    for n in todo {
        match store.db.insert_notification(notification_row(cid, n, op.origin(), true)) {
            Ok(()) => saved += 1,
            Err(_) => {
                let key =
                    keys::notification(&n.channel.to_string(), n.sent, n.altinn2_id, n.address.as_deref());
                lost(store, a2, &format!("notification {key}"), "IX_CorrespondenceNotifications_Synced");
            }
        }
    }
    saved
}

/// `FilterForwardingEvents` (`:565-594`: same ForwardedOnDate to the second and
/// ForwardedByPartyUuid) + `ProcessForwardingEvents` (`:676-738`).
pub(crate) fn forwardings(
    store: &mut Tables,
    cid: Uuid,
    a2: i32,
    items: &[ForwardingIn],
    op: Operation,
) -> u64 {
    let mut saved = 0;
    let todo: Vec<&ForwardingIn> = items
        .iter()
        .filter(|f| {
            let dup = store
                .db
                .forwardings_of(cid)
                .any(|s| same_second(s.forwarded_on, f.on) && s.by_party == f.by_party);
            if dup {
                store.ledger.duplicate_events_received += 1;
            }
            !dup
        })
        .collect();
    for f in todo {
        match store.db.insert_forwarding(forwarding_row(cid, f, op.origin(), true)) {
            Ok(()) => saved += 1,
            Err(_) => {
                let key = keys::forwarding(f.on, f.by_party);
                lost(
                    store,
                    a2,
                    &format!("forwarding event {key}"),
                    "IX_CorrespondenceForwardingEvents_Unique",
                );
            }
        }
    }
    saved
}
