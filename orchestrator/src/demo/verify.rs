//! The demo's proof: the simulator's inventory checked against the source data. Nothing missing,
//! nothing duplicated, every event present exactly once, every invalid item rejected with a reason.
//!
//! What A3 keeps of an event is the *simulator's* reading of Altinn's source, not the client's:
//! the expected keys are computed from the source data with `altinn3_sim::keys`, so a client that
//! deduplicates too much, too little or with the wrong fields shows up here as missing or extra
//! events.

use altinn3_sim::Inventory;
use altinn3_sim::keys::{self, StatusSync};
use schema::WorkflowState;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use workers::a2::{A2Correspondence, A2Event, A2EventBody};

/// What the check found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Verification {
    /// Valid source items.
    pub expected: u64,
    /// Valid items the simulator holds.
    pub present: u64,
    /// Valid items the simulator does not hold.
    pub missing: Vec<i64>,
    /// Items the simulator holds that are not valid source items (invalid ones sent, or unknown).
    pub unexpected: Vec<i64>,
    /// Items whose dialog was not created.
    pub without_dialog: Vec<i64>,
    /// Items whose attachments differ from the source (number, sender, sending party).
    pub attachment_mismatches: Vec<i64>,
    /// Events expected (distinct by the simulator's keys).
    pub events_expected: u64,
    /// Events the simulator holds.
    pub events_present: u64,
    /// Items whose events differ from the source (missing or extra keys, or a key twice).
    pub event_mismatches: Vec<(i64, String)>,
    /// What the simulator says it stored twice (must be 0).
    pub duplicates_stored: u64,
    /// Contract violations the simulator saw (must be none).
    pub violations: Vec<String>,
    /// Invalid source items.
    pub invalid: u64,
    /// Invalid items not in Rejected (must be none).
    pub invalid_not_rejected: Vec<i64>,
}

impl Verification {
    /// True when everything holds.
    pub fn ok(&self) -> bool {
        self.missing.is_empty()
            && self.unexpected.is_empty()
            && self.without_dialog.is_empty()
            && self.attachment_mismatches.is_empty()
            && self.event_mismatches.is_empty()
            && self.duplicates_stored == 0
            && self.violations.is_empty()
            && self.invalid_not_rejected.is_empty()
            && self.events_expected == self.events_present
    }
}

/// The keys A3 keeps for one item, by table.
#[derive(Debug, Default)]
struct Expected {
    attachments: usize,
    sender: String,
    sender_party: Option<uuid::Uuid>,
    statuses: BTreeSet<String>,
    deletes: BTreeSet<String>,
    notifications: BTreeSet<String>,
    forwardings: BTreeSet<String>,
}

impl Expected {
    fn len(&self) -> usize {
        self.statuses.len() + self.deletes.len() + self.notifications.len() + self.forwardings.len()
    }

    /// Adds `e` as A3 stores it: on the first migration every status is a row (the delete kinds
    /// a delete event); through the status sync only what the sync applies. A purge is expected as
    /// A3 carries one out (a status row beside the delete event) wherever the source has it: an
    /// item purged in A2 must end purged in A3.
    fn add(&mut self, e: &A2EventBody, synced: bool) {
        match e {
            A2EventBody::Status(s) => {
                let name = s.status.as_str();
                let key = keys::status(name, s.status_changed, s.event_user_party_uuid);
                match keys::status_sync(name) {
                    StatusSync::DeleteEvent => {
                        if keys::stored_by_status_sync(name) {
                            self.statuses.insert(key.clone());
                        }
                        self.deletes.insert(key);
                    }
                    StatusSync::Ignored if synced => {}
                    _ => {
                        self.statuses.insert(key);
                    }
                }
            }
            A2EventBody::Notification(n) => {
                let id = i32::try_from(n.altinn2_notification_id).unwrap_or(i32::MAX);
                self.notifications.insert(keys::notification(
                    n.notification_channel.as_str(),
                    n.notification_sent,
                    id,
                    Some(&n.notification_address),
                ));
            }
            A2EventBody::Forwarding(f) => {
                self.forwardings.insert(keys::forwarding(f.forwarded_on_date, f.forwarded_by_party_uuid));
            }
        }
    }
}

/// Compares `inv` with the source; `states` is each A2 id's final state in our database. `later`
/// are the events sent through the sync endpoints after every item was migrated; `invalid` the
/// records the generator made invalid on purpose (taken from the generator, not from the
/// client's validation, so a client that refuses a good record shows up as a missing item).
pub fn verify(
    records: &[A2Correspondence],
    later: &[A2Event],
    invalid: &BTreeSet<i64>,
    inv: &Inventory,
    states: &HashMap<i64, WorkflowState>,
) -> Verification {
    let mut v = Verification {
        duplicates_stored: inv.duplicates_stored,
        violations: inv.violations.clone(),
        ..Default::default()
    };
    let mut expected: BTreeMap<i64, Expected> = BTreeMap::new();
    for r in records {
        if invalid.contains(&r.altinn2_correspondence_id) {
            v.invalid += 1;
            if states.get(&r.altinn2_correspondence_id) != Some(&WorkflowState::Rejected) {
                v.invalid_not_rejected.push(r.altinn2_correspondence_id);
            }
            continue;
        }
        let mut x = Expected {
            attachments: r.attachments.len(),
            sender: r.sender.clone(),
            sender_party: r.sender_party_uuid,
            ..Default::default()
        };
        for e in r.events() {
            x.add(&e, false);
        }
        expected.insert(r.altinn2_correspondence_id, x);
    }
    for e in later {
        if let Some(x) = expected.get_mut(&e.altinn2_correspondence_id) {
            x.add(&e.body, true);
        }
    }
    v.expected = expected.len() as u64;
    v.events_expected = expected.values().map(|x| x.len() as u64).sum();
    let held: BTreeMap<i64, _> = inv.items.iter().map(|i| (i.altinn2_correspondence_id, i)).collect();
    for (a2_id, x) in &expected {
        let Some(item) = held.get(a2_id) else {
            v.missing.push(*a2_id);
            continue;
        };
        v.present += 1;
        if item.dialog_id.as_deref().is_none_or(str::is_empty) {
            v.without_dialog.push(*a2_id);
        }
        let attachments_match = item.attachment_ids.len() == x.attachments
            && item.attachments.iter().all(|a| a.sender == x.sender && a.sender_party_uuid == x.sender_party);
        if !attachments_match {
            v.attachment_mismatches.push(*a2_id);
        }
        let tables: [(&str, Vec<&String>, &BTreeSet<String>); 4] = [
            ("status", item.statuses.iter().map(|e| &e.key).collect(), &x.statuses),
            ("delete", item.delete_events.iter().map(|e| &e.key).collect(), &x.deletes),
            ("notification", item.notifications.iter().map(|e| &e.key).collect(), &x.notifications),
            ("forwarding", item.forwardings.iter().map(|e| &e.key).collect(), &x.forwardings),
        ];
        let mut problems = Vec::new();
        for (table, got, want) in tables {
            v.events_present += got.len() as u64;
            let got_set: BTreeSet<String> = got.iter().map(|k| (*k).clone()).collect();
            if got_set.len() != got.len() {
                problems.push(format!("a {table} event is stored twice"));
            } else if &got_set != want {
                let missing = want.difference(&got_set).count();
                let extra = got_set.difference(want).count();
                problems.push(format!("{missing} {table} events missing, {extra} unexpected"));
            }
        }
        if !problems.is_empty() {
            v.event_mismatches.push((*a2_id, problems.join("; ")));
        }
    }
    v.unexpected = held.keys().filter(|id| !expected.contains_key(id)).copied().collect();
    v
}
