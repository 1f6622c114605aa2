//! Tests of the pipeline, the attachment upload and the migrate call, through the router.

use crate::{Faults, SimConfig, Simulator};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};
use tower::ServiceExt;

pub(crate) const TOKEN: &str = "t0ken";
pub(crate) const BASE: &str = "/correspondence/api/v1/migration";
pub(crate) const PARTY: &str = "358c48b4-74a7-461f-a86f-48801deec920";

pub(crate) fn sim() -> Simulator {
    Simulator::new(SimConfig {
        token: TOKEN.into(),
        seed: 1,
        faults: Faults::default(),
        dialog_job: crate::DialogJob::default(),
    })
}

/// One call through the router: `(status, JSON body or Null, headers)`.
pub(crate) async fn call(
    sim: &Simulator,
    method: &str,
    uri: &str,
    content_type: Option<&str>,
    token: Option<&str>,
    body: Vec<u8>,
) -> (StatusCode, Value, axum::http::HeaderMap) {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let resp = sim.router().oneshot(req.body(Body::from(body)).unwrap()).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
    let v = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, v, headers)
}

/// POST JSON with the right token.
pub(crate) async fn post(sim: &Simulator, path: &str, body: &Value) -> (StatusCode, Value) {
    let (s, v, _) = call(
        sim,
        "POST",
        &format!("{BASE}/{path}"),
        Some("application/json"),
        Some(TOKEN),
        body.to_string().into_bytes(),
    )
    .await;
    (s, v)
}

/// Uploads an attachment with `query`.
pub(crate) async fn upload(sim: &Simulator, query: &str, data: &[u8]) -> (StatusCode, Value) {
    let (s, v, _) = call(
        sim,
        "POST",
        &format!("{BASE}/attachment?{query}"),
        Some("application/octet-stream"),
        Some(TOKEN),
        data.to_vec(),
    )
    .await;
    (s, v)
}

pub(crate) const GOOD_QUERY: &str = "resourceId=skd-migratedcorrespondence-1&senderPartyUuid=ebf0da78-db7c-4087-9711-2c64db201eb1&sendersReference=1234&displayName=Test&isEncrypted=False&fileName=a.txt&sender=urn%3Aaltinn%3Aorganization%3Aidentifier-no%3A991825827&altinn2AttachmentId=SS1&created=2025-05-01T00:00:00Z";

/// A migrate body as upstream's `MigrateCorrespondenceBuilder` makes it.
pub(crate) fn migrate_body(a2: i64) -> Value {
    json!({
        "correspondenceData": {
            "correspondence": {
                "resourceId": "skd-migratedcorrespondence-1",
                "sender": "urn:altinn:organization:identifier-no:991825827",
                "sendersReference": "1",
                "content": { "language": "nb", "messageTitle": "test", "messageSummary": "test", "messageBody": "body" },
                "requestedPublishTime": "2024-01-05T00:00:00Z",
                "propertyList": { "a": "1" },
                "isConfirmationNeeded": false
            },
            "recipients": ["urn:altinn:organization:identifier-no:991825827"],
            "existingAttachments": []
        },
        "altinn2CorrespondenceId": a2,
        "eventHistory": [
            { "status": "Initialized", "statusText": "Correspondence Created in Altinn 2", "statusChanged": "2024-01-05T00:00:00Z", "eventUserPartyUuid": PARTY },
            { "status": 2, "statusText": "Correspondence Published in Altinn 2", "statusChanged": "2024-01-06T00:00:00Z", "eventUserPartyUuid": PARTY }
        ],
        "notificationHistory": [],
        "forwardingHistory": [],
        "IsMigrating": true,
        "created": "2024-01-05T00:00:00Z",
        "partyId": 1
    })
}

#[tokio::test]
async fn pipeline_answers_404_405_401_415() {
    let s = sim();
    let (st, _, _) =
        call(&s, "POST", "/correspondence/api/v1/migration/nope", None, Some(TOKEN), vec![]).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, _, h) = call(&s, "GET", &format!("{BASE}/correspondence"), None, Some(TOKEN), vec![]).await;
    assert_eq!(st, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(h["allow"], "POST");
    let body = migrate_body(1).to_string().into_bytes();
    let (st, _, h) =
        call(&s, "POST", &format!("{BASE}/correspondence"), Some("application/json"), None, body.clone())
            .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert_eq!(h["www-authenticate"], "Bearer");
    let (st, _, _) = call(
        &s,
        "POST",
        &format!("{BASE}/correspondence"),
        Some("application/json"),
        Some("wrong"),
        body.clone(),
    )
    .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    // JSON endpoints need a JSON content type (after auth); the attachment refuses others before auth.
    let (st, _, _) =
        call(&s, "POST", &format!("{BASE}/correspondence"), Some("text/plain"), Some(TOKEN), body.clone())
            .await;
    assert_eq!(st, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (st, _, _) = call(&s, "POST", &format!("{BASE}/correspondence"), None, Some(TOKEN), body).await;
    assert_eq!(st, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (st, _, _) = call(
        &s,
        "POST",
        &format!("{BASE}/attachment?{GOOD_QUERY}"),
        Some("application/json"),
        None,
        b"x".to_vec(),
    )
    .await;
    assert_eq!(st, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // Routes match case-insensitively.
    let (st, v) = post(&s, "CORRESPONDENCE/", &migrate_body(2)).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(s.inventory().calls["correspondence"], 6);
}

#[tokio::test]
async fn empty_body_is_400_with_model_errors() {
    let s = sim();
    let (st, v, h) =
        call(&s, "POST", &format!("{BASE}/correspondence"), Some("application/json"), Some(TOKEN), vec![])
            .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(h["content-type"].to_str().unwrap().starts_with("application/problem+json"));
    assert_eq!(v["errors"][""][0], "A non-empty request body is required.");
    assert_eq!(v["errors"]["migrateCorrespondence"][0], "The migrateCorrespondence field is required.");
    assert_eq!(v["title"], "Bad Request");
}

#[tokio::test]
async fn attachment_without_sender_is_500_with_the_reason() {
    let s = sim();
    let q = GOOD_QUERY.replace("&sender=urn%3Aaltinn%3Aorganization%3Aidentifier-no%3A991825827", "");
    let (st, v) = upload(&s, &q, b"data").await;
    assert_eq!(st, StatusCode::INTERNAL_SERVER_ERROR);
    let d = v["detail"].as_str().unwrap();
    assert!(d.contains("null value in column \"Sender\" of relation \"Attachments\""), "{d}");
    assert_eq!(s.inventory().attachments, 0);
    // An empty `sender=` binds null too (ConvertEmptyStringToNull).
    let (st, _) = upload(&s, &format!("{q}&sender="), b"data").await;
    assert_eq!(st, StatusCode::INTERNAL_SERVER_ERROR);
}

#[tokio::test]
async fn attachment_without_sender_party_uuid_is_stored_with_an_empty_guid() {
    let s = sim();
    let q = GOOD_QUERY.replace("senderPartyUuid=ebf0da78-db7c-4087-9711-2c64db201eb1&", "");
    let (st, v) = upload(&s, &q, b"data").await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let inv = s.inventory();
    let a = &inv.stored_attachments[0];
    assert_eq!(v, json!(a.attachment_id));
    assert_eq!(a.sender_party_uuid, Some(uuid::Uuid::nil()));
    assert!(inv.violations.iter().any(|x| x.contains("empty senderPartyUuid")), "{:?}", inv.violations);
}

#[tokio::test]
async fn attachment_query_is_validated_and_bound_case_insensitively() {
    let s = sim();
    let (st, v) = upload(&s, &GOOD_QUERY.replace("resourceId=skd-migratedcorrespondence-1&", ""), b"d").await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_eq!(v["errors"]["ResourceId"][0], "The ResourceId field is required.");
    let (st, v) = upload(&s, &GOOD_QUERY.replace("&altinn2AttachmentId=SS1", ""), b"d").await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_eq!(v["errors"]["Altinn2AttachmentId"][0], "The Altinn2AttachmentId field is required.");
    let (st, v) = upload(&s, &GOOD_QUERY.replace("sendersReference=1234&", ""), b"d").await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "sendersReference is [Required] although unused: {v}");
    let (st, v) =
        upload(&s, &GOOD_QUERY.replace("senderPartyUuid=ebf0da78", "senderPartyUuid=zz"), b"d").await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(v["errors"]["SenderPartyUuid"][0].as_str().unwrap().contains("is not valid for SenderPartyUuid"));
    let (st, v) = upload(&s, GOOD_QUERY, b"").await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_eq!(v["code"], "CORR-02004");
    // Upper-case keys bind; no Content-Type is accepted; the same A2 id answers the first id.
    let (st, first, _) = call(
        &s,
        "POST",
        &format!("{BASE}/attachment?{}", GOOD_QUERY.to_uppercase().replace("SS1", "ss1").replace("%3A", ":")),
        None,
        Some(TOKEN),
        b"x".to_vec(),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{first}");
    let (st, again) = upload(&s, &GOOD_QUERY.replace("SS1", "ss1"), b"y").await;
    assert_eq!((st, &again), (StatusCode::OK, &first));
    assert_eq!(s.inventory().attachments, 1);
    // A checksum that does not match → 500 (FK violation on the Failed status row).
    let (st, v) = upload(&s, &format!("{GOOD_QUERY}&checksum=00000000000000000000000000000000"), b"d").await;
    assert_eq!(st, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(v["detail"].as_str().unwrap().contains("foreign key"));
    let a = &s.inventory().stored_attachments[0];
    assert_eq!(a.senders_reference, "", "the entity's SendersReference comes from altinn2sendersReference");
}

#[tokio::test]
async fn migrate_answers_a3_shape_and_stores() {
    let s = sim();
    let (_, att) = upload(&s, GOOD_QUERY, b"data").await;
    let mut b = migrate_body(10);
    b["correspondenceData"]["existingAttachments"] = json!([att]);
    let (st, v) = post(&s, "correspondence", &b).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["altinn2CorrespondenceId"], 10);
    assert_eq!(v["attachmentStatuses"], json!([{ "attachmentId": att, "status": "Initialized" }]));
    assert_eq!(v["dialogId"], Value::Null);
    let item = s.item(10).unwrap();
    assert_eq!(json!(item.correspondence_id), v["correspondenceId"]);
    assert!(item.is_migrating && item.dialog_id.is_none());
    assert_eq!(item.statuses.len(), 2);
    assert_eq!(item.statuses[1].status, "Published");
    assert_eq!(item.published.unwrap().to_rfc3339(), "2024-01-06T00:00:00+00:00");
    assert_eq!(json!(item.attachment_ids), json!([att]));
    assert!(s.inventory().violations.is_empty(), "{:?}", s.inventory().violations);
}

#[tokio::test]
async fn migrate_traps_answer_as_a3() {
    let s = sim();
    type Case = (&'static str, Box<dyn Fn(&mut Value)>, u16, &'static str);
    let cases: Vec<Case> = vec![
        (
            "no sender",
            Box::new(|b| {
                b["correspondenceData"]["correspondence"]
                    .as_object_mut()
                    .unwrap()
                    .remove("sender")
                    .map(|_| ())
                    .unwrap()
            }),
            500,
            "Sender\\\" of relation \\\"Correspondences",
        ),
        (
            "no summary",
            Box::new(|b| {
                b["correspondenceData"]["correspondence"]["content"]["messageSummary"] = Value::Null
            }),
            500,
            "MessageSummary",
        ),
        (
            "no language",
            Box::new(|b| b["correspondenceData"]["correspondence"]["content"]["language"] = Value::Null),
            500,
            "Object reference",
        ),
        (
            "no publish time",
            Box::new(|b| b["correspondenceData"]["correspondence"]["requestedPublishTime"] = Value::Null),
            500,
            "Nullable object",
        ),
        (
            "no recipients",
            Box::new(|b| b["correspondenceData"]["recipients"] = json!([])),
            500,
            "Sequence contains no elements",
        ),
        (
            "unknown attachment",
            Box::new(|b| b["correspondenceData"]["existingAttachments"] = json!([PARTY])),
            500,
            "foreign key",
        ),
        (
            "bad language",
            Box::new(|b| b["correspondenceData"]["correspondence"]["content"]["language"] = json!("se")),
            400,
            "CORR-01023",
        ),
        (
            "no content",
            Box::new(|b| b["correspondenceData"]["correspondence"]["content"] = Value::Null),
            400,
            "CORR-01019",
        ),
        (
            "blank title",
            Box::new(|b| b["correspondenceData"]["correspondence"]["content"]["messageTitle"] = json!("  ")),
            400,
            "The MessageTitle field is required.",
        ),
        (
            "no resourceId",
            Box::new(|b| b["correspondenceData"]["correspondence"]["resourceId"] = Value::Null),
            400,
            "The ResourceId field is required.",
        ),
        (
            "missing required",
            Box::new(|b| b.as_object_mut().unwrap().remove("altinn2CorrespondenceId").map(|_| ()).unwrap()),
            400,
            "missing required properties",
        ),
        (
            "bad guid",
            Box::new(|b| b["eventHistory"][0]["eventUserPartyUuid"] = json!("nope")),
            400,
            "System.Guid",
        ),
        (
            "null statusText",
            Box::new(|b| b["eventHistory"][0]["statusText"] = Value::Null),
            400,
            "StatusText",
        ),
        ("null history", Box::new(|b| b["eventHistory"] = Value::Null), 400, "EventHistory"),
    ];
    for (i, (name, f, status, needle)) in cases.into_iter().enumerate() {
        let mut b = migrate_body(100 + i64::try_from(i).unwrap());
        f(&mut b);
        let (st, v) = post(&s, "correspondence", &b).await;
        assert_eq!(st.as_u16(), status, "{name}: {v}");
        assert!(v.to_string().contains(needle), "{name}: {v}");
    }
    assert_eq!(s.inventory().correspondences, 0);
}

#[tokio::test]
async fn binding_is_case_insensitive_with_enums_by_name_or_number() {
    let s = sim();
    let mut b = migrate_body(20);
    let m = b.as_object_mut().unwrap();
    let v = m.remove("altinn2CorrespondenceId").unwrap();
    m.insert("ALTINN2CORRESPONDENCEID".into(), v);
    let m2 = m.remove("IsMigrating").unwrap();
    m.insert("isMigrating".into(), m2);
    b["eventHistory"][0]["status"] = json!("initialized");
    b["eventHistory"][1]["status"] = json!("2");
    let (st, v) = post(&s, "correspondence", &b).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let item = s.item(20).unwrap();
    assert!(item.is_migrating);
    assert_eq!(item.statuses[0].status, "Initialized");
}

#[tokio::test]
async fn migrate_without_is_migrating_publishes_at_once() {
    let s = sim();
    let mut b = migrate_body(30);
    b.as_object_mut().unwrap().remove("IsMigrating");
    let (st, _) = post(&s, "correspondence", &b).await;
    assert_eq!(st, StatusCode::OK);
    assert!(!s.item(30).unwrap().is_migrating);
    assert!(s.inventory().violations.iter().any(|v| v.contains("without IsMigrating")));
}

/// The simulator is a second, independent reading of Altinn's source: it must not depend on any
/// crate of the project (the client's models, dedup keys or endpoints would make it share the
/// client's understanding), nor name one in its sources.
#[test]
fn depends_on_no_project_crate() {
    let manifest = include_str!("../Cargo.toml");
    for krate in ["workers", "schema", "orchestrator"] {
        assert!(
            !manifest.lines().any(|l| l.trim_start().starts_with(krate)),
            "altinn3-sim/Cargo.toml names `{krate}`"
        );
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for needle in ["workers::", "use workers", "schema::", "orchestrator::"] {
            assert!(
                !text.contains(needle) || path.ends_with("tests.rs"),
                "{} uses `{needle}`",
                path.display()
            );
        }
    }
}
