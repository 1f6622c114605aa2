//! The six migration endpoints. One entry point ([`api`]) counts the call, injects faults, checks
//! the bearer token, reads the body and dispatches; the handlers then behave as A3 does.

use crate::a3::model::*;
use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::sync::Arc;

use super::Shared;
use super::faults::Fault;
use super::problem::ApiError;
use super::rates::{Endpoint, endpoint_of};
use super::state::{Store, Stored, lock};
use super::traps::{
    HISTORIES, forwarding_conflict, get_ci, has_null_element, raw_correspondence_traps, reminder_conflict,
    validate_content,
};

/// Largest request body accepted (attachments included).
const MAX_BODY: usize = 256 * 1024 * 1024;

type HandlerResult = Result<Response, ApiError>;

/// Entry point of every request that is not `/sim/*`.
pub(crate) async fn api(State(sh): State<Arc<Shared>>, req: Request) -> Response {
    let Some(ep) = endpoint_of(req.uri().path()) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    sh.record_call(ep);
    let d = sh.injector.decide();
    if !d.latency.is_zero() {
        tokio::time::sleep(d.latency).await;
    }
    let resp = match d.fault {
        None => process(&sh, ep, req).await,
        Some(Fault::Error5xx) => ApiError::Unavailable.into_response(),
        Some(Fault::Rate429) => {
            ApiError::TooManyRequests { retry_after_secs: sh.injector.faults().retry_after_secs() }
                .into_response()
        }
        Some(Fault::DropBefore) => dropped(),
        Some(Fault::DropAfter) => {
            let processed = process(&sh, ep, req).await;
            tracing::debug!(
                endpoint = ep.name(),
                status = processed.status().as_u16(),
                "processed before the drop"
            );
            dropped()
        }
    };
    tracing::debug!(
        endpoint = ep.name(),
        status = resp.status().as_u16(),
        fault = d.fault.map(Fault::name),
        "A3 simulator request"
    );
    resp
}

/// A 200 whose body fails at once: hyper aborts the connection and the client sees a transport error.
fn dropped() -> Response {
    let stream = futures::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "simulated connection drop",
        ))
    });
    (StatusCode::OK, Body::from_stream(stream)).into_response()
}

/// `Authorization: Bearer <token>`, compared in constant time.
fn authorized(token: &str, headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let Some((scheme, credential)) = value.trim().split_once(' ') else {
        return false;
    };
    let (a, b) = (credential.trim().as_bytes(), token.as_bytes());
    scheme.eq_ignore_ascii_case("bearer")
        && !b.is_empty()
        && a.len() == b.len()
        && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A JSON content type (`application/json`, `...+json`, with or without parameters).
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
        .is_some_and(|m| m == "application/json" || m.ends_with("+json"))
}

async fn process(sh: &Shared, ep: Endpoint, req: Request) -> Response {
    if req.method() != Method::POST {
        let mut r = StatusCode::METHOD_NOT_ALLOWED.into_response();
        r.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
        return r;
    }
    if !authorized(&sh.token, req.headers()) {
        return ApiError::Unauthorized.into_response();
    }
    let (parts, body) = req.into_parts();
    let result = async {
        let bytes = axum::body::to_bytes(body, MAX_BODY).await.map_err(|_| ApiError::PayloadTooLarge)?;
        if ep == Endpoint::Attachment {
            return attachment(sh, &parts.uri, &bytes);
        }
        if !is_json(&parts.headers) {
            return Err(ApiError::UnsupportedMediaType);
        }
        let v: Value = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::bad(format!("The body is not valid JSON: {e}")))?;
        match ep {
            Endpoint::Correspondence => correspondence(sh, v),
            Endpoint::MakeAvailable => make_available(sh, v),
            Endpoint::SyncStatus => sync_status(sh, v),
            Endpoint::SyncNotification => sync_notification(sh, v),
            Endpoint::SyncForwarding => sync_forwarding(sh, v),
            Endpoint::Attachment => Err(ApiError::Internal),
        }
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

/// The typed body, or 400.
fn typed<T: DeserializeOwned>(v: Value) -> Result<T, ApiError> {
    serde_json::from_value(v).map_err(|e| ApiError::bad(format!("The request body is invalid: {e}")))
}

/// Records a trap as a violation and answers 500, as A3 does.
fn trap(store: &mut Store, subject: &str, problems: &[String]) -> ApiError {
    store.violation(format!("{subject}: {} (A3 answers 500)", problems.join("; ")));
    ApiError::Internal
}

/// The query-string fields of POST `attachment`, as the model names them.
const ATTACHMENT_FIELDS: [&str; 10] = [
    "resourceId",
    "senderPartyUuid",
    "sendersReference",
    "fileName",
    "displayName",
    "isEncrypted",
    "checksum",
    "altinn2AttachmentId",
    "created",
    "altinn2sendersReference",
];

/// Binds the query string case-insensitively, as A3 does; 400 for missing required fields.
fn attachment_query(uri: &Uri) -> Result<AttachmentUploadQuery, ApiError> {
    let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(uri)
        .map_err(|e| ApiError::bad(format!("The query string is invalid: {e}")))?;
    let mut m = Map::new();
    for (k, v) in pairs {
        let Some(name) = ATTACHMENT_FIELDS.iter().find(|f| f.eq_ignore_ascii_case(&k)) else { continue };
        if v.trim().is_empty() || m.contains_key(*name) {
            continue;
        }
        let value = if *name == "isEncrypted" {
            match v.trim().to_ascii_lowercase().as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => return Err(ApiError::field("IsEncrypted", format!("The value '{v}' is not valid."))),
            }
        } else {
            Value::String(v)
        };
        m.insert((*name).to_string(), value);
    }
    let missing: Vec<&str> = ["resourceId", "sendersReference", "altinn2AttachmentId"]
        .into_iter()
        .filter(|f| !m.contains_key(*f))
        .collect();
    if !missing.is_empty() {
        let errors =
            missing.iter().map(|f| (f.to_string(), vec![format!("The {f} field is required.")])).collect();
        return Err(ApiError::BadRequest {
            detail: "One or more validation errors occurred.".into(),
            errors,
        });
    }
    m.entry("fileName").or_insert_with(|| Value::String(String::new()));
    typed(Value::Object(m))
}

/// POST `attachment`.
fn attachment(sh: &Shared, uri: &Uri, body: &Bytes) -> HandlerResult {
    let q = attachment_query(uri)?;
    if body.is_empty() {
        return Err(ApiError::field("file", "The attachment is empty (0 bytes)."));
    }
    let id = lock(&sh.store).attachment(&q.altinn2_attachment_id);
    Ok(Json(id).into_response())
}

/// POST `correspondence`.
fn correspondence(sh: &Shared, mut v: Value) -> HandlerResult {
    let a2 = get_ci(&v, "altinn2CorrespondenceId").and_then(Value::as_i64);
    let subject = format!("correspondence A2 {}", a2.map_or_else(|| "?".to_string(), |a| a.to_string()));
    let raw = raw_correspondence_traps(&v);
    if !raw.is_empty() {
        return Err(trap(&mut lock(&sh.store), &subject, &raw));
    }
    // `IsMigrating` binds case-insensitively; missing or null means false.
    let mut migrating_sent = false;
    if let Some(obj) = v.as_object_mut() {
        let key = obj.keys().find(|k| k.eq_ignore_ascii_case("IsMigrating")).cloned();
        let value = key.and_then(|k| obj.remove(&k)).filter(|v| !v.is_null());
        migrating_sent = value.is_some();
        obj.insert("IsMigrating".into(), value.unwrap_or(Value::Bool(false)));
        for list in HISTORIES {
            if obj.get(list).is_some_and(Value::is_null) {
                obj.remove(list);
            }
        }
    }
    let req: MigrateCorrespondenceExt = typed(v)?;
    validate_content(&req.correspondence_data.correspondence.content)?;
    let mut problems: Vec<String> =
        [reminder_conflict(&req.notification_history), forwarding_conflict(&req.forwarding_history)]
            .into_iter()
            .flatten()
            .collect();
    let mut st = lock(&sh.store);
    let attachments = &req.correspondence_data.existing_attachments;
    problems.extend(
        attachments
            .iter()
            .filter(|a| !st.has_attachment(a))
            .map(|a| format!("existingAttachments has {a}, which the attachment endpoint never returned")),
    );
    if !problems.is_empty() {
        return Err(trap(&mut st, &subject, &problems));
    }
    if !req.is_migrating {
        let how = if migrating_sent { "false" } else { "missing" };
        st.violation(format!("{subject}: IsMigrating {how}: A3 would publish it at once, without a dialog"));
    }
    let a2 = req.altinn2_correspondence_id;
    let (added_dups, resp) = if let Some(c) = st.by_a2_mut(a2) {
        let dups = merge_histories(c, req.event_history, req.notification_history, req.forwarding_history);
        let resp = MigrateCorrespondenceResponse {
            altinn2_correspondence_id: a2,
            correspondence_id: c.id,
            attachment_statuses: None,
            dialog_id: None,
        };
        st.remigrations += 1;
        (dups, resp)
    } else {
        let mut ids = attachments.clone();
        let mut seen = std::collections::HashSet::new();
        ids.retain(|a| seen.insert(*a));
        let statuses =
            ids.iter().map(|a| AttachmentStatus { attachment_id: *a, status: "Published".into() }).collect();
        let mut c = Stored::new(a2, req.created, req.is_migrating, ids);
        let dups =
            merge_histories(&mut c, req.event_history, req.notification_history, req.forwarding_history);
        let id = c.id;
        st.insert(c);
        let dialog_id = if req.make_available { st.make_available(&id).ok() } else { None };
        let resp = MigrateCorrespondenceResponse {
            altinn2_correspondence_id: a2,
            correspondence_id: id,
            attachment_statuses: Some(statuses),
            dialog_id,
        };
        (dups, resp)
    };
    st.duplicate_events_received += added_dups;
    Ok(Json(resp).into_response())
}

/// Merges the three histories into `c`; returns the number of events dropped as duplicates.
fn merge_histories(
    c: &mut Stored,
    status: Vec<StatusEvent>,
    notification: Vec<NotificationEvent>,
    forwarding: Vec<ForwardingEvent>,
) -> u64 {
    c.status.merge(status).1 + c.notification.merge(notification).1 + c.forwarding.merge(forwarding).1
}

/// POST `makemigratedcorrespondenceavailable`.
fn make_available(sh: &Shared, v: Value) -> HandlerResult {
    let req: MakeAvailableRequest = typed(v)?;
    let mut st = lock(&sh.store);
    let ids: Vec<uuid::Uuid> = if req.correspondence_id.is_none() && req.correspondence_ids.is_none() {
        let Some(to) = req.created_to else {
            let problem = "batch mode without createdTo".to_string();
            return Err(trap(&mut st, "makemigratedcorrespondenceavailable", &[problem]));
        };
        let n = match req.batch_size {
            Some(n) if n > 0 => usize::try_from(n).unwrap_or(0),
            _ => return Err(ApiError::field("BatchSize", "BatchSize must be positive in batch mode.")),
        };
        st.batch_candidates(n, req.created_from, to)
    } else {
        let ids: Vec<_> =
            req.correspondence_id.into_iter().chain(req.correspondence_ids.into_iter().flatten()).collect();
        if ids.is_empty() {
            return Err(ApiError::field("CorrespondenceIds", "No correspondence ids given."));
        }
        ids
    };
    let statuses = ids
        .into_iter()
        .map(|id| match st.make_available(&id) {
            Ok(dialog) => {
                MakeAvailableStatus { correspondence_id: id, dialog_id: Some(dialog), error: None, ok: true }
            }
            Err(e) => MakeAvailableStatus {
                correspondence_id: id,
                dialog_id: None,
                error: Some(e.into()),
                ok: false,
            },
        })
        .collect();
    Ok(Json(MakeAvailableResponse { statuses }).into_response())
}

/// The parts every sync endpoint shares: null elements (500), typed body (400), empty list (400 and a
/// violation). Returns the typed request.
fn sync_request<T: DeserializeOwned>(
    sh: &Shared,
    v: Value,
    list: &str,
    len: impl Fn(&T) -> usize,
) -> Result<T, ApiError> {
    let id = get_ci(&v, "correspondenceId").and_then(Value::as_str).unwrap_or("?").to_string();
    if has_null_element(get_ci(&v, list)) {
        let mut st = lock(&sh.store);
        let subject = sync_subject(&st, &id, list);
        return Err(trap(&mut st, &subject, &[format!("{list} has a null element")]));
    }
    let req: T = typed(v)?;
    if len(&req) == 0 {
        let mut st = lock(&sh.store);
        let subject = sync_subject(&st, &id, list);
        st.violation(format!("{subject}: empty {list} (A3 answers 400)"));
        return Err(ApiError::field(list, format!("{list} must not be empty.")));
    }
    Ok(req)
}

/// "syncX on correspondence <id> (A2 n)" for violations.
fn sync_subject(st: &Store, id: &str, list: &str) -> String {
    let a2 = id.parse().ok().and_then(|u| st.a2_of(&u));
    match a2 {
        Some(a2) => format!("{list} on correspondence {id} (A2 {a2})"),
        None => format!("{list} on correspondence {id}"),
    }
}

fn not_found(id: &uuid::Uuid) -> ApiError {
    ApiError::NotFound(format!("Correspondence {id} not found"))
}

/// POST `correspondence/syncStatusEvent`.
fn sync_status(sh: &Shared, v: Value) -> HandlerResult {
    let req: SyncStatusEventRequest =
        sync_request(sh, v, "syncedStatusEvents", |r: &SyncStatusEventRequest| r.synced_status_events.len())?;
    let mut st = lock(&sh.store);
    let c = st.by_id_mut(&req.correspondence_id).ok_or_else(|| not_found(&req.correspondence_id))?;
    let (syncable, ignored): (Vec<_>, Vec<_>) =
        req.synced_status_events.into_iter().partition(|e| e.status.is_syncable());
    let (_, dups) = c.status.merge(syncable);
    st.duplicate_events_received += dups;
    st.ignored_status_events += ignored.len() as u64;
    Ok(Json(req.correspondence_id).into_response())
}

/// POST `correspondence/syncNotificationEvent`.
fn sync_notification(sh: &Shared, v: Value) -> HandlerResult {
    let list = "syncedNotificationEvents";
    let req: SyncNotificationEventRequest =
        sync_request(sh, v, list, |r: &SyncNotificationEventRequest| r.synced_notification_events.len())?;
    let mut st = lock(&sh.store);
    if st.by_id_mut(&req.correspondence_id).is_none() {
        return Err(not_found(&req.correspondence_id));
    }
    if let Some(p) = reminder_conflict(&req.synced_notification_events) {
        let subject = sync_subject(&st, &req.correspondence_id.to_string(), list);
        return Err(trap(&mut st, &subject, &[p]));
    }
    let c = st.by_id_mut(&req.correspondence_id).ok_or_else(|| not_found(&req.correspondence_id))?;
    let (_, dups) = c.notification.merge(req.synced_notification_events);
    st.duplicate_events_received += dups;
    Ok(Json(req.correspondence_id).into_response())
}

/// POST `correspondence/syncForwardingEvent`.
fn sync_forwarding(sh: &Shared, v: Value) -> HandlerResult {
    let list = "syncedForwardingEvents";
    let req: SyncForwardingEventRequest =
        sync_request(sh, v, list, |r: &SyncForwardingEventRequest| r.synced_forwarding_events.len())?;
    let mut st = lock(&sh.store);
    if st.by_id_mut(&req.correspondence_id).is_none() {
        return Err(not_found(&req.correspondence_id));
    }
    if let Some(p) = forwarding_conflict(&req.synced_forwarding_events) {
        let subject = sync_subject(&st, &req.correspondence_id.to_string(), list);
        return Err(trap(&mut st, &subject, &[p]));
    }
    let c = st.by_id_mut(&req.correspondence_id).ok_or_else(|| not_found(&req.correspondence_id))?;
    let (_, dups) = c.forwarding.merge(req.synced_forwarding_events);
    st.duplicate_events_received += dups;
    Ok(Json(req.correspondence_id).into_response())
}
