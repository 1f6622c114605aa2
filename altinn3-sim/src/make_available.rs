//! POST `makemigratedcorrespondenceavailable` (`MigrationController.cs:101-117`,
//! `MigrateCorrespondenceHandler.cs:150-263`): one id, a list of ids, or a batch of candidates; each
//! gets a dialog (once: a stored `DialogportenDialogId` reference is answered again) and leaves the
//! migrating state.

use crate::binding::{self, JResult, ModelState, Obj};
use crate::db::ExternalRefRow;
use crate::enums::{self, status};
use crate::inventory::Tables;
use crate::problem::{self, Answer};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

/// `MakeCorrespondenceAvailableRequestExt` (`Models/MakeCorrespondenceAvailableRequestExt.cs`).
#[derive(Debug, Default)]
struct Request {
    correspondence_id: Option<Uuid>,
    create_events: bool,
    correspondence_ids: Option<Vec<Uuid>>,
    async_processing: bool,
    batch_size: Option<i32>,
    created_from: Option<DateTime<Utc>>,
    created_to: Option<DateTime<Utc>>,
}

fn read(v: &Value) -> JResult<Option<Request>> {
    let Some(mut o) =
        Obj::new(v, "$", "Altinn.Correspondence.API.Models.MakeCorrespondenceAvailableRequestExt")?
    else {
        return Ok(None);
    };
    let r = Request {
        correspondence_id: o.prop("correspondenceId", false, binding::opt_guid)?.flatten(),
        create_events: o.prop("createEvents", false, binding::bool_)?.unwrap_or(false),
        correspondence_ids: o
            .prop("correspondenceIds", false, |v, p| binding::list(v, p, binding::guid))?
            .flatten(),
        async_processing: o.prop("asyncProcessing", false, binding::bool_)?.unwrap_or(false),
        batch_size: o.prop("batchSize", false, binding::opt_i32)?.flatten(),
        created_from: o.prop("createdFrom", false, binding::opt_date)?.flatten(),
        created_to: o.prop("createdTo", false, binding::opt_date)?.flatten(),
    };
    o.finish()?;
    Ok(Some(r))
}

/// `MakeCorrespondenceAvailableInDialogportenAndApi` (`MigrateCorrespondenceHandler.cs:223-263`):
/// `Ok(dialog id)` or the exception's `ToString()`.
pub(crate) fn make_available(store: &mut Tables, id: Uuid, create_events: bool) -> Result<String, String> {
    let Some(c) = store.db.correspondence(id) else {
        // GetCorrespondenceById (includeIsMigrating) finds nothing (:225-229).
        return Err(format!(
            "System.ArgumentException: Correspondence with id {id} not found (Parameter 'correspondenceId')"
        ));
    };
    let a2 = i64::from(c.altinn2_id);
    // Already has a DialogportenDialogId reference: answered again, nothing created (:231-235).
    if let Some(d) = store.db.dialog_id(id) {
        return Ok(d);
    }
    // Purged → InvalidOperationException (:237-240).
    let purged = is_purged(store, id);
    if purged {
        return Err(format!(
            "System.InvalidOperationException: Correspondence with id {id} is purged and cannot be made available in Dialogporten or API"
        ));
    }
    // Dialog created; DialogportenDialogId reference added; IsMigrating = false (:244-262).
    let dialog = Uuid::now_v7().to_string();
    store.db.add_external_ref(ExternalRefRow {
        correspondence_id: id,
        reference_type: enums::DIALOG_ID_REFERENCE,
        value: dialog.clone(),
    });
    if let Some(c) = store.db.correspondence_mut(id) {
        c.is_migrating = false;
    }
    store.ledger.dialogs_created += 1;
    if create_events {
        store.ledger.dialogs_created_with_events += 1;
    }
    // Once per correspondence: a second call finds the dialog reference above and returns.
    store.ledger.made_available_order.push(a2);
    Ok(dialog)
}

/// Whether correspondence `id` has a purge status.
pub(crate) fn is_purged(store: &Tables, id: Uuid) -> bool {
    store
        .db
        .statuses_of(id)
        .any(|s| matches!(s.status, status::PURGED_BY_RECIPIENT | status::PURGED_BY_ALTINN))
}

/// One `MakeCorrespondenceAvailableStatusExt` (`Models/MakeCorrespondenceAvailableResponseExt.cs:7-20`,
/// camelCase by the web defaults).
fn status_json(id: Uuid, r: Result<String, String>) -> Value {
    match r {
        Ok(d) => json!({ "correspondenceId": id, "dialogId": d, "error": null, "ok": true }),
        Err(e) => json!({ "correspondenceId": id, "dialogId": null, "error": e, "ok": false }),
    }
}

/// `GetCandidatesForMigrationToDialogporten` (`CorrespondenceRepository.cs:285-327`): migrating,
/// with an A2 id, not purged, `Created >= createdFrom`, `Created < createdTo`, newest first then
/// by id; without a cursor or `createdTo` it throws.
fn candidates(store: &Tables, r: &Request, size: usize) -> Result<Vec<Uuid>, String> {
    let Some(to) = r.created_to else {
        return Err("Either cursorCreated or createdTo must be provided".into());
    };
    let mut c: Vec<_> = store
        .db
        .correspondences()
        .iter()
        .filter(|c| c.is_migrating && !is_purged(store, c.id))
        .filter(|c| r.created_from.is_none_or(|f| c.created >= f) && c.created < to)
        .map(|c| (c.created, c.id))
        .collect();
    c.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    Ok(c.into_iter().take(size).map(|(_, id)| id).collect())
}

/// Handles one call (`MigrateCorrespondenceHandler.cs:151-211`): `correspondenceId` wins over
/// `correspondenceIds`, which win over `batchSize`; otherwise no statuses.
pub(crate) fn handle(store: &mut Tables, path: &str, body: &[u8]) -> Answer {
    let param = "request";
    let v = match binding::parse_body(body, param) {
        Ok(v) => v,
        Err(ms) => return problem::validation(&ms),
    };
    let r = match read(&v) {
        Ok(Some(r)) => r,
        Ok(None) => {
            let mut ms = ModelState::default();
            ms.add(param, format!("The {param} field is required."));
            return problem::validation(&ms);
        }
        Err(e) => return problem::validation(&binding::json_error(e, param)),
    };
    let mut statuses = Vec::new();
    if let Some(id) = r.correspondence_id {
        // A single id uses createEvents = false regardless of the request (:162).
        let res = make_available(store, id, false);
        statuses.push(status_json(id, res));
    } else if let Some(ids) = r.correspondence_ids.as_ref().filter(|l| !l.is_empty()) {
        for id in ids {
            let res = make_available(store, *id, false);
            statuses.push(status_json(*id, res));
        }
    } else if let Some(size) = r.batch_size.filter(|s| *s > 0) {
        let ids = match candidates(store, &r, usize::try_from(size).unwrap_or(0)) {
            Ok(ids) => ids,
            // The async batch job's own failure never reaches the caller.
            Err(_) if r.async_processing => Vec::new(),
            Err(e) => return problem::internal(format!("System.InvalidOperationException: {e}"), path),
        };
        // AsyncProcessing: a chained batch job does the work later and the answer has no statuses
        // (:204-210); the simulator does it at once.
        for id in ids {
            let res = make_available(store, id, r.create_events);
            if !r.async_processing {
                statuses.push(status_json(id, res));
            }
        }
    }
    Answer::ok(json!({ "statuses": statuses }))
}
