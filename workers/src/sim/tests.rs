//! End-to-end tests of the simulator over HTTP (reqwest against [`Simulator::start`]).

use super::*;
use crate::a3::model::*;
use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

const TOKEN: &str = "test-token-not-for-logs";

async fn start(faults: Faults) -> (RunningSim, reqwest::Client) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cfg = SimConfig { token: TOKEN.into(), seed: 42, faults };
    let sim = Simulator::start(cfg, "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    (sim, client)
}

fn url(sim: &RunningSim, path: &str) -> String {
    format!("{}/correspondence/api/v1/migration/{path}", sim.base_url)
}

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn body(a2: i64, attachments: Vec<Uuid>) -> MigrateCorrespondenceExt {
    MigrateCorrespondenceExt {
        correspondence_data: CorrespondenceData {
            correspondence: Correspondence {
                resource_id: "res".into(),
                senders_reference: "ref".into(),
                message_sender: None,
                sender: "urn:altinn:organization:identifier-no:991825827".into(),
                content: Content {
                    language: "nb".into(),
                    message_title: "Title".into(),
                    message_summary: String::new(),
                    message_body: "Body".into(),
                },
                requested_publish_time: at("2024-01-01T10:00:00Z"),
                due_date_time: None,
                external_references: vec![],
                property_list: Default::default(),
                reply_options: vec![],
                is_confirmation_needed: false,
                is_confidential: false,
            },
            recipients: vec!["urn:altinn:person:identifier-no:01017012345".into()],
            existing_attachments: attachments,
            published: None,
        },
        altinn2_correspondence_id: a2,
        created: at("2024-01-01T10:00:00Z") + chrono::Duration::days(a2),
        party_id: 50001,
        is_migrating: true,
        make_available: false,
        event_history: vec![status(CorrespondenceStatus::Published, "2024-01-01T10:00:00.000001Z")],
        notification_history: vec![],
        forwarding_history: vec![],
    }
}

fn status(s: CorrespondenceStatus, t: &str) -> StatusEvent {
    StatusEvent {
        status: s,
        status_text: String::new(),
        status_changed: at(t),
        event_user_uuid: None,
        event_user_party_uuid: Uuid::nil(),
    }
}

async fn post_json(c: &reqwest::Client, url: &str, body: &impl serde::Serialize) -> reqwest::Response {
    c.post(url).bearer_auth(TOKEN).json(body).send().await.unwrap()
}

async fn migrate(
    c: &reqwest::Client,
    sim: &RunningSim,
    b: &MigrateCorrespondenceExt,
) -> MigrateCorrespondenceResponse {
    let r = post_json(c, &url(sim, "correspondence"), b).await;
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

async fn upload(c: &reqwest::Client, sim: &RunningSim, a2: &str, bytes: &'static [u8]) -> reqwest::Response {
    let q = [
        ("resourceId", "res"),
        ("sendersReference", "ref"),
        ("altinn2AttachmentId", a2),
        ("fileName", "f.pdf"),
    ];
    c.post(url(sim, "attachment")).bearer_auth(TOKEN).query(&q).body(bytes).send().await.unwrap()
}

#[tokio::test]
async fn migrate_twice_gives_the_same_id_and_merges_only_new_events() {
    let (sim, c) = start(Faults::default()).await;
    let first = migrate(&c, &sim, &body(1, vec![])).await;
    assert_eq!(first.attachment_statuses, Some(vec![]));
    let mut again = body(1, vec![]);
    again.correspondence_data.correspondence.content.message_title = "Changed".into();
    again.event_history.push(status(CorrespondenceStatus::Read, "2024-02-01T10:00:00Z"));
    let second = migrate(&c, &sim, &again).await;
    assert_eq!(second.correspondence_id, first.correspondence_id);
    assert_eq!((second.attachment_statuses, second.dialog_id), (None, None));
    let inv = sim.sim.inventory();
    assert_eq!((inv.correspondences, inv.remigrations, inv.events.status), (1, 1, 2));
    assert_eq!(inv.duplicate_events_received, 1);
    assert_eq!(inv.duplicates_stored, 0);
    let item = sim.sim.item(1).unwrap();
    assert!(item.is_migrating);
    assert_eq!(item.correspondence_id.get_version_num(), 7);
    sim.stop().await;
}

#[tokio::test]
async fn attachments_are_idempotent_by_a2_id() {
    let (sim, c) = start(Faults::default()).await;
    let a: Uuid = upload(&c, &sim, "A-1", b"pdf").await.json().await.unwrap();
    let b: Uuid = upload(&c, &sim, "A-1", b"other").await.json().await.unwrap();
    let other: Uuid = upload(&c, &sim, "A-2", b"pdf").await.json().await.unwrap();
    assert_eq!(a, b);
    assert_ne!(a, other);
    assert_eq!(upload(&c, &sim, "A-3", b"").await.status(), StatusCode::BAD_REQUEST);
    let lower = [("resourceid", "res"), ("SENDERSREFERENCE", "ref"), ("altinn2attachmentid", "A-1")];
    let r = c.post(url(&sim, "attachment")).bearer_auth(TOKEN).query(&lower).body("x").send().await.unwrap();
    assert_eq!(r.json::<Uuid>().await.unwrap(), a);
    let missing = [("resourceId", "res"), ("sendersReference", "ref")];
    let r =
        c.post(url(&sim, "attachment")).bearer_auth(TOKEN).query(&missing).body("x").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let m = migrate(&c, &sim, &body(5, vec![a, other])).await;
    assert_eq!(m.attachment_statuses.unwrap().len(), 2);
    assert_eq!(sim.sim.inventory().attachments, 2);
    sim.stop().await;
}

#[tokio::test]
async fn long_title_is_a_400_with_problem_details() {
    let (sim, c) = start(Faults::default()).await;
    let mut b = body(2, vec![]);
    b.correspondence_data.correspondence.content.message_title = "x".repeat(256);
    let r = post_json(&c, &url(&sim, "correspondence"), &b).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(r.headers()[reqwest::header::CONTENT_TYPE], "application/problem+json");
    let p: ProblemDetails = r.json().await.unwrap();
    assert_eq!(p.status, Some(400));
    assert!(p.errors.keys().any(|k| k.ends_with("MessageTitle")), "{p:?}");
    assert_eq!(sim.sim.inventory().correspondences, 0);
    sim.stop().await;
}

#[tokio::test]
async fn no_or_wrong_token_is_401() {
    let (sim, c) = start(Faults::default()).await;
    let r = c.post(url(&sim, "correspondence")).json(&body(3, vec![])).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r =
        c.post(url(&sim, "correspondence")).bearer_auth("wrong").json(&body(3, vec![])).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let text = r.text().await.unwrap();
    assert!(!text.contains(TOKEN));
    assert!(serde_json::from_str::<ProblemDetails>(&text).is_ok());
    assert_eq!(sim.sim.inventory().correspondences, 0);
    sim.stop().await;
}

#[tokio::test]
async fn sync_on_unknown_id_is_404_and_empty_list_is_400() {
    let (sim, c) = start(Faults::default()).await;
    let req = SyncStatusEventRequest {
        correspondence_id: Uuid::now_v7(),
        synced_status_events: vec![status(CorrespondenceStatus::Read, "2024-03-01T10:00:00Z")],
    };
    let r = post_json(&c, &url(&sim, "correspondence/syncStatusEvent"), &req).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let empty = SyncStatusEventRequest { synced_status_events: vec![], ..req };
    let r = post_json(&c, &url(&sim, "correspondence/syncStatusEvent"), &empty).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(sim.sim.inventory().violations.len(), 1);
    sim.stop().await;
}

#[tokio::test]
async fn events_dedup_to_the_second() {
    let (sim, c) = start(Faults::default()).await;
    let m = migrate(&c, &sim, &body(4, vec![])).await;
    let req = SyncStatusEventRequest {
        correspondence_id: m.correspondence_id,
        synced_status_events: vec![
            status(CorrespondenceStatus::Read, "2024-03-01T10:00:00.000001Z"),
            status(CorrespondenceStatus::Read, "2024-03-01T10:00:00.000002Z"),
            status(CorrespondenceStatus::Fetched, "2024-03-01T09:00:00Z"),
        ],
    };
    let r = post_json(&c, &url(&sim, "correspondence/syncStatusEvent"), &req).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Uuid>().await.unwrap(), m.correspondence_id);
    let r = post_json(&c, &url(&sim, "correspondence/syncStatusEvent"), &req).await;
    assert_eq!(r.status(), StatusCode::OK, "a request of only duplicates is still 200");
    let item = sim.sim.item(4).unwrap();
    let read: Vec<_> = item.status_events.iter().filter(|e| e.status == CorrespondenceStatus::Read).collect();
    assert_eq!(read.len(), 1);
    assert_eq!(item.status_events.len(), 2, "Fetched is not syncable");
    let inv = sim.sim.inventory();
    assert_eq!((inv.duplicate_events_received, inv.ignored_status_events, inv.duplicates_stored), (3, 2, 0));
    sim.stop().await;
}

#[tokio::test]
async fn make_available_partly_fails_and_is_idempotent() {
    let (sim, c) = start(Faults::default()).await;
    let m = migrate(&c, &sim, &body(6, vec![])).await;
    let unknown = Uuid::now_v7();
    let req = MakeAvailableRequest {
        correspondence_ids: Some(vec![m.correspondence_id, unknown]),
        ..MakeAvailableRequest::default()
    };
    let url = url(&sim, "makemigratedcorrespondenceavailable");
    let r: MakeAvailableResponse = post_json(&c, &url, &req).await.json().await.unwrap();
    assert_eq!(r.statuses.len(), 2);
    assert!(r.statuses[0].ok && r.statuses[0].dialog_id.is_some());
    assert!(!r.statuses[1].ok && r.statuses[1].error.as_deref() == Some("not found"));
    let again: MakeAvailableResponse = post_json(&c, &url, &req).await.json().await.unwrap();
    assert_eq!(again.statuses[0].dialog_id, r.statuses[0].dialog_id);
    let inv = sim.sim.inventory();
    assert_eq!((inv.dialogs, inv.made_available_order.clone()), (1, vec![6]));
    assert!(!inv.items[0].is_migrating);
    sim.stop().await;
}

#[tokio::test]
async fn make_available_batch_is_newest_first_and_needs_created_to() {
    let (sim, c) = start(Faults::default()).await;
    for a2 in [10, 12, 11, 13] {
        migrate(&c, &sim, &body(a2, vec![])).await;
    }
    let url = url(&sim, "makemigratedcorrespondenceavailable");
    let r = post_json(&c, &url, &json!({"batchSize": 10})).await;
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let req =
        json!({"batchSize": 2, "createdFrom": "2024-01-01T00:00:00Z", "createdTo": "2024-01-13T00:00:00Z"});
    let r: MakeAvailableResponse = post_json(&c, &url, &req).await.json().await.unwrap();
    assert_eq!(r.statuses.len(), 2);
    let inv = sim.sim.inventory();
    assert_eq!(inv.made_available_order, vec![11, 10], "13 and 12 are after createdTo");
    assert_eq!(inv.violations.len(), 1);
    sim.stop().await;
}

#[tokio::test]
async fn traps_answer_500_and_record_violations() {
    let (sim, c) = start(Faults::default()).await;
    let mut b = body(7, vec![]);
    b.correspondence_data.recipients.clear();
    let r = post_json(&c, &url(&sim, "correspondence"), &b).await;
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let mut v = serde_json::to_value(body(8, vec![Uuid::now_v7()])).unwrap();
    let r = post_json(&c, &url(&sim, "correspondence"), &v).await;
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR, "unknown attachment");
    v["correspondenceData"]["existingAttachments"] = json!([]);
    v["correspondenceData"]["correspondence"]["requestedPublishTime"] = Value::Null;
    let r = post_json(&c, &url(&sim, "correspondence"), &v).await;
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR, "null requestedPublishTime");
    v["correspondenceData"]["correspondence"]["requestedPublishTime"] = json!("2024-01-01T00:00:00Z");
    v.as_object_mut().unwrap().remove("IsMigrating");
    let r = post_json(&c, &url(&sim, "correspondence"), &v).await;
    assert_eq!(r.status(), StatusCode::OK, "IsMigrating missing: 200, but a violation");
    let inv = sim.sim.inventory();
    assert_eq!(inv.correspondences, 1);
    assert_eq!(inv.violations.len(), 4, "{:?}", inv.violations);
    assert!(inv.violations[0].contains("A2 7") && inv.violations[0].contains("recipients"));
    assert!(!sim.sim.item(8).unwrap().is_migrating);
    sim.stop().await;
}

#[tokio::test]
async fn dropped_connections_are_transport_errors_and_half_are_processed() {
    let (sim, c) = start(Faults { drop_rate: 1.0, ..Faults::default() }).await;
    for a2 in ["D-1", "D-2"] {
        let q = [("resourceId", "res"), ("sendersReference", "ref"), ("altinn2AttachmentId", a2)];
        let sent = c.post(url(&sim, "attachment")).bearer_auth(TOKEN).query(&q).body("x").send().await;
        let result = match sent {
            Ok(r) => r.bytes().await.map(|_| ()),
            Err(e) => Err(e),
        };
        assert!(result.is_err(), "a dropped connection must fail the call");
    }
    let inv = sim.sim.inventory();
    assert_eq!((inv.faults_injected.drop_before, inv.faults_injected.drop_after), (1, 1));
    assert_eq!(inv.attachments, 1, "the drop after processing stored it");
    sim.stop().await;
}

#[tokio::test]
async fn rate_429_carries_retry_after() {
    let faults = Faults { rate_429: 1.0, retry_after: Duration::from_millis(1500), ..Faults::default() };
    let (sim, c) = start(faults).await;
    let r = post_json(&c, &url(&sim, "correspondence"), &body(9, vec![])).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers()[reqwest::header::RETRY_AFTER], "2");
    let inv = sim.sim.inventory();
    assert_eq!((inv.correspondences, inv.faults_injected.rate_429), (0, 1));
    sim.stop().await;
}

#[tokio::test]
async fn calls_per_second_are_counted_and_inventory_is_served() {
    let (sim, c) = start(Faults::default()).await;
    let calls = (0..5).map(|i| upload(&c, &sim, if i % 2 == 0 { "R-1" } else { "R-2" }, b"x"));
    for r in futures::future::join_all(calls).await {
        assert_eq!(r.status(), StatusCode::OK);
    }
    let inv: Inventory =
        c.get(format!("{}/sim/inventory", sim.base_url)).send().await.unwrap().json().await.unwrap();
    assert_eq!(inv.calls["attachment"], 5);
    assert!(inv.max_calls_per_second["attachment"] >= 3, "5 calls span at most 2 seconds");
    assert_eq!(inv.calls["correspondence"], 0);
    assert_eq!(inv.attachments, 2);
    sim.stop().await;
}

#[tokio::test]
async fn reminder_and_forwarding_conflicts_are_traps() {
    let (sim, c) = start(Faults::default()).await;
    let fwd = ForwardingEvent {
        forwarded_on_date: at("2024-04-01T10:00:00.1Z"),
        forwarded_by_party_uuid: Uuid::nil(),
        forwarded_by_user_id: 1,
        forwarded_by_user_uuid: Uuid::nil(),
        forwarded_to_user_id: None,
        forwarded_to_user_uuid: None,
        forwarding_text: None,
        forwarded_to_email: None,
        mailbox_supplier: None,
    };
    let mut b = body(20, vec![]);
    b.forwarding_history = vec![fwd.clone(), ForwardingEvent { forwarded_by_user_id: 2, ..fwd.clone() }];
    let r = post_json(&c, &url(&sim, "correspondence"), &b).await;
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    b.forwarding_history = vec![fwd];
    let m = migrate(&c, &sim, &b).await;
    let n = NotificationEvent {
        notification_channel: NotificationChannel::Email,
        notification_sent: at("2024-04-01T10:00:00Z"),
        altinn2_notification_id: 77,
        notification_address: "a@example.no".into(),
        is_reminder: false,
    };
    let req = SyncNotificationEventRequest {
        correspondence_id: m.correspondence_id,
        synced_notification_events: vec![n.clone(), NotificationEvent { is_reminder: true, ..n.clone() }],
    };
    let r = post_json(&c, &url(&sim, "correspondence/syncNotificationEvent"), &req).await;
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let ok = SyncNotificationEventRequest { synced_notification_events: vec![n.clone(), n], ..req };
    let r = post_json(&c, &url(&sim, "correspondence/syncNotificationEvent"), &ok).await;
    assert_eq!(r.status(), StatusCode::OK);
    let inv = sim.sim.inventory();
    assert_eq!(inv.violations.len(), 2, "{:?}", inv.violations);
    assert!(inv.violations[1].contains("A2 20"), "{:?}", inv.violations);
    assert_eq!((inv.events.forwarding, inv.events.notification), (1, 1));
    sim.stop().await;
}
