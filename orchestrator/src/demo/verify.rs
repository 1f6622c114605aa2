//! The demo's proof: the simulator's inventory checked against the source data. Nothing missing,
//! nothing duplicated, every event present exactly once, every invalid item rejected with a reason.

use schema::WorkflowState;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use workers::a2::{A2Correspondence, A2Event, A2EventBody};
use workers::a3::dedup;
use workers::migrate::validate;
use workers::sim::Inventory;

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
    /// Items whose attachments differ in number from the source.
    pub attachment_mismatches: Vec<i64>,
    /// Events expected (distinct by A3's dedup key).
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

fn key_of(body: &A2EventBody) -> String {
    body.dedup_key()
}

/// Compares `inv` with the source; `states` is each A2 id's final state in our database.
pub fn verify(
    records: &[A2Correspondence],
    later: &[A2Event],
    inv: &Inventory,
    states: &HashMap<i64, WorkflowState>,
) -> Verification {
    let mut v = Verification {
        duplicates_stored: inv.duplicates_stored,
        violations: inv.violations.clone(),
        ..Default::default()
    };
    let mut expected: BTreeMap<i64, (usize, BTreeSet<String>)> = BTreeMap::new();
    for r in records {
        if validate(r).is_some() {
            v.invalid += 1;
            if states.get(&r.altinn2_correspondence_id) != Some(&WorkflowState::Rejected) {
                v.invalid_not_rejected.push(r.altinn2_correspondence_id);
            }
            continue;
        }
        let keys = r.events().iter().map(key_of).collect();
        expected.insert(r.altinn2_correspondence_id, (r.attachments.len(), keys));
    }
    for e in later {
        if let Some((_, keys)) = expected.get_mut(&e.altinn2_correspondence_id) {
            keys.insert(key_of(&e.body));
        }
    }
    v.expected = expected.len() as u64;
    v.events_expected = expected.values().map(|(_, k)| k.len() as u64).sum();
    let held: BTreeMap<i64, _> = inv.items.iter().map(|i| (i.altinn2_correspondence_id, i)).collect();
    for (a2_id, (attachments, keys)) in &expected {
        let Some(item) = held.get(a2_id) else {
            v.missing.push(*a2_id);
            continue;
        };
        v.present += 1;
        if item.dialog_id.is_none() {
            v.without_dialog.push(*a2_id);
        }
        if item.attachment_ids.len() != *attachments {
            v.attachment_mismatches.push(*a2_id);
        }
        let got: Vec<String> = item
            .status_events
            .iter()
            .map(dedup::status_key)
            .chain(item.notification_events.iter().map(dedup::notification_key))
            .chain(item.forwarding_events.iter().map(dedup::forwarding_key))
            .collect();
        v.events_present += got.len() as u64;
        let got_set: BTreeSet<String> = got.iter().cloned().collect();
        if got_set.len() != got.len() {
            v.event_mismatches.push((*a2_id, "an event is stored twice".into()));
        } else if &got_set != keys {
            let missing = keys.difference(&got_set).count();
            let extra = got_set.difference(keys).count();
            v.event_mismatches.push((*a2_id, format!("{missing} events missing, {extra} unexpected")));
        }
    }
    v.unexpected = held.keys().filter(|id| !expected.contains_key(id)).copied().collect();
    v
}
