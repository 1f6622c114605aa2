//! Dedup keys as the SIMULATOR reads upstream, from plain values, so a verifier can compute what A3
//! would keep from source data. Each key holds exactly the fields upstream compares, with times
//! truncated to the UTC second (`SyncEventDateTimeOffsetExtensions.cs:19-23`). Upstream compares
//! twice, with different fields: within one request (the mapper's `GroupBy`) and against what is
//! stored (`CorrespondenceMigrationEventHelper` filters); the `*_in_request` functions give the
//! first, the others the second (which is what decides whether a later event is dropped).

use crate::enums;
use crate::timestamp::key_form;
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// Canonical status name for a key (Ext/core names case-insensitively, or a number).
fn canonical_status(name: &str) -> String {
    enums::status_number(name).map_or_else(|| name.to_string(), |n| enums::name(enums::MIGRATE_STATUS, n))
}

/// Canonical notification channel name (case-insensitive name or number).
fn channel_name(name: &str) -> String {
    enums::read(enums::NOTIFICATION_CHANNEL, &serde_json::Value::String(name.to_string()))
        .map_or_else(|| name.to_string(), |n| enums::name(enums::NOTIFICATION_CHANNEL, n))
}

/// Key of a status event, in a request and against stored statuses: (Status, StatusChanged to the
/// second, EventUserPartyUuid) — `MigrateCorrespondenceMapper.cs:88,163` and
/// `CorrespondenceMigrationEventHelper.cs:225-228`.
pub fn status(status_name: &str, changed: DateTime<Utc>, party: Uuid) -> String {
    format!("{}|{}|{party}", canonical_status(status_name), key_form(changed))
}

/// Key of a delete event (`SoftDeletedByRecipient`, `RestoredByRecipient`, `PurgedByRecipient`,
/// `PurgedByAltinn`, by their status names): (type, time to the second, party) —
/// `MigrateCorrespondenceMapper.cs:72` and `CorrespondenceMigrationEventHelper.cs:171-174`.
pub fn delete_event(status_name: &str, occurred: DateTime<Utc>, party: Uuid) -> String {
    status(status_name, occurred, party)
}

/// Key of a notification against stored notifications: (NotificationAddress, NotificationChannel,
/// NotificationSent to the second, Altinn2NotificationId) — `CorrespondenceMigrationEventHelper.cs:543-549`.
/// `IsReminder` is NOT compared here.
pub fn notification(
    channel: &str,
    sent: DateTime<Utc>,
    altinn2_notification_id: i32,
    address: Option<&str>,
) -> String {
    format!(
        "{}|{}|{altinn2_notification_id}|{}",
        channel_name(channel),
        key_form(sent),
        address.unwrap_or("<null>")
    )
}

/// Key of a notification within one request: (NotificationSent to the second, NotificationChannel,
/// Altinn2NotificationId, NotificationAddress, IsReminder) — `MigrateCorrespondenceMapper.cs:99,246`.
pub fn notification_in_request(
    channel: &str,
    sent: DateTime<Utc>,
    altinn2_notification_id: i32,
    address: Option<&str>,
    is_reminder: bool,
) -> String {
    format!("{}|{is_reminder}", notification(channel, sent, altinn2_notification_id, address))
}

/// Key of a forwarding event against stored ones: (ForwardedOnDate to the second,
/// ForwardedByPartyUuid) — `CorrespondenceMigrationEventHelper.cs:577-580`.
pub fn forwarding(forwarded_on: DateTime<Utc>, forwarded_by_party: Uuid) -> String {
    format!("{}|{forwarded_by_party}", key_form(forwarded_on))
}

/// Key of a forwarding event within one request: (ForwardedOnDate to the second,
/// ForwardedByPartyUuid, ForwardedToUserId, ForwardedToUserUuid) — `MigrateCorrespondenceMapper.cs:110,223`.
pub fn forwarding_in_request(
    forwarded_on: DateTime<Utc>,
    forwarded_by_party: Uuid,
    forwarded_to_user_id: Option<i32>,
    forwarded_to_user_uuid: Option<Uuid>,
) -> String {
    let id = forwarded_to_user_id.map_or_else(|| "<null>".to_string(), |v| v.to_string());
    let uuid = forwarded_to_user_uuid.map_or_else(|| "<null>".to_string(), |v| v.to_string());
    format!("{}|{id}|{uuid}", forwarding(forwarded_on, forwarded_by_party))
}

/// What the status-sync endpoint does with a status event, by status name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusSync {
    /// Stored as a status row: `Read`, `Confirmed`, `Archived` (`CorrespondenceMigrationEventHelper.cs:36,262`).
    StatusRow,
    /// Stored as a delete event: `SoftDeletedByRecipient`, `RestoredByRecipient`; `PurgedByRecipient`
    /// and `PurgedByAltinn` also write a status row, once per correspondence
    /// (`MigrateCorrespondenceMapper.cs:169-178`, `CorrespondenceMigrationEventHelper.cs:137-155,294-316`).
    DeleteEvent,
    /// Dropped silently (logged only): every other status (`CorrespondenceMigrationEventHelper.cs:199-211`).
    Ignored,
}

/// What the status-sync endpoint does with a status of this name (case-insensitive, or a number).
pub fn status_sync(status_name: &str) -> StatusSync {
    use crate::enums::status::*;
    match enums::status_number(status_name) {
        Some(READ | CONFIRMED | ARCHIVED) => StatusSync::StatusRow,
        Some(SOFT_DELETED | RESTORED | PURGED_BY_RECIPIENT | PURGED_BY_ALTINN) => StatusSync::DeleteEvent,
        _ => StatusSync::Ignored,
    }
}

/// Whether a synced status event of this name ends up among the correspondence's status rows:
/// `Read`, `Confirmed`, `Archived`, and the two purges (which write a status row besides the delete
/// event). `SoftDeletedByRecipient`/`RestoredByRecipient` are stored as delete events only; all
/// other statuses are ignored by sync (remigration, in contrast, stores every status).
pub fn stored_by_status_sync(status_name: &str) -> bool {
    use crate::enums::status::*;
    match status_sync(status_name) {
        StatusSync::StatusRow => true,
        StatusSync::DeleteEvent => {
            matches!(enums::status_number(status_name), Some(PURGED_BY_RECIPIENT | PURGED_BY_ALTINN))
        }
        StatusSync::Ignored => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timestamp::parse;

    #[test]
    fn keys_truncate_to_the_second_and_normalise_names() {
        let p = Uuid::nil();
        let a = status("read", parse("2024-01-06T11:10:21.900Z").unwrap(), p);
        let b = status("Read", parse("2024-01-06T12:10:21.100+01:00").unwrap(), p);
        assert_eq!(a, b);
        assert_eq!(a, format!("Read|2024-01-06T11:10:21Z|{p}"));
        assert_eq!(status("4", parse("2024-01-06T11:10:21Z").unwrap(), p), a);
        let t = parse("2024-01-04T00:00:00Z").unwrap();
        assert_ne!(
            notification_in_request("Email", t, 1, Some("a"), true),
            notification_in_request("email", t, 1, Some("a"), false)
        );
        assert_eq!(notification("sms", t, 1, None), "Sms|2024-01-04T00:00:00Z|1|<null>");
        assert_eq!(forwarding(t, p), forwarding_in_request(t, p, None, None).rsplitn(3, '|').last().unwrap());
    }

    #[test]
    fn sync_accepts_read_confirmed_archived_and_deletes() {
        for s in ["Read", "confirmed", "Archived"] {
            assert_eq!(status_sync(s), StatusSync::StatusRow);
            assert!(stored_by_status_sync(s));
        }
        for s in [
            "Initialized",
            "Published",
            "Fetched",
            "Replied",
            "Reserved",
            "Failed",
            "AttachmentsDownloaded",
            "x",
        ] {
            assert_eq!(status_sync(s), StatusSync::Ignored);
            assert!(!stored_by_status_sync(s));
        }
        assert_eq!(status_sync("SoftDeletedByRecipient"), StatusSync::DeleteEvent);
        assert!(!stored_by_status_sync("RestoredByRecipient"));
        assert!(stored_by_status_sync("PurgedByAltinn"));
    }
}
