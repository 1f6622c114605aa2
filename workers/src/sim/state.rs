//! What the simulated A3 holds: attachments, correspondences with their deduplicated event
//! histories and dialogs, the contract violations seen, and the inventory built from all that.

use crate::a3::dedup::{forwarding_key, notification_key, status_key};
use crate::a3::model::{CorrespondenceStatus, ForwardingEvent, NotificationEvent, StatusEvent};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Mutex, MutexGuard, PoisonError};
use uuid::Uuid;

use super::faults::FaultCounts;

/// Locks `m`, carrying on after a panic elsewhere (the data stays usable for a simulator).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One migrated correspondence as the simulator holds it (and as the inventory reports it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimItem {
    /// A2 id.
    pub altinn2_correspondence_id: i64,
    /// A3 id.
    pub correspondence_id: Uuid,
    /// Dialogporten dialog, once made available.
    pub dialog_id: Option<Uuid>,
    /// Still hidden from A3's normal API.
    pub is_migrating: bool,
    /// Attachments given in `existingAttachments` on the first migration.
    pub attachment_ids: Vec<Uuid>,
    /// Stored status events, chronological, deduplicated.
    pub status_events: Vec<StatusEvent>,
    /// Stored notification events, chronological, deduplicated.
    pub notification_events: Vec<NotificationEvent>,
    /// Stored forwarding events, chronological, deduplicated.
    pub forwarding_events: Vec<ForwardingEvent>,
}

/// Stored events, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventCounts {
    /// Status events.
    pub status: u64,
    /// Notification events.
    pub notification: u64,
    /// Forwarding events.
    pub forwarding: u64,
}

/// Everything the simulator holds and saw, for the demo and the tests to check (GET `/sim/inventory`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Inventory {
    /// Correspondences stored.
    pub correspondences: u64,
    /// Attachments stored.
    pub attachments: u64,
    /// Correspondences made available (dialogs created).
    pub dialogs: u64,
    /// Events stored, by kind.
    pub events: EventCounts,
    /// Repeated `correspondence` calls for a known A2 id (informational).
    pub remigrations: u64,
    /// Stored duplicates, re-checked from the stored data: events with an equal dedup key on one
    /// correspondence, correspondences per A2 id, attachments per A2 attachment id. 0 by construction.
    pub duplicates_stored: u64,
    /// Events received and dropped by dedup (informational).
    pub duplicate_events_received: u64,
    /// Status events ignored by status sync because their status is not syncable (informational).
    pub ignored_status_events: u64,
    /// Contract violations: inputs a correct client never sends.
    pub violations: Vec<String>,
    /// Faults injected, by kind.
    pub faults_injected: FaultCounts,
    /// Calls per endpoint (attachment, correspondence, make_available, sync_status,
    /// sync_notification, sync_forwarding).
    pub calls: BTreeMap<String, u64>,
    /// Most calls seen within one second, per endpoint.
    pub max_calls_per_second: BTreeMap<String, u64>,
    /// A2 ids in the order they were first made available.
    pub made_available_order: Vec<i64>,
    /// Every correspondence, by A2 id.
    pub items: Vec<SimItem>,
}

/// A deduplicated, chronological event list.
#[derive(Debug)]
pub(crate) struct EventLog<T> {
    events: Vec<T>,
    keys: HashSet<String>,
    key: fn(&T) -> String,
    time: fn(&T) -> DateTime<Utc>,
}

impl<T: Clone> EventLog<T> {
    fn new(key: fn(&T) -> String, time: fn(&T) -> DateTime<Utc>) -> Self {
        Self { events: Vec::new(), keys: HashSet::new(), key, time }
    }

    /// Applies `incoming` in chronological order, dropping events whose key is already stored (or
    /// came earlier in `incoming`). Returns (added, dropped as duplicates).
    pub(crate) fn merge(&mut self, mut incoming: Vec<T>) -> (u64, u64) {
        incoming.sort_by_key(|e| (self.time)(e));
        let (mut added, mut dups) = (0, 0);
        for e in incoming {
            if self.keys.insert((self.key)(&e)) {
                self.events.push(e);
                added += 1;
            } else {
                dups += 1;
            }
        }
        if added > 0 {
            self.events.sort_by_key(self.time);
        }
        (added, dups)
    }

    /// The stored events.
    pub(crate) fn events(&self) -> &[T] {
        &self.events
    }

    /// Stored events sharing a key with an earlier stored one (re-checked, not taken from `keys`).
    fn duplicates(&self) -> u64 {
        let mut seen = HashSet::new();
        self.events.iter().filter(|e| !seen.insert((self.key)(e))).count() as u64
    }
}

/// One stored correspondence.
#[derive(Debug)]
pub(crate) struct Stored {
    pub a2_id: i64,
    pub id: Uuid,
    pub created: DateTime<Utc>,
    pub dialog_id: Option<Uuid>,
    pub is_migrating: bool,
    pub attachment_ids: Vec<Uuid>,
    pub status: EventLog<StatusEvent>,
    pub notification: EventLog<NotificationEvent>,
    pub forwarding: EventLog<ForwardingEvent>,
}

impl Stored {
    /// A new correspondence without events.
    pub(crate) fn new(
        a2_id: i64,
        created: DateTime<Utc>,
        is_migrating: bool,
        attachment_ids: Vec<Uuid>,
    ) -> Self {
        Self {
            a2_id,
            id: Uuid::now_v7(),
            created,
            dialog_id: None,
            is_migrating,
            attachment_ids,
            status: EventLog::new(status_key, |e| e.status_changed),
            notification: EventLog::new(notification_key, |e| e.notification_sent),
            forwarding: EventLog::new(forwarding_key, |e| e.forwarded_on_date),
        }
    }

    /// Purged (by the recipient or by Altinn): it can no longer be made available.
    pub(crate) fn is_purged(&self) -> bool {
        self.status.events().iter().any(|e| {
            matches!(e.status, CorrespondenceStatus::PurgedByRecipient | CorrespondenceStatus::PurgedByAltinn)
        })
    }

    fn item(&self) -> SimItem {
        SimItem {
            altinn2_correspondence_id: self.a2_id,
            correspondence_id: self.id,
            dialog_id: self.dialog_id,
            is_migrating: self.is_migrating,
            attachment_ids: self.attachment_ids.clone(),
            status_events: self.status.events().to_vec(),
            notification_events: self.notification.events().to_vec(),
            forwarding_events: self.forwarding.events().to_vec(),
        }
    }
}

/// One stored attachment.
#[derive(Debug)]
pub(crate) struct StoredAttachment {
    pub a2_id: String,
    pub id: Uuid,
}

/// All the simulator's data, behind one mutex (no lock is held across an await).
#[derive(Debug, Default)]
pub(crate) struct Store {
    correspondences: Vec<Stored>,
    by_a2: HashMap<i64, usize>,
    by_id: HashMap<Uuid, usize>,
    attachments: Vec<StoredAttachment>,
    attachments_by_a2: HashMap<String, usize>,
    attachment_ids: HashSet<Uuid>,
    pub remigrations: u64,
    pub duplicate_events_received: u64,
    pub ignored_status_events: u64,
    violations: Vec<String>,
    pub made_available_order: Vec<i64>,
}

impl Store {
    /// Records a contract violation (and logs it).
    pub(crate) fn violation(&mut self, what: String) {
        tracing::warn!(violation = %what, "A3 simulator: contract violation");
        self.violations.push(what);
    }

    /// The id of attachment `a2_id`, stored now if new.
    pub(crate) fn attachment(&mut self, a2_id: &str) -> Uuid {
        if let Some(&i) = self.attachments_by_a2.get(a2_id) {
            return self.attachments[i].id;
        }
        let id = Uuid::now_v7();
        self.attachments_by_a2.insert(a2_id.to_string(), self.attachments.len());
        self.attachments.push(StoredAttachment { a2_id: a2_id.to_string(), id });
        self.attachment_ids.insert(id);
        id
    }

    /// The attachment endpoint returned `id`.
    pub(crate) fn has_attachment(&self, id: &Uuid) -> bool {
        self.attachment_ids.contains(id)
    }

    /// The correspondence with A2 id `a2_id`.
    pub(crate) fn by_a2_mut(&mut self, a2_id: i64) -> Option<&mut Stored> {
        self.by_a2.get(&a2_id).map(|&i| &mut self.correspondences[i])
    }

    /// The correspondence with A3 id `id`.
    pub(crate) fn by_id_mut(&mut self, id: &Uuid) -> Option<&mut Stored> {
        self.by_id.get(id).map(|&i| &mut self.correspondences[i])
    }

    /// A2 id of the correspondence with A3 id `id`.
    pub(crate) fn a2_of(&self, id: &Uuid) -> Option<i64> {
        self.by_id.get(id).map(|&i| self.correspondences[i].a2_id)
    }

    /// Stores a new correspondence; returns its index.
    pub(crate) fn insert(&mut self, c: Stored) -> usize {
        let i = self.correspondences.len();
        self.by_a2.insert(c.a2_id, i);
        self.by_id.insert(c.id, i);
        self.correspondences.push(c);
        i
    }

    /// Ids of up to `n` correspondences created in `[from, to]` that can still be made available,
    /// newest first.
    pub(crate) fn batch_candidates(
        &self,
        n: usize,
        from: Option<DateTime<Utc>>,
        to: DateTime<Utc>,
    ) -> Vec<Uuid> {
        let mut c: Vec<&Stored> = self
            .correspondences
            .iter()
            .filter(|c| c.dialog_id.is_none() && !c.is_purged())
            .filter(|c| c.created <= to && from.is_none_or(|f| c.created >= f))
            .collect();
        c.sort_by(|a, b| b.created.cmp(&a.created).then(b.a2_id.cmp(&a.a2_id)));
        c.into_iter().take(n).map(|c| c.id).collect()
    }

    /// Makes the correspondence `id` available: `Ok(dialog id)` (the same on every call),
    /// `Err(reason)` if unknown or purged.
    pub(crate) fn make_available(&mut self, id: &Uuid) -> Result<Uuid, &'static str> {
        let c = self.by_id_mut(id).ok_or("not found")?;
        if let Some(d) = c.dialog_id {
            return Ok(d);
        }
        if c.is_purged() {
            return Err("purged");
        }
        let d = Uuid::now_v7();
        c.dialog_id = Some(d);
        c.is_migrating = false;
        let a2 = c.a2_id;
        self.made_available_order.push(a2);
        Ok(d)
    }

    /// One item.
    pub(crate) fn item(&self, a2_id: i64) -> Option<SimItem> {
        self.by_a2.get(&a2_id).map(|&i| self.correspondences[i].item())
    }

    /// The inventory, without the parts kept elsewhere (faults, calls).
    pub(crate) fn inventory(&self) -> Inventory {
        let mut items: Vec<SimItem> = self.correspondences.iter().map(Stored::item).collect();
        items.sort_by_key(|i| i.altinn2_correspondence_id);
        let mut events = EventCounts::default();
        let mut duplicates = 0;
        for c in &self.correspondences {
            events.status += c.status.events().len() as u64;
            events.notification += c.notification.events().len() as u64;
            events.forwarding += c.forwarding.events().len() as u64;
            duplicates += c.status.duplicates() + c.notification.duplicates() + c.forwarding.duplicates();
        }
        let mut a2_ids = HashSet::new();
        let mut ids = HashSet::new();
        duplicates +=
            self.correspondences.iter().filter(|c| !a2_ids.insert(c.a2_id) || !ids.insert(c.id)).count()
                as u64;
        let mut att = HashSet::new();
        duplicates += self.attachments.iter().filter(|a| !att.insert(a.a2_id.as_str())).count() as u64;
        Inventory {
            correspondences: self.correspondences.len() as u64,
            attachments: self.attachments.len() as u64,
            dialogs: self.correspondences.iter().filter(|c| c.dialog_id.is_some()).count() as u64,
            events,
            remigrations: self.remigrations,
            duplicates_stored: duplicates,
            duplicate_events_received: self.duplicate_events_received,
            ignored_status_events: self.ignored_status_events,
            violations: self.violations.clone(),
            made_available_order: self.made_available_order.clone(),
            items,
            ..Inventory::default()
        }
    }
}
