//! The three sync endpoints (`MigrationController.cs:119-196`): events that happened in Altinn 2
//! after migration, for a correspondence by A3 id. Each request is deduplicated in itself
//! (`MigrateCorrespondenceMapper.cs:149-254`), then against what is stored, then stored
//! (`SyncCorrespondence*EventHandler.cs`). All answer the correspondence id as a JSON string.

use crate::binding::{self, JResult, ModelState, Obj};
use crate::events::{self, ForwardingIn, NotificationIn, StatusIn};
use crate::history::{self, Operation};
use crate::inventory::Tables;
use crate::problem::{self, Answer};
use crate::rates::Endpoint;
use serde_json::{Value, json};
use uuid::Uuid;

/// A bound sync request (`SyncCorrespondence*EventRequestExt.cs`): `correspondenceId` and the event
/// list, both C# `required`.
struct SyncIn<T> {
    correspondence_id: Uuid,
    events: Option<Vec<Option<T>>>,
}

type Reader<T> = fn(&Value, &str) -> JResult<Option<T>>;

fn read<T>(
    v: &Value,
    class: &'static str,
    list: &'static str,
    item: Reader<T>,
) -> JResult<Option<SyncIn<T>>> {
    let Some(mut o) = Obj::new(v, "$", class)? else { return Ok(None) };
    let correspondence_id = o.prop("correspondenceId", true, binding::guid)?.unwrap_or_default();
    let events = o.prop(list, true, |v, p| binding::list(v, p, item))?.flatten();
    o.finish()?;
    Ok(Some(SyncIn { correspondence_id, events }))
}

/// Binding and validation: `SyncedEvents` is non-nullable (implicit `[Required]`) with
/// `[MinLength(1, ErrorMessage = ...)]` (`SyncCorrespondenceStatusEventRequestExt.cs:13-15` and siblings).
fn bind<T>(
    body: &[u8],
    class: &'static str,
    list: &'static str,
    what: &str,
    item: Reader<T>,
    validate: fn(&mut ModelState, &str, &T),
) -> Result<(Uuid, Vec<Option<T>>), Answer> {
    let param = "request";
    let v = binding::parse_body(body, param).map_err(|ms| problem::validation(&ms))?;
    let r = match read(&v, class, list, item) {
        Ok(Some(r)) => r,
        Ok(None) => {
            let mut ms = ModelState::default();
            ms.add(param, format!("The {param} field is required."));
            return Err(problem::validation(&ms));
        }
        Err(e) => return Err(problem::validation(&binding::json_error(e, param))),
    };
    let mut ms = ModelState::default();
    ms.not_null("SyncedEvents", &r.events);
    if let Some(l) = &r.events {
        if l.is_empty() {
            ms.add("SyncedEvents", format!("At least one {what} event is required."));
        }
        events::validate_list(&mut ms, "SyncedEvents", l, validate);
    }
    if !ms.is_valid() {
        return Err(problem::validation(&ms));
    }
    Ok((r.correspondence_id, r.events.unwrap_or_default()))
}

/// The mapper's lambdas throw on a null element (`MigrateCorrespondenceMapper.cs:163,223,246`).
fn no_nulls<T>(items: Vec<Option<T>>, path: &str) -> Result<Vec<T>, Answer> {
    items
        .into_iter()
        .collect::<Option<Vec<T>>>()
        .ok_or_else(|| problem::internal("Object reference not set to an instance of an object.", path))
}

/// The stored correspondence's A2 id, or 404 `CorrespondenceNotFound` (`SyncCorrespondence*EventHandler.cs`).
fn find(store: &Tables, id: Uuid) -> Result<i32, Answer> {
    store
        .db
        .correspondence(id)
        .map(|c| c.altinn2_id)
        .ok_or_else(|| problem::error(problem::CORRESPONDENCE_NOT_FOUND))
}

/// Handles one sync call.
pub(crate) fn handle(store: &mut Tables, ep: Endpoint, path: &str, body: &[u8]) -> Answer {
    let r = match ep {
        Endpoint::SyncNotification => notifications(store, path, body),
        Endpoint::SyncForwarding => forwardings(store, path, body),
        _ => statuses(store, path, body),
    };
    r.unwrap_or_else(|a| a)
}

/// `SyncCorrespondenceStatusEventHandler.cs:16-85`.
fn statuses(store: &mut Tables, path: &str, body: &[u8]) -> Result<Answer, Answer> {
    let (id, items) = bind(
        body,
        "Altinn.Correspondence.API.Models.SyncCorrespondenceStatusEventRequestExt",
        "syncedStatusEvents",
        "status",
        events::read_status,
        events::validate_status,
    )?;
    let items: Vec<StatusIn> = no_nulls(items, path)?;
    let (statuses, deletes, dropped) = events::dedup_statuses(&items);
    // Nothing to sync → 200 before the lookup (:24-28); MinLength(1) makes this unreachable.
    if statuses.is_empty() && deletes.is_empty() {
        return Ok(Answer::ok(json!(id)));
    }
    let a2 = find(store, id)?;
    store.ledger.duplicate_events_received += dropped;
    history::statuses_and_deletes(store, id, a2, &statuses, &deletes, Operation::Sync);
    Ok(Answer::ok(json!(id)))
}

/// `SyncCorrespondenceNotificationEventHandler.cs:15-52`.
fn notifications(store: &mut Tables, path: &str, body: &[u8]) -> Result<Answer, Answer> {
    let (id, items) = bind(
        body,
        "Altinn.Correspondence.API.Models.SyncCorrespondenceNotificationEventRequestExt",
        "syncedNotificationEvents",
        "notification",
        events::read_notification,
        events::validate_notification,
    )?;
    let items: Vec<NotificationIn> = no_nulls(items, path)?;
    let (kept, dropped) = events::dedup_notifications(&items);
    let a2 = find(store, id)?;
    store.ledger.duplicate_events_received += dropped;
    history::notifications(store, id, a2, &kept, Operation::Sync);
    Ok(Answer::ok(json!(id)))
}

/// `SyncCorrespondenceForwardingEventHandler.cs:15-52`.
fn forwardings(store: &mut Tables, path: &str, body: &[u8]) -> Result<Answer, Answer> {
    let (id, items) = bind(
        body,
        "Altinn.Correspondence.API.Models.SyncCorrespondenceForwardingEventRequestExt",
        "syncedForwardingEvents",
        "forwarding",
        events::read_forwarding,
        events::validate_forwarding,
    )?;
    let items: Vec<ForwardingIn> = no_nulls(items, path)?;
    let (kept, dropped) = events::dedup_forwardings(&items);
    let a2 = find(store, id)?;
    store.ledger.duplicate_events_received += dropped;
    history::forwardings(store, id, a2, &kept, Operation::Sync);
    Ok(Answer::ok(json!(id)))
}
