//! POST `correspondence` (`MigrationController.cs:41-59`): map the request
//! (`Mappers/MigrateCorrespondenceMapper.cs:13-114`), validate content and store it
//! (`MigrateCorrespondenceHandler.cs:33-149`); an A2 id already stored makes it a remigration that
//! only adds new events.

use crate::binding::{self, ModelState};
use crate::correspondence::{self, MigrateIn};
use crate::db::{CorrespondenceRow, NewCorrespondence};
use crate::dialog_job;
use crate::enums::{self, status};
use crate::events::{self, ForwardingIn, NotificationIn, StatusIn};
use crate::history::{self, Operation};
use crate::inventory::Tables;
use crate::problem::{self, Answer};
use crate::timestamp::stored;
use serde_json::{Value, json};
use uuid::Uuid;

const NRE: &str = "Object reference not set to an instance of an object.";

/// Handles one migrate call.
pub(crate) fn handle(store: &mut Tables, path: &str, body: &[u8]) -> Answer {
    let param = "migrateCorrespondence";
    let v = match binding::parse_body(body, param) {
        Ok(v) => v,
        Err(ms) => return problem::validation(&ms),
    };
    let m = match correspondence::read(&v) {
        Ok(Some(m)) => m,
        Ok(None) => {
            let mut ms = ModelState::default();
            ms.add(param, format!("The {param} field is required."));
            return problem::validation(&ms);
        }
        Err(e) => return problem::validation(&binding::json_error(e, param)),
    };
    let mut ms = ModelState::default();
    if let Err(exception) = correspondence::validate(&m, &mut ms) {
        return problem::internal(exception, path);
    }
    if !ms.is_valid() {
        return problem::validation(&ms);
    }
    match migrate(store, &m) {
        Ok(body) => Answer::ok(body),
        Err(Fail::Problem(a)) => a,
        Err(Fail::Exception(detail)) => {
            store
                .ledger
                .violations
                .push(format!("correspondence A2 {}: A3 fails with 500: {detail}", m.altinn2_id));
            problem::internal(detail, path)
        }
    }
}

enum Fail {
    Problem(Answer),
    Exception(String),
}

/// A list without null elements, or the `NullReferenceException` the mapper's lambdas throw.
fn no_nulls<T: Clone>(items: &[Option<T>]) -> Result<Vec<T>, Fail> {
    items.iter().map(|x| x.clone().ok_or_else(|| Fail::Exception(NRE.into()))).collect()
}

fn migrate(store: &mut Tables, m: &MigrateIn) -> Result<Value, Fail> {
    let (Some(data), Some(events_in), Some(notes_in), Some(fwds_in)) =
        (&m.data, &m.event_history, &m.notification_history, &m.forwarding_history)
    else {
        return Err(Fail::Exception(NRE.into()));
    };
    let (Some(base), Some(recipients)) = (&data.correspondence, &data.recipients) else {
        return Err(Fail::Exception(NRE.into()));
    };
    // Mapper, in its evaluation order. Published = first Published event's time (:15).
    let history: Vec<StatusIn> = no_nulls(events_in)?;
    let published = history.iter().find(|e| e.status == status::PUBLISHED).map(|e| stored(e.changed));
    // Statuses and delete events, deduplicated in the request (:20,51,63-92).
    let (statuses, deletes, d1) = events::dedup_statuses(&history);
    let (notifications, d2) = events::dedup_notifications(&no_nulls::<NotificationIn>(notes_in)?);
    let (forwardings, d3) = events::dedup_forwardings(&no_nulls::<ForwardingIn>(fwds_in)?);
    let dropped = d1 + d2 + d3;
    // Recipient = Recipients.First().ToLowerInvariant() (:24).
    let recipient = match recipients.first() {
        None => return Err(Fail::Exception("Sequence contains no elements".into())),
        Some(None) => return Err(Fail::Exception(NRE.into())),
        Some(Some(r)) => r.to_lowercase(),
    };
    // RequestedPublishTime = (DateTimeOffset)RequestedPublishTime (:30).
    let Some(requested_publish_time) = base.requested_publish_time else {
        return Err(Fail::Exception("Nullable object must have a value.".into()));
    };
    // Handler: MigrationValidateCorrespondenceContent (MigrateCorrespondenceHandler.cs:35-39,274-297).
    let Some(content) = &base.content else {
        return Err(Fail::Problem(problem::error(problem::MISSING_CONTENT)));
    };
    if content.title.as_deref().is_none_or(|t| t.trim().is_empty()) {
        return Err(Fail::Problem(problem::error(problem::MESSAGE_TITLE_EMPTY)));
    }
    // `language.ToLower()` on a null language throws (:293-297).
    let Some(language) = &content.language else { return Err(Fail::Exception(NRE.into())) };
    if !["nb", "nn", "en"].contains(&language.to_lowercase().as_str()) {
        return Err(Fail::Problem(problem::error(problem::INVALID_LANGUAGE)));
    }
    let cid = Uuid::now_v7();
    let existing = data.existing_attachments.clone().unwrap_or_default();
    let new = NewCorrespondence {
        row: CorrespondenceRow {
            id: cid,
            altinn2_id: m.altinn2_id,
            resource_id: base.resource_id.clone().unwrap_or_default(),
            sender: String::new(),
            senders_reference: base.senders_reference.clone().unwrap_or_default(),
            recipient,
            message_sender: base.message_sender.clone(),
            created: stored(m.created),
            requested_publish_time: stored(requested_publish_time),
            published,
            is_migrating: m.is_migrating,
            party_id: m.party_id,
            language: String::new(),
            message_title: content.title.clone().unwrap_or_default(),
            message_summary: String::new(),
            message_body: content.body.clone().unwrap_or_default(),
            property_list: base
                .property_list
                .clone()
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k, v.unwrap_or_default()))
                .collect(),
            reply_option_urls: base.reply_options.iter().flatten().flatten().flatten().cloned().collect(),
        },
        sender: base.sender.clone(),
        message_summary: content.summary.clone(),
        language: content.language.clone(),
        statuses: statuses
            .iter()
            // StatusText ?? Status.ToString() (:262).
            .map(|e| {
                let text =
                    e.status_text.clone().unwrap_or_else(|| enums::name(enums::MIGRATE_STATUS, e.status));
                history::status_row(cid, e, text, "migrate", false)
            })
            .collect(),
        notifications: notifications
            .iter()
            .map(|n| history::notification_row(cid, n, "migrate", false))
            .collect(),
        forwardings: forwardings.iter().map(|f| history::forwarding_row(cid, f, "migrate", false)).collect(),
        external_refs: base.external_references.iter().flatten().flatten().cloned().collect(),
        // ExistingAttachments appended as CorrespondenceAttachments (MigrateCorrespondenceHandler.cs:41-51).
        attachment_ids: existing.clone(),
    };
    match store.db.create_correspondence(new) {
        Ok(cid) => {
            store.ledger.duplicate_events_received += dropped;
            Ok(created(store, m, cid, &deletes, &existing))
        }
        // Unique violation → "already migrated": remigrate (MigrateCorrespondenceHandler.cs:100-145).
        Err(e) if e.is_unique() => {
            let answer = remigrate(store, m, &statuses, &deletes, &notifications, &forwardings);
            if answer.is_ok() {
                store.ledger.duplicate_events_received += dropped;
            }
            answer
        }
        // Any other DbUpdateException is rethrown (:147) → 500.
        Err(e) => Err(Fail::Exception(problem::db_update_exception(&e.message()))),
    }
}

/// After `CreateCorrespondence`: delete events, `makeAvailable`, the answer (:57-98).
fn created(store: &mut Tables, m: &MigrateIn, cid: Uuid, deletes: &[StatusIn], existing: &[Uuid]) -> Value {
    let a2 = m.altinn2_id;
    for d in deletes {
        // StoreDeleteEventForCorrespondence, one by one (:57-63); purges are stored as delete events only.
        if store.db.insert_delete_event(history::delete_row(cid, d, "migrate")).is_err() {
            store.ledger.duplicate_events_received += 1;
        }
        if matches!(d.status, status::PURGED_BY_RECIPIENT | status::PURGED_BY_ALTINN) {
            store.ledger.violations.push(format!(
                "correspondence A2 {a2}: migrated with a purge event (A2 hard deletes are not migrated)"
            ));
        }
    }
    if !m.is_migrating && !m.make_available {
        store.ledger.violations.push(format!(
            "correspondence A2 {a2} migrated without IsMigrating: published in the A3 API at once, without a Dialogporten dialog"
        ));
    }
    if !m.created_given {
        store
            .ledger
            .violations
            .push(format!("correspondence A2 {a2} stored with Created 0001-01-01 (created missing)"));
    }
    if existing.iter().enumerate().any(|(i, a)| existing[..i].contains(a)) {
        store.ledger.violations.push(format!(
            "correspondence A2 {a2} links the same attachment twice (no unique index stops it)"
        ));
    }
    let mut dialog_id = Value::Null;
    if m.make_available {
        // Development: created inline, its id answered; elsewhere a background job creates it
        // later and the answer's dialogId is "" (:65-97; see `dialog_job`).
        let id = dialog_job::on_migrate(store, cid);
        dialog_id = json!(id);
    }
    if m.make_available && !store.dialog_job.development {
        // UpdatePublished from the "Correspondence Published in Altinn 2" status (:82-88).
        let p = store
            .db
            .statuses_of(cid)
            .find(|s| {
                s.status == status::PUBLISHED && s.status_text == "Correspondence Published in Altinn 2"
            })
            .map(|s| s.status_changed);
        if let (Some(p), Some(c)) = (p, store.db.correspondence_mut(cid)) {
            c.published = Some(p);
        }
    }
    let statuses: Vec<Value> =
        existing.iter().map(|a| json!({ "attachmentId": a, "status": "Initialized" })).collect();
    json!({
        "altinn2CorrespondenceId": a2,
        "correspondenceId": cid,
        "attachmentStatuses": statuses,
        "dialogId": dialog_id,
    })
}

/// The remigration: events only, answered without attachment statuses (the correspondence is read
/// without its content, `CorrespondenceRepository.cs:151-160`) and without a dialog id (:138-144).
fn remigrate(
    store: &mut Tables,
    m: &MigrateIn,
    statuses: &[StatusIn],
    deletes: &[StatusIn],
    notifications: &[NotificationIn],
    forwardings: &[ForwardingIn],
) -> Result<Value, Fail> {
    let a2 = m.altinn2_id;
    // GetCorrespondenceByAltinn2Id: SingleAsync throws when the unique hit was on an event index (:105).
    let Some(cid) = store.db.correspondence_by_a2(a2).map(|c| c.id) else {
        return Err(Fail::Exception(
            "Sequence contains no elements (a unique index on the new events was hit, not the A2 id)".into(),
        ));
    };
    store.ledger.remigrations += 1;
    // ProcessAllEventsForCorrespondence with Remigrate (CorrespondenceMigrationEventHelper.cs:822-875).
    history::statuses_and_deletes(store, cid, a2, statuses, deletes, Operation::Remigrate);
    history::notifications(store, cid, a2, notifications, Operation::Remigrate);
    history::forwardings(store, cid, a2, forwardings, Operation::Remigrate);
    Ok(json!({
        "altinn2CorrespondenceId": a2,
        "correspondenceId": cid,
        "attachmentStatuses": Value::Null,
        "dialogId": Value::Null,
    }))
}
