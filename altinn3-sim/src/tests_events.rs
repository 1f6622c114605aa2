//! Tests of remigration, make-available, the sync endpoints, event dedup and fault injection.

use crate::tests::{BASE, PARTY, TOKEN, call, migrate_body, post, sim};
use crate::{Faults, SimConfig, Simulator, keys, timestamp};
use axum::http::StatusCode;
use serde_json::{Value, json};

async fn migrated(s: &Simulator, a2: i64) -> String {
    let (st, v) = post(s, "correspondence", &migrate_body(a2)).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    v["correspondenceId"].as_str().unwrap().to_string()
}

fn status_event(status: &str, at: &str) -> Value {
    json!({ "status": status, "statusText": "", "statusChanged": at, "eventUserPartyUuid": PARTY })
}

#[tokio::test]
async fn remigration_answers_same_id_without_attachments_or_dialog() {
    let s = sim();
    let mut b = migrate_body(40);
    b["makeAvailable"] = json!(true);
    let (st, first) = post(&s, "correspondence", &b).await;
    assert_eq!(st, StatusCode::OK);
    // makeAvailable on the first migration: the dialog is made by a background job; dialogId is "".
    assert_eq!(first["dialogId"], "");
    let item = s.item(40).unwrap();
    assert!(item.dialog_id.is_some() && !item.is_migrating);
    // Remigration: same id, attachmentStatuses null, dialogId null; only new events stored.
    b["eventHistory"].as_array_mut().unwrap().push(status_event("Read", "2024-01-07T10:00:00.5Z"));
    b["eventHistory"].as_array_mut().unwrap().push(status_event("Published", "2024-01-06T00:00:00.7Z"));
    let (st, again) = post(&s, "correspondence", &b).await;
    assert_eq!(st, StatusCode::OK, "{again}");
    assert_eq!(again["correspondenceId"], first["correspondenceId"]);
    assert_eq!(again["attachmentStatuses"], Value::Null);
    assert_eq!(again["dialogId"], Value::Null);
    let item = s.item(40).unwrap();
    assert_eq!(item.statuses.len(), 3, "{:?}", item.statuses);
    assert_eq!(item.statuses[2].status_text, "Remigrate event Read from Altinn 2");
    let inv = s.inventory();
    assert_eq!(inv.remigrations, 1);
    // One Published twin dropped within the request; Initialized and Published already stored.
    assert_eq!(inv.duplicate_events_received, 3);
    assert_eq!(inv.made_available_order, vec![40]);
    assert_eq!(inv.duplicates_stored, 0);
    // PostgreSQL checks NOT NULL before the unique index: a remigration without sender is a 500.
    b["correspondenceData"]["correspondence"].as_object_mut().unwrap().remove("sender");
    let (st, v) = post(&s, "correspondence", &b).await;
    assert_eq!(st, StatusCode::INTERNAL_SERVER_ERROR, "{v}");
    assert_eq!(s.inventory().remigrations, 1);
}

#[tokio::test]
async fn make_available_is_idempotent_and_reports_per_id() {
    let s = sim();
    let c1 = migrated(&s, 50).await;
    let c2 = migrated(&s, 51).await;
    let unknown = uuid::Uuid::nil().to_string();
    let (st, v) =
        post(&s, "makemigratedcorrespondenceavailable", &json!({ "correspondenceIds": [c2, unknown] })).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let st2 = &v["statuses"];
    assert_eq!(st2[0]["correspondenceId"], json!(c2));
    assert_eq!(st2[0]["ok"], true);
    assert_eq!(st2[1]["ok"], false);
    assert!(st2[1]["error"].as_str().unwrap().contains("not found"));
    let dialog = st2[0]["dialogId"].clone();
    // correspondenceId wins over correspondenceIds; a second call answers the same dialog.
    let (_, v) = post(
        &s,
        "makemigratedcorrespondenceavailable",
        &json!({ "correspondenceId": c2, "correspondenceIds": [c1] }),
    )
    .await;
    assert_eq!(v["statuses"].as_array().unwrap().len(), 1);
    assert_eq!(v["statuses"][0]["dialogId"], dialog);
    assert!(s.item(50).unwrap().is_migrating);
    // Batch without createdTo throws; with it, the newest migrating candidates.
    let (st, _) = post(&s, "makemigratedcorrespondenceavailable", &json!({ "batchSize": 5 })).await;
    assert_eq!(st, StatusCode::INTERNAL_SERVER_ERROR);
    let (_, v) = post(
        &s,
        "makemigratedcorrespondenceavailable",
        &json!({ "batchSize": 5, "createdTo": "2030-01-01T00:00:00Z" }),
    )
    .await;
    assert_eq!(v["statuses"][0]["correspondenceId"], json!(c1));
    let (_, v) = post(&s, "makemigratedcorrespondenceavailable", &json!({})).await;
    assert_eq!(v, json!({ "statuses": [] }));
    let inv = s.inventory();
    assert_eq!(inv.made_available_order, vec![51, 50]);
    assert_eq!(inv.dialogs, 2);
}

#[tokio::test]
async fn sync_of_an_unknown_correspondence_is_404() {
    let s = sim();
    let body = json!({ "correspondenceId": uuid::Uuid::nil(), "syncedStatusEvents": [status_event("Read", "2024-01-07T10:00:00Z")] });
    let (st, v) = post(&s, "correspondence/syncStatusEvent", &body).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert_eq!(v["code"], "CORR-01001");
    assert_eq!(v["errorCode"], 1001);
    assert_eq!(v["detail"], "The requested correspondence was not found");
    let (st, v) = post(
        &s,
        "correspondence/syncStatusEvent",
        &json!({ "correspondenceId": uuid::Uuid::nil(), "syncedStatusEvents": [] }),
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_eq!(v["errors"]["SyncedEvents"][0], "At least one status event is required.");
}

#[tokio::test]
async fn status_sync_dedups_to_the_second_and_ignores_other_statuses() {
    let s = sim();
    let id = migrated(&s, 60).await;
    let body = json!({ "correspondenceId": id, "syncedStatusEvents": [
        status_event("Read", "2024-01-07T10:00:00.100Z"),
        status_event("Read", "2024-01-07T10:00:00.900Z"),
        status_event("Published", "2024-01-08T00:00:00Z"),
        status_event("SoftDeletedByRecipient", "2024-01-09T00:00:00Z"),
    ]});
    let (st, v) = post(&s, "correspondence/syncStatusEvent", &body).await;
    assert_eq!((st, v), (StatusCode::OK, json!(id)));
    let body = json!({ "correspondenceId": id, "syncedStatusEvents": [
        status_event("Read", "2024-01-07T10:00:00.500Z"),
        status_event("Read", "2024-01-07T10:00:01Z"),
    ]});
    post(&s, "correspondence/syncStatusEvent", &body).await;
    let item = s.item(60).unwrap();
    let reads: Vec<_> = item.statuses.iter().filter(|x| x.status == "Read").collect();
    assert_eq!(reads.len(), 2);
    assert_eq!(reads[0].status_changed, timestamp::parse("2024-01-07T10:00:00.1Z").unwrap());
    assert_eq!(reads[0].status_text, "Sync event Read from Altinn 2");
    assert_eq!(
        reads[0].key,
        keys::status("Read", timestamp::parse("2024-01-07T10:00:00Z").unwrap(), PARTY.parse().unwrap())
    );
    assert_eq!(item.delete_events.len(), 1);
    assert_eq!(item.delete_events[0].event_type, "SoftDeletedByRecipient");
    let inv = s.inventory();
    assert_eq!(inv.ignored_status_events, 1);
    assert_eq!(inv.duplicate_events_received, 2);
    assert_eq!(inv.events.status, 4);
}

#[tokio::test]
async fn notification_and_forwarding_sync_lose_same_instant_events_silently() {
    let s = sim();
    let id = migrated(&s, 70).await;
    let n = |reminder: bool, at: &str| json!({ "notificationChannel": "Email", "notificationSent": at, "altinn2NotificationId": 1, "notificationAddress": "a@b.no", "isReminder": reminder });
    let body = json!({ "correspondenceId": id, "syncedNotificationEvents": [n(false, "2024-01-04T00:00:00Z"), n(true, "2024-01-04T00:00:00Z")] });
    let (st, _) = post(&s, "correspondence/syncNotificationEvent", &body).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(s.item(70).unwrap().notifications.len(), 1);
    assert!(s.inventory().violations.iter().any(|v| v.contains("IX_CorrespondenceNotifications_Synced")));
    // Later the same notification (to the second) is a duplicate; IsReminder is not compared.
    let body =
        json!({ "correspondenceId": id, "syncedNotificationEvents": [n(true, "2024-01-04T00:00:00.4Z")] });
    post(&s, "correspondence/syncNotificationEvent", &body).await;
    assert_eq!(s.item(70).unwrap().notifications.len(), 1);
    let f = |to: i32, at: &str| json!({ "forwardedOnDate": at, "forwardedByPartyUuid": PARTY, "forwardedToUserId": to });
    let body = json!({ "correspondenceId": id, "syncedForwardingEvents": [f(1, "2024-01-06T11:00:00Z"), f(2, "2024-01-06T11:00:00Z"), f(3, "2024-01-06T11:00:05Z")] });
    let (st, _) = post(&s, "correspondence/syncForwardingEvent", &body).await;
    assert_eq!(st, StatusCode::OK);
    let item = s.item(70).unwrap();
    assert_eq!(item.forwardings.len(), 2);
    assert_eq!(
        item.forwardings[0].key,
        keys::forwarding(timestamp::parse("2024-01-06T11:00:00Z").unwrap(), PARTY.parse().unwrap())
    );
    let (st, v) = post(&s, "correspondence/syncForwardingEvent", &json!({ "correspondenceId": id, "syncedForwardingEvents": [{ "forwardedOnDate": "2024-01-06T11:00:00Z" }] })).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(
        v["errors"]["$.syncedForwardingEvents[0]"][0].as_str().unwrap().contains("forwardedByPartyUuid"),
        "{v}"
    );
}

#[tokio::test]
async fn migrate_keeps_sub_second_twins_that_differ_in_is_reminder() {
    let s = sim();
    let mut b = migrate_body(80);
    let n = |reminder: bool, at: &str| json!({ "notificationChannel": 0, "notificationSent": at, "altinn2NotificationId": 1, "notificationAddress": "a@b.no", "isReminder": reminder });
    b["notificationHistory"] = json!([n(false, "2024-01-04T00:00:00.1Z"), n(true, "2024-01-04T00:00:00.2Z")]);
    let (st, _) = post(&s, "correspondence", &b).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(s.inventory().duplicates_stored, 1);
    // The same at the same instant breaks the unique index inside CreateCorrespondence → A3 takes it
    // for a remigration, finds no correspondence and answers 500.
    let mut b = migrate_body(81);
    b["notificationHistory"] = json!([n(false, "2024-01-04T00:00:00Z"), n(true, "2024-01-04T00:00:00Z")]);
    let (st, v) = post(&s, "correspondence", &b).await;
    assert_eq!(st, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(v["detail"].as_str().unwrap().contains("Sequence contains no elements"));
}

#[tokio::test]
async fn inventory_is_served_without_auth() {
    let s = sim();
    migrated(&s, 90).await;
    let (st, v, _) = call(&s, "GET", "/sim/inventory", None, None, vec![]).await;
    assert_eq!(st, StatusCode::OK);
    let inv: crate::Inventory = serde_json::from_value(v).unwrap();
    assert_eq!(inv.correspondences, 1);
    assert_eq!(inv.responses["correspondence 200"], 1);
}

#[tokio::test]
async fn faults_503_and_dropped_connections() {
    let s = Simulator::new(SimConfig {
        token: TOKEN.into(),
        seed: 3,
        faults: Faults { error_5xx_rate: 1.0, ..Faults::default() },
        dialog_job: crate::DialogJob::default(),
    });
    let (st, _) = post(&s, "correspondence", &migrate_body(1)).await;
    assert_eq!(st, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(s.inventory().faults_injected.error_5xx, 1);
    // Drops: the client gets no answer; every second drop happens after the data was stored.
    let cfg = SimConfig {
        token: TOKEN.into(),
        seed: 3,
        faults: Faults { drop_rate: 1.0, ..Faults::default() },
        dialog_job: crate::DialogJob::default(),
    };
    let run = Simulator::start(cfg, "127.0.0.1:0".parse().unwrap()).await.unwrap();
    for a2 in [1, 2] {
        let body = migrate_body(a2).to_string();
        let req = format!(
            "POST {BASE}/correspondence HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let mut sock = tokio::net::TcpStream::connect(run.addr).await.unwrap();
        tokio::io::AsyncWriteExt::write_all(&mut sock, req.as_bytes()).await.unwrap();
        let mut got = Vec::new();
        let _ = tokio::io::AsyncReadExt::read_to_end(&mut sock, &mut got).await;
        let text = String::from_utf8_lossy(&got);
        assert!(
            !text.contains("HTTP/1.1 200") || !text.contains("correspondenceId"),
            "a dropped call must not deliver its answer: {text}"
        );
    }
    let inv = run.sim.inventory();
    assert_eq!(inv.faults_injected.drop_before, 1);
    assert_eq!(inv.faults_injected.drop_after, 1);
    assert_eq!(inv.correspondences, 1);
    run.stop().await;
}
