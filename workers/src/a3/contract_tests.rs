//! Contract round-trip tests: JSON bodies written by hand from the A3 migration API contract
//! (DOMAIN.md, "The A3 migration API") must deserialize into `model.rs` and serialize back to the
//! same JSON (field names, `IsMigrating` capitalisation, enums as strings, numbers accepted on input).

use super::model::*;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::fmt::Debug;
use uuid::Uuid;

fn ts(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn id(s: &str) -> Uuid {
    s.parse().unwrap()
}

/// Deserializes the hand-written `json` into `T`, serializes it back and requires the same JSON
/// value; also requires the serialized form to deserialize to the same model.
fn round_trip<T: Serialize + DeserializeOwned + PartialEq + Debug>(json: &str) -> T {
    let hand: Value = serde_json::from_str(json).unwrap();
    let model: T = serde_json::from_str(json).unwrap();
    let back = serde_json::to_value(&model).unwrap();
    assert_eq!(
        back,
        hand,
        "serialized model differs from the hand-written contract body:\n{}",
        serde_json::to_string_pretty(&back).unwrap()
    );
    let again: T = serde_json::from_value(back).unwrap();
    assert_eq!(again, model);
    model
}

const MIGRATE_FULL: &str = r#"{
  "correspondenceData": {
    "correspondence": {
      "resourceId": "skd-migratedcorrespondence-1234-1",
      "sendersReference": "SR-2024-0001",
      "messageSender": "Skatteetaten",
      "sender": "urn:altinn:organization:identifier-no:974761076",
      "content": {
        "language": "nb",
        "messageTitle": "Skattemelding 2023",
        "messageSummary": "Din skattemelding er klar",
        "messageBody": "Logg inn for å se skattemeldingen din."
      },
      "requestedPublishTime": "2024-03-01T10:00:00Z",
      "dueDateTime": "2024-04-30T22:00:00Z",
      "externalReferences": [
        { "referenceValue": "ARK-42", "referenceType": "Generic" }
      ],
      "propertyList": { "a2ServiceCode": "4614", "a2ServiceEdition": "1" },
      "replyOptions": [
        { "linkUrl": "https://www.skatteetaten.no/svar", "linkText": "Svar her" }
      ],
      "isConfirmationNeeded": true,
      "isConfidential": false
    },
    "recipients": ["urn:altinn:person:identifier-no:01017012345"],
    "existingAttachments": [
      "3f2504e0-4f89-11d3-9a0c-0305e82c3301",
      "0191f5a6-7b1c-7e3a-9d2f-4a5b6c7d8e9f"
    ],
    "published": "2024-03-01T10:00:05Z"
  },
  "altinn2CorrespondenceId": 123456789,
  "created": "2024-03-01T09:59:00Z",
  "partyId": 50001234,
  "IsMigrating": true,
  "makeAvailable": false,
  "eventHistory": [
    {
      "status": "Published",
      "statusText": "Published in Altinn 2",
      "statusChanged": "2024-03-01T10:00:05Z",
      "eventUserPartyUuid": "a1b2c3d4-e5f6-4789-8abc-def012345678"
    },
    {
      "status": "Read",
      "statusText": "",
      "statusChanged": "2024-03-02T08:15:30Z",
      "eventUserUuid": "11111111-2222-4333-8444-555555555555",
      "eventUserPartyUuid": "a1b2c3d4-e5f6-4789-8abc-def012345678"
    },
    {
      "status": "SoftDeletedByRecipient",
      "statusText": "Moved to the bin",
      "statusChanged": "2024-03-05T12:00:00Z",
      "eventUserUuid": "11111111-2222-4333-8444-555555555555",
      "eventUserPartyUuid": "a1b2c3d4-e5f6-4789-8abc-def012345678"
    }
  ],
  "notificationHistory": [
    {
      "notificationChannel": "Email",
      "notificationSent": "2024-03-01T10:01:00Z",
      "altinn2NotificationId": 777001,
      "notificationAddress": "ola.nordmann@example.no",
      "isReminder": false
    },
    {
      "notificationChannel": "Sms",
      "notificationSent": "2024-03-08T10:01:00Z",
      "altinn2NotificationId": 777002,
      "notificationAddress": "+4799999999",
      "isReminder": true
    }
  ],
  "forwardingHistory": [
    {
      "forwardedOnDate": "2024-03-03T14:00:00Z",
      "forwardedByPartyUuid": "a1b2c3d4-e5f6-4789-8abc-def012345678",
      "forwardedByUserId": 1001,
      "forwardedByUserUuid": "11111111-2222-4333-8444-555555555555",
      "forwardedToUserId": 1002,
      "forwardedToUserUuid": "66666666-7777-4888-9999-aaaaaaaaaaaa",
      "forwardingText": "Kan du se på denne?",
      "forwardedToEmail": "kari@example.no",
      "mailboxSupplier": "urn:altinn:organization:identifier-no:987654321"
    },
    {
      "forwardedOnDate": "2024-03-04T09:30:00Z",
      "forwardedByPartyUuid": "a1b2c3d4-e5f6-4789-8abc-def012345678",
      "forwardedByUserId": 1001,
      "forwardedByUserUuid": "11111111-2222-4333-8444-555555555555"
    }
  ]
}"#;

#[test]
fn migrate_correspondence_full_body_round_trips() {
    let m: MigrateCorrespondenceExt = round_trip(MIGRATE_FULL);
    assert_eq!(m.altinn2_correspondence_id, 123_456_789);
    assert_eq!(m.party_id, 50_001_234);
    assert_eq!(m.created, ts("2024-03-01T09:59:00Z"));
    assert!(m.is_migrating);
    assert!(!m.make_available);

    let data = &m.correspondence_data;
    assert_eq!(data.recipients, ["urn:altinn:person:identifier-no:01017012345"]);
    assert_eq!(
        data.existing_attachments,
        [id("3f2504e0-4f89-11d3-9a0c-0305e82c3301"), id("0191f5a6-7b1c-7e3a-9d2f-4a5b6c7d8e9f")]
    );
    assert_eq!(data.published, Some(ts("2024-03-01T10:00:05Z")));

    let c = &data.correspondence;
    assert_eq!(c.resource_id, "skd-migratedcorrespondence-1234-1");
    assert_eq!(c.senders_reference, "SR-2024-0001");
    assert_eq!(c.requested_publish_time, ts("2024-03-01T10:00:00Z"));
    assert_eq!(c.due_date_time, Some(ts("2024-04-30T22:00:00Z")));
    assert_eq!(c.content.language, "nb");
    assert_eq!(c.content.message_title, "Skattemelding 2023");
    assert_eq!(c.property_list["a2ServiceCode"], "4614");
    assert_eq!(c.reply_options[0].link_text.as_deref(), Some("Svar her"));
    assert!(c.is_confirmation_needed);
    assert!(!c.is_confidential);

    assert_eq!(m.event_history.len(), 3);
    assert_eq!(m.event_history[0].status, CorrespondenceStatus::Published);
    assert_eq!(m.event_history[0].event_user_uuid, None);
    assert_eq!(m.event_history[1].status, CorrespondenceStatus::Read);
    assert_eq!(m.event_history[1].event_user_uuid, Some(id("11111111-2222-4333-8444-555555555555")));
    assert_eq!(m.event_history[2].status, CorrespondenceStatus::SoftDeletedByRecipient);

    assert_eq!(m.notification_history[0].notification_channel, NotificationChannel::Email);
    assert_eq!(m.notification_history[1].notification_channel, NotificationChannel::Sms);
    assert_eq!(m.notification_history[1].altinn2_notification_id, 777_002);
    assert!(m.notification_history[1].is_reminder);

    let f = &m.forwarding_history;
    assert_eq!(f[0].forwarded_to_user_id, Some(1002));
    assert_eq!(f[0].forwarded_to_email.as_deref(), Some("kari@example.no"));
    assert_eq!(f[1].forwarded_to_user_uuid, None);
    assert_eq!(f[1].forwarding_text, None);
}

#[test]
fn is_migrating_is_emitted_with_capital_i() {
    let m: MigrateCorrespondenceExt = serde_json::from_str(MIGRATE_FULL).unwrap();
    let v = serde_json::to_value(&m).unwrap();
    let obj = v.as_object().unwrap();
    assert_eq!(obj.get("IsMigrating"), Some(&Value::Bool(true)));
    assert!(!obj.contains_key("isMigrating"));
    let text = serde_json::to_string(&m).unwrap();
    assert!(text.contains(r#""IsMigrating":true"#), "{text}");
}

#[test]
fn make_available_and_histories_default_when_absent() {
    let json = r#"{
      "correspondenceData": {
        "correspondence": {
          "resourceId": "skd-migratedcorrespondence-1234-1",
          "sendersReference": "SR-2024-0002",
          "sender": "urn:altinn:organization:identifier-no:974761076",
          "content": {
            "language": "en",
            "messageTitle": "Title",
            "messageSummary": "",
            "messageBody": "Body"
          },
          "requestedPublishTime": "2024-03-01T10:00:00Z"
        },
        "recipients": ["urn:altinn:organization:identifier-no:991825827"]
      },
      "altinn2CorrespondenceId": 42,
      "created": "2024-03-01T10:00:00Z",
      "partyId": 50005678,
      "IsMigrating": true
    }"#;
    let m: MigrateCorrespondenceExt = serde_json::from_str(json).unwrap();
    assert!(!m.make_available);
    assert!(m.event_history.is_empty());
    assert!(m.notification_history.is_empty());
    assert!(m.forwarding_history.is_empty());
    assert!(m.correspondence_data.existing_attachments.is_empty());
    assert_eq!(m.correspondence_data.published, None);
    assert_eq!(m.correspondence_data.correspondence.content.message_summary, "");

    // On output `makeAvailable` is always written, as false.
    let v = serde_json::to_value(&m).unwrap();
    assert_eq!(v["makeAvailable"], Value::Bool(false));
    assert_eq!(v["IsMigrating"], Value::Bool(true));
}

#[test]
fn migrate_response_first_migration_round_trips() {
    let json = r#"{
      "altinn2CorrespondenceId": 123456789,
      "correspondenceId": "0191f5a6-0000-7e3a-9d2f-4a5b6c7d8e9f",
      "attachmentStatuses": [
        { "attachmentId": "3f2504e0-4f89-11d3-9a0c-0305e82c3301", "status": "Published" },
        { "attachmentId": "0191f5a6-7b1c-7e3a-9d2f-4a5b6c7d8e9f", "status": "Published" }
      ],
      "dialogId": null
    }"#;
    let r: MigrateCorrespondenceResponse = round_trip(json);
    assert_eq!(r.altinn2_correspondence_id, 123_456_789);
    assert_eq!(r.correspondence_id, id("0191f5a6-0000-7e3a-9d2f-4a5b6c7d8e9f"));
    let statuses = r.attachment_statuses.unwrap();
    assert_eq!(statuses.len(), 2);
    assert_eq!(statuses[0].attachment_id, id("3f2504e0-4f89-11d3-9a0c-0305e82c3301"));
    assert_eq!(statuses[0].status, "Published");
    assert_eq!(r.dialog_id, None);
}

#[test]
fn migrate_response_made_available_round_trips() {
    let json = r#"{
      "altinn2CorrespondenceId": 7,
      "correspondenceId": "0191f5a6-0000-7e3a-9d2f-4a5b6c7d8e9f",
      "attachmentStatuses": [],
      "dialogId": "0191f5a6-1111-7e3a-9d2f-4a5b6c7d8e9f"
    }"#;
    let r: MigrateCorrespondenceResponse = round_trip(json);
    assert_eq!(r.attachment_statuses, Some(vec![]));
    assert_eq!(r.dialog_id, Some(id("0191f5a6-1111-7e3a-9d2f-4a5b6c7d8e9f")));
}

#[test]
fn migrate_response_remigration_round_trips() {
    let json = r#"{
      "altinn2CorrespondenceId": 123456789,
      "correspondenceId": "0191f5a6-0000-7e3a-9d2f-4a5b6c7d8e9f",
      "attachmentStatuses": null,
      "dialogId": null
    }"#;
    let r: MigrateCorrespondenceResponse = round_trip(json);
    assert_eq!(r.correspondence_id, id("0191f5a6-0000-7e3a-9d2f-4a5b6c7d8e9f"));
    assert_eq!(r.attachment_statuses, None);
    assert_eq!(r.dialog_id, None);

    // Absent instead of null is accepted too.
    let bare = r#"{
      "altinn2CorrespondenceId": 123456789,
      "correspondenceId": "0191f5a6-0000-7e3a-9d2f-4a5b6c7d8e9f"
    }"#;
    let b: MigrateCorrespondenceResponse = serde_json::from_str(bare).unwrap();
    assert_eq!(b, r);
}

fn query_pairs(q: &AttachmentUploadQuery) -> (String, Vec<(String, String)>) {
    // reqwest is built with `rustls-no-provider`: a client needs a process-wide provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let req = reqwest::Client::new().post("http://x/attachment").query(q).build().unwrap();
    let url = req.url();
    let raw = url.query().unwrap_or_default().to_owned();
    let pairs = url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    (raw, pairs)
}

#[test]
fn attachment_upload_query_uses_contract_names() {
    let q = AttachmentUploadQuery {
        resource_id: "skd-migratedcorrespondence-1234-1".into(),
        sender_party_uuid: Some(id("a1b2c3d4-e5f6-4789-8abc-def012345678")),
        senders_reference: "SR-2024-0001".into(),
        file_name: "skattemelding.pdf".into(),
        display_name: Some("Skattemelding 2023".into()),
        is_encrypted: false,
        checksum: Some("1B2M2Y8AsgTpgAmY7PhCfg==".into()),
        altinn2_attachment_id: "555001".into(),
        created: Some(ts("2024-03-01T10:00:00Z")),
        altinn2_senders_reference: Some("A2-SR-1".into()),
    };
    let (raw, pairs) = query_pairs(&q);
    let expected: Vec<(String, String)> = [
        ("resourceId", "skd-migratedcorrespondence-1234-1"),
        ("senderPartyUuid", "a1b2c3d4-e5f6-4789-8abc-def012345678"),
        ("sendersReference", "SR-2024-0001"),
        ("fileName", "skattemelding.pdf"),
        ("displayName", "Skattemelding 2023"),
        ("isEncrypted", "false"),
        ("checksum", "1B2M2Y8AsgTpgAmY7PhCfg=="),
        ("altinn2AttachmentId", "555001"),
        ("created", "2024-03-01T10:00:00Z"),
        ("altinn2sendersReference", "A2-SR-1"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    assert_eq!(pairs, expected, "raw query: {raw}");

    // The raw names, exactly as the contract spells them.
    let names: Vec<&str> = raw.split('&').map(|kv| kv.split('=').next().unwrap()).collect();
    assert_eq!(
        names,
        [
            "resourceId",
            "senderPartyUuid",
            "sendersReference",
            "fileName",
            "displayName",
            "isEncrypted",
            "checksum",
            "altinn2AttachmentId",
            "created",
            "altinn2sendersReference"
        ]
    );
}

#[test]
fn attachment_upload_query_minimal_has_the_required_names() {
    let q = AttachmentUploadQuery {
        resource_id: "skd-migratedcorrespondence-1234-1".into(),
        sender_party_uuid: None,
        senders_reference: "SR-2024-0001".into(),
        file_name: "vedlegg.txt".into(),
        display_name: None,
        is_encrypted: true,
        checksum: None,
        altinn2_attachment_id: "555002".into(),
        created: None,
        altinn2_senders_reference: None,
    };
    let (raw, pairs) = query_pairs(&q);
    let names: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        ["resourceId", "sendersReference", "fileName", "isEncrypted", "altinn2AttachmentId"],
        "raw query: {raw}"
    );
    assert!(pairs.contains(&("isEncrypted".into(), "true".into())));
}

#[test]
fn make_available_single_id_round_trips() {
    let json = r#"{
      "correspondenceId": "0191f5a6-0000-7e3a-9d2f-4a5b6c7d8e9f",
      "createEvents": false
    }"#;
    let r: MakeAvailableRequest = round_trip(json);
    assert_eq!(r.correspondence_id, Some(id("0191f5a6-0000-7e3a-9d2f-4a5b6c7d8e9f")));
    assert_eq!(r.correspondence_ids, None);
    assert_eq!(r.batch_size, None);
    assert!(!r.create_events);

    // `createEvents` defaults to false when absent.
    let bare = r#"{ "correspondenceId": "0191f5a6-0000-7e3a-9d2f-4a5b6c7d8e9f" }"#;
    let b: MakeAvailableRequest = serde_json::from_str(bare).unwrap();
    assert_eq!(b, r);
}

#[test]
fn make_available_list_round_trips() {
    let json = r#"{
      "correspondenceIds": [
        "0191f5a6-0000-7e3a-9d2f-4a5b6c7d8e9f",
        "0191f5a6-0001-7e3a-9d2f-4a5b6c7d8e9f",
        "0191f5a6-0002-7e3a-9d2f-4a5b6c7d8e9f"
      ],
      "createEvents": false
    }"#;
    let r: MakeAvailableRequest = round_trip(json);
    assert_eq!(r.correspondence_id, None);
    let ids = r.correspondence_ids.unwrap();
    assert_eq!(ids.len(), 3);
    assert_eq!(ids[2], id("0191f5a6-0002-7e3a-9d2f-4a5b6c7d8e9f"));
}

#[test]
fn make_available_batch_round_trips() {
    let json = r#"{
      "batchSize": 500,
      "asyncProcessing": true,
      "createdFrom": "2024-01-01T00:00:00Z",
      "createdTo": "2024-03-01T10:00:00Z",
      "createEvents": false
    }"#;
    let r: MakeAvailableRequest = round_trip(json);
    assert_eq!(r.correspondence_id, None);
    assert_eq!(r.correspondence_ids, None);
    assert_eq!(r.batch_size, Some(500));
    assert_eq!(r.async_processing, Some(true));
    assert_eq!(r.created_from, Some(ts("2024-01-01T00:00:00Z")));
    assert_eq!(r.created_to, Some(ts("2024-03-01T10:00:00Z")));
    assert!(!r.create_events);
}

#[test]
fn make_available_response_partly_failed_round_trips() {
    let json = r#"{
      "statuses": [
        {
          "correspondenceId": "0191f5a6-0000-7e3a-9d2f-4a5b6c7d8e9f",
          "dialogId": "0191f5a6-1111-7e3a-9d2f-4a5b6c7d8e9f",
          "error": null,
          "ok": true
        },
        {
          "correspondenceId": "0191f5a6-0001-7e3a-9d2f-4a5b6c7d8e9f",
          "dialogId": null,
          "error": "Correspondence has been purged",
          "ok": false
        }
      ]
    }"#;
    let r: MakeAvailableResponse = round_trip(json);
    assert_eq!(r.statuses.len(), 2);
    assert!(r.statuses[0].ok);
    assert_eq!(r.statuses[0].dialog_id, Some(id("0191f5a6-1111-7e3a-9d2f-4a5b6c7d8e9f")));
    assert_eq!(r.statuses[0].error, None);
    assert!(!r.statuses[1].ok);
    assert_eq!(r.statuses[1].dialog_id, None);
    assert_eq!(r.statuses[1].error.as_deref(), Some("Correspondence has been purged"));

    // `dialogId?` and `error?` may also be absent.
    let bare = r#"{
      "statuses": [
        { "correspondenceId": "0191f5a6-0000-7e3a-9d2f-4a5b6c7d8e9f",
          "dialogId": "0191f5a6-1111-7e3a-9d2f-4a5b6c7d8e9f", "ok": true },
        { "correspondenceId": "0191f5a6-0001-7e3a-9d2f-4a5b6c7d8e9f",
          "error": "Correspondence has been purged", "ok": false }
      ]
    }"#;
    let b: MakeAvailableResponse = serde_json::from_str(bare).unwrap();
    assert_eq!(b, r);
}

#[test]
fn sync_status_event_round_trips() {
    let json = r#"{
      "correspondenceId": "0191f5a6-0000-7e3a-9d2f-4a5b6c7d8e9f",
      "syncedStatusEvents": [
        {
          "status": "Read",
          "statusText": "",
          "statusChanged": "2024-03-10T08:00:00Z",
          "eventUserUuid": "11111111-2222-4333-8444-555555555555",
          "eventUserPartyUuid": "a1b2c3d4-e5f6-4789-8abc-def012345678"
        },
        {
          "status": "Confirmed",
          "statusText": "Bekreftet",
          "statusChanged": "2024-03-10T08:01:00Z",
          "eventUserPartyUuid": "a1b2c3d4-e5f6-4789-8abc-def012345678"
        },
        {
          "status": "RestoredByRecipient",
          "statusText": "",
          "statusChanged": "2024-03-11T09:00:00Z",
          "eventUserPartyUuid": "a1b2c3d4-e5f6-4789-8abc-def012345678"
        }
      ]
    }"#;
    let r: SyncStatusEventRequest = round_trip(json);
    assert_eq!(r.correspondence_id, id("0191f5a6-0000-7e3a-9d2f-4a5b6c7d8e9f"));
    let statuses: Vec<_> = r.synced_status_events.iter().map(|e| e.status).collect();
    assert_eq!(
        statuses,
        [
            CorrespondenceStatus::Read,
            CorrespondenceStatus::Confirmed,
            CorrespondenceStatus::RestoredByRecipient
        ]
    );
    assert_eq!(r.synced_status_events[1].status_changed, ts("2024-03-10T08:01:00Z"));
    assert!(r.synced_status_events.iter().all(|e| e.status.is_syncable()));
}

#[test]
fn sync_notification_event_round_trips() {
    let json = r#"{
      "correspondenceId": "0191f5a6-0000-7e3a-9d2f-4a5b6c7d8e9f",
      "syncedNotificationEvents": [
        {
          "notificationChannel": "EmailPreferred",
          "notificationSent": "2024-03-10T08:00:00Z",
          "altinn2NotificationId": 777003,
          "notificationAddress": "ola.nordmann@example.no",
          "isReminder": false
        },
        {
          "notificationChannel": "EmailAndSms",
          "notificationSent": "2024-03-17T08:00:00Z",
          "altinn2NotificationId": 777004,
          "notificationAddress": "+4799999999",
          "isReminder": true
        }
      ]
    }"#;
    let r: SyncNotificationEventRequest = round_trip(json);
    let e = &r.synced_notification_events;
    assert_eq!(e[0].notification_channel, NotificationChannel::EmailPreferred);
    assert_eq!(e[0].altinn2_notification_id, 777_003);
    assert_eq!(e[1].notification_channel, NotificationChannel::EmailAndSms);
    assert_eq!(e[1].notification_sent, ts("2024-03-17T08:00:00Z"));
    assert!(e[1].is_reminder);
}

#[test]
fn sync_forwarding_event_round_trips() {
    let json = r#"{
      "correspondenceId": "0191f5a6-0000-7e3a-9d2f-4a5b6c7d8e9f",
      "syncedForwardingEvents": [
        {
          "forwardedOnDate": "2024-03-12T13:00:00Z",
          "forwardedByPartyUuid": "a1b2c3d4-e5f6-4789-8abc-def012345678",
          "forwardedByUserId": 1001,
          "forwardedByUserUuid": "11111111-2222-4333-8444-555555555555",
          "forwardedToEmail": "regnskap@example.no",
          "forwardingText": "Til orientering"
        },
        {
          "forwardedOnDate": "2024-03-12T14:00:00Z",
          "forwardedByPartyUuid": "a1b2c3d4-e5f6-4789-8abc-def012345678",
          "forwardedByUserId": 1001,
          "forwardedByUserUuid": "11111111-2222-4333-8444-555555555555",
          "mailboxSupplier": "urn:altinn:organization:identifier-no:987654321"
        }
      ]
    }"#;
    let r: SyncForwardingEventRequest = round_trip(json);
    let e = &r.synced_forwarding_events;
    assert_eq!(e[0].forwarded_on_date, ts("2024-03-12T13:00:00Z"));
    assert_eq!(e[0].forwarded_by_user_id, 1001);
    assert_eq!(e[0].forwarded_to_email.as_deref(), Some("regnskap@example.no"));
    assert_eq!(e[0].forwarded_to_user_id, None);
    assert_eq!(e[1].mailbox_supplier.as_deref(), Some("urn:altinn:organization:identifier-no:987654321"));
}

#[test]
fn sync_answer_is_a_bare_uuid_string() {
    let body = r#""0191f5a6-0000-7e3a-9d2f-4a5b6c7d8e9f""#;
    let u: Uuid = serde_json::from_str(body).unwrap();
    assert_eq!(u, id("0191f5a6-0000-7e3a-9d2f-4a5b6c7d8e9f"));
}

#[test]
fn problem_details_400_round_trips() {
    let json = r#"{
      "type": "https://tools.ietf.org/html/rfc9110#section-15.5.1",
      "title": "One or more validation errors occurred.",
      "status": 400,
      "errors": {
        "CorrespondenceData.Correspondence.Content.MessageTitle": [
          "Message title cannot exceed 255 characters"
        ],
        "CorrespondenceData.Correspondence.Content.Language": [
          "Language must be one of nb, nn, en"
        ]
      }
    }"#;
    let p: ProblemDetails = round_trip(json);
    assert_eq!(p.status, Some(400));
    assert_eq!(p.kind.as_deref(), Some("https://tools.ietf.org/html/rfc9110#section-15.5.1"));
    assert_eq!(p.errors.len(), 2);
    assert_eq!(
        p.errors["CorrespondenceData.Correspondence.Content.MessageTitle"],
        ["Message title cannot exceed 255 characters"]
    );
    let summary = p.summary();
    assert!(summary.starts_with("One or more validation errors occurred."));
    assert!(summary.contains("Message title cannot exceed 255 characters"));

    // Extra members (ASP.NET adds `traceId`) are tolerated.
    let with_trace = r#"{
      "type": "https://tools.ietf.org/html/rfc9110#section-15.5.5",
      "title": "Not Found",
      "status": 404,
      "detail": "The requested correspondence was not found",
      "traceId": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    }"#;
    let n: ProblemDetails = serde_json::from_str(with_trace).unwrap();
    assert_eq!(n.status, Some(404));
    assert!(n.errors.is_empty());
    assert_eq!(n.summary(), "Not Found: The requested correspondence was not found");
}

/// Names and numbers exactly as the contract lists them.
const STATUSES: &[(&str, u64)] = &[
    ("Initialized", 0),
    ("ReadyForPublish", 1),
    ("Published", 2),
    ("Fetched", 3),
    ("Read", 4),
    ("Replied", 5),
    ("Confirmed", 6),
    ("PurgedByRecipient", 7),
    ("PurgedByAltinn", 8),
    ("Archived", 9),
    ("Reserved", 10),
    ("Failed", 11),
    ("AttachmentsDownloaded", 12),
    ("SoftDeletedByRecipient", 13),
    ("RestoredByRecipient", 14),
];

#[test]
fn statuses_serialize_as_strings_and_accept_numbers() {
    assert_eq!(CorrespondenceStatus::ALL.len(), STATUSES.len());
    for &(name, number) in STATUSES {
        let by_name: CorrespondenceStatus = serde_json::from_value(Value::from(name)).unwrap();
        let by_number: CorrespondenceStatus = serde_json::from_value(Value::from(number)).unwrap();
        assert_eq!(by_name, by_number, "{name} = {number}");
        assert_eq!(serde_json::to_value(by_number).unwrap(), Value::from(name));
    }
    assert_eq!(serde_json::to_value(CorrespondenceStatus::Read).unwrap(), Value::from("Read"));

    // A number inside an event body comes back out as the name.
    let json = r#"{
      "status": 13,
      "statusText": "",
      "statusChanged": "2024-03-01T10:00:00Z",
      "eventUserPartyUuid": "a1b2c3d4-e5f6-4789-8abc-def012345678"
    }"#;
    let e: StatusEvent = serde_json::from_str(json).unwrap();
    assert_eq!(e.status, CorrespondenceStatus::SoftDeletedByRecipient);
    let v = serde_json::to_value(&e).unwrap();
    assert_eq!(v["status"], Value::from("SoftDeletedByRecipient"));

    let read: StatusEvent = serde_json::from_str(&json.replace("13", "4")).unwrap();
    assert_eq!(read.status, CorrespondenceStatus::Read);
}

#[test]
fn notification_channels_serialize_as_strings_and_accept_numbers() {
    let names = ["Email", "Sms", "EmailPreferred", "SmsPreferred", "EmailAndSms"];
    assert_eq!(NotificationChannel::ALL.len(), names.len());
    for name in names {
        let c: NotificationChannel = serde_json::from_value(Value::from(name)).unwrap();
        assert_eq!(serde_json::to_value(c).unwrap(), Value::from(name));
    }
    let sms: NotificationChannel = serde_json::from_value(Value::from(1)).unwrap();
    assert_eq!(sms, NotificationChannel::Sms);
    assert_eq!(serde_json::to_value(sms).unwrap(), Value::from("Sms"));
    assert_eq!(serde_json::to_value(NotificationChannel::Email).unwrap(), Value::from("Email"));

    let json = r#"{
      "notificationChannel": 1,
      "notificationSent": "2024-03-01T10:00:00Z",
      "altinn2NotificationId": 1,
      "notificationAddress": "+4799999999",
      "isReminder": false
    }"#;
    let n: NotificationEvent = serde_json::from_str(json).unwrap();
    assert_eq!(n.notification_channel, NotificationChannel::Sms);
    let v = serde_json::to_value(&n).unwrap();
    assert_eq!(v["notificationChannel"], Value::from("Sms"));
}

#[test]
fn unknown_enum_values_are_errors() {
    for bad in [
        Value::from("Bogus"),
        Value::from(""),
        Value::from(15),
        Value::from(99),
        Value::from(-1),
        Value::Null,
        Value::Bool(true),
    ] {
        assert!(serde_json::from_value::<CorrespondenceStatus>(bad.clone()).is_err(), "status {bad}");
    }
    for bad in [Value::from("Fax"), Value::from(5), Value::from(-1), Value::Null] {
        assert!(serde_json::from_value::<NotificationChannel>(bad.clone()).is_err(), "channel {bad}");
    }
    // Inside a body too.
    let json = r#"{
      "status": "Bogus",
      "statusText": "",
      "statusChanged": "2024-03-01T10:00:00Z",
      "eventUserPartyUuid": "a1b2c3d4-e5f6-4789-8abc-def012345678"
    }"#;
    assert!(serde_json::from_str::<StatusEvent>(json).is_err());
}

#[test]
fn timestamps_with_offsets_are_the_same_instant() {
    let json = r#"{
      "status": "Archived",
      "statusText": "",
      "statusChanged": "2024-03-01T11:00:00+01:00",
      "eventUserPartyUuid": "a1b2c3d4-e5f6-4789-8abc-def012345678"
    }"#;
    let e: StatusEvent = serde_json::from_str(json).unwrap();
    assert_eq!(e.status_changed, ts("2024-03-01T10:00:00Z"));
    let v = serde_json::to_value(&e).unwrap();
    assert_eq!(v["statusChanged"], Value::from("2024-03-01T10:00:00Z"));
}
