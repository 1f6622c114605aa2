//! The three event models shared by migrate and sync — `MigrateCorrespondenceStatusEventExt`,
//! `MigrateCorrespondenceNotificationExt`, `MigrateCorrespondenceForwardingEventExt` — bound from
//! JSON, validated, and deduplicated within one request as upstream's mapper does.

use crate::binding::{self, JResult, ModelState, Obj};
use crate::enums;
use crate::timestamp::{self, truncate_to_second};
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::HashSet;
use uuid::Uuid;

/// A status event as received (`Models/MigrateCorrespondenceStatusEventExt.cs`).
#[derive(Debug, Clone)]
pub(crate) struct StatusIn {
    /// Ext status number (`:12`, default `Initialized`).
    pub status: i64,
    /// `StatusText` (`:18`, default `""`; JSON null binds null).
    pub status_text: Option<String>,
    /// `StatusChanged` (`:24`, default `0001-01-01`).
    pub changed: DateTime<Utc>,
    /// `EventUserPartyUuid` (`:30`, C# `required`).
    pub party: Uuid,
}

/// A notification as received (`Models/MigrateCorrespondenceNotificationExt.cs`, all `required`).
#[derive(Debug, Clone)]
pub(crate) struct NotificationIn {
    pub channel: i64,
    pub sent: DateTime<Utc>,
    pub altinn2_id: i32,
    pub address: Option<String>,
    pub is_reminder: bool,
}

/// A forwarding event as received (`Models/MigrateCorrespondenceForwardingEventExt.cs`).
#[derive(Debug, Clone)]
pub(crate) struct ForwardingIn {
    pub on: DateTime<Utc>,
    pub by_party: Uuid,
    pub by_user_id: i32,
    pub by_user_uuid: Uuid,
    pub to_user_id: Option<i32>,
    pub to_user_uuid: Option<Uuid>,
    pub text: Option<String>,
    pub to_email: Option<String>,
    pub mailbox_supplier: Option<String>,
}

const STATUS_CLASS: &str = "Altinn.Correspondence.API.Models.MigrateCorrespondenceStatusEventExt";
const NOTIFICATION_CLASS: &str = "Altinn.Correspondence.API.Models.MigrateCorrespondenceNotificationExt";
const FORWARDING_CLASS: &str = "Altinn.Correspondence.API.Models.MigrateCorrespondenceForwardingEventExt";

/// Binds one status event; `None` for a JSON null element.
pub(crate) fn read_status(v: &Value, path: &str) -> JResult<Option<StatusIn>> {
    let Some(mut o) = Obj::new(v, path, STATUS_CLASS)? else { return Ok(None) };
    let status = o.prop(
        "status",
        false,
        binding::enum_(
            enums::MIGRATE_STATUS,
            "Altinn.Correspondence.API.Models.Enums.MigrateCorrespondenceStatusExt",
        ),
    )?;
    let status_text = o.prop("statusText", false, binding::string)?;
    let changed = o.prop("statusChanged", false, binding::date)?;
    o.prop("eventUserUuid", false, binding::opt_guid)?;
    let party = o.prop("eventUserPartyUuid", true, binding::guid)?;
    o.finish()?;
    Ok(Some(StatusIn {
        status: status.unwrap_or(0),
        status_text: status_text.unwrap_or(Some(String::new())),
        changed: changed.unwrap_or_else(timestamp::min_value),
        party: party.unwrap_or_default(),
    }))
}

/// Binds one notification.
pub(crate) fn read_notification(v: &Value, path: &str) -> JResult<Option<NotificationIn>> {
    let Some(mut o) = Obj::new(v, path, NOTIFICATION_CLASS)? else { return Ok(None) };
    let channel = o.prop(
        "notificationChannel",
        true,
        binding::enum_(
            enums::NOTIFICATION_CHANNEL,
            "Altinn.Correspondence.API.Models.Enums.NotificationChannelExt",
        ),
    )?;
    let sent = o.prop("notificationSent", true, binding::date)?;
    let altinn2_id = o.prop("altinn2NotificationId", true, binding::i32_)?;
    let address = o.prop("notificationAddress", true, binding::string)?;
    let is_reminder = o.prop("isReminder", true, binding::bool_)?;
    o.finish()?;
    Ok(Some(NotificationIn {
        channel: channel.unwrap_or(0),
        sent: sent.unwrap_or_else(timestamp::min_value),
        altinn2_id: altinn2_id.unwrap_or(0),
        address: address.flatten(),
        is_reminder: is_reminder.unwrap_or(false),
    }))
}

/// Binds one forwarding event.
pub(crate) fn read_forwarding(v: &Value, path: &str) -> JResult<Option<ForwardingIn>> {
    let Some(mut o) = Obj::new(v, path, FORWARDING_CLASS)? else { return Ok(None) };
    let on = o.prop("forwardedOnDate", true, binding::date)?;
    let by_party = o.prop("forwardedByPartyUuid", true, binding::guid)?;
    let by_user_id = o.prop("forwardedByUserId", false, binding::i32_)?;
    let by_user_uuid = o.prop("forwardedByUserUuid", false, binding::guid)?;
    let to_user_id = o.prop("forwardedToUserId", false, binding::opt_i32)?;
    let to_user_uuid = o.prop("forwardedToUserUuid", false, binding::opt_guid)?;
    let text = o.prop("forwardingText", false, binding::string)?;
    let to_email = o.prop("forwardedToEmail", false, binding::string)?;
    let mailbox_supplier = o.prop("mailboxSupplier", false, binding::string)?;
    o.finish()?;
    Ok(Some(ForwardingIn {
        on: on.unwrap_or_else(timestamp::min_value),
        by_party: by_party.unwrap_or_default(),
        by_user_id: by_user_id.unwrap_or(0),
        by_user_uuid: by_user_uuid.unwrap_or_default(),
        to_user_id: to_user_id.flatten(),
        to_user_uuid: to_user_uuid.flatten(),
        text: text.flatten(),
        to_email: to_email.flatten(),
        mailbox_supplier: mailbox_supplier.flatten(),
    }))
}

/// Validates a bound list of events (elements may be null; ASP.NET skips null elements).
pub(crate) fn validate_list<T>(
    ms: &mut ModelState,
    prefix: &str,
    items: &[Option<T>],
    f: impl Fn(&mut ModelState, &str, &T),
) {
    for (i, x) in items.iter().enumerate() {
        if let Some(x) = x {
            f(ms, &format!("{prefix}[{i}]"), x);
        }
    }
}

/// `StatusText` is a non-nullable `string`: implicit `[Required]` (null fails, "" passes).
pub(crate) fn validate_status(ms: &mut ModelState, prefix: &str, e: &StatusIn) {
    ms.required(&binding::key(prefix, "StatusText"), e.status_text.as_deref(), true);
}

/// `NotificationAddress` is a non-nullable `string`: implicit `[Required]`.
pub(crate) fn validate_notification(ms: &mut ModelState, prefix: &str, e: &NotificationIn) {
    ms.required(&binding::key(prefix, "NotificationAddress"), e.address.as_deref(), true);
}

/// `[StringLength(4000)]` ForwardingText, `[StringLength(1000)]` ForwardedToEmail,
/// `[OrganizationNumberOptional]` MailboxSupplier (`MigrateCorrespondenceForwardingEventExt.cs:49,56,63`;
/// pattern `^(?:0192:|urn:altinn:organization:identifier-no:)\d{9}$`, `OrganizationNumberOptionalAttribute.cs:8`).
pub(crate) fn validate_forwarding(ms: &mut ModelState, prefix: &str, e: &ForwardingIn) {
    ms.string_length(&binding::key(prefix, "ForwardingText"), e.text.as_deref(), 4000, 0);
    ms.string_length(&binding::key(prefix, "ForwardedToEmail"), e.to_email.as_deref(), 1000, 0);
    if let Some(s) = &e.mailbox_supplier {
        let digits =
            s.strip_prefix("0192:").or_else(|| s.strip_prefix("urn:altinn:organization:identifier-no:"));
        if !digits.is_some_and(|d| d.len() == 9 && d.bytes().all(|c| c.is_ascii_digit())) {
            ms.add(
                binding::key(prefix, "MailboxSupplier"),
                "Organization numbers should be on the format 'urn:altinn:organization:identifier-no:organizationnumber' or the format countrycode:organizationnumber, for instance 0192:910753614",
            );
        }
    }
}

/// `GroupBy(key).Select(g => g.First())`: keeps the first of each key, in order; returns the kept
/// items and how many were dropped.
fn first_of_each<T: Clone>(items: &[T], key: impl Fn(&T) -> String) -> (Vec<T>, u64) {
    let mut seen = HashSet::new();
    let kept: Vec<T> = items.iter().filter(|x| seen.insert(key(x))).cloned().collect();
    let dropped = u64::try_from(items.len() - kept.len()).unwrap_or(0);
    (kept, dropped)
}

/// In-request dedup of status events on (Status, StatusChanged to the second, EventUserPartyUuid)
/// (`MigrateCorrespondenceMapper.cs:72,88,163`), then split into status events and delete events
/// (`SoftDeletedByRecipient`, `RestoredByRecipient`, `PurgedByRecipient`, `PurgedByAltinn`;
/// `MigrateCorrespondenceMapper.cs:68-71,84-87,169-187`).
pub(crate) fn dedup_statuses(items: &[StatusIn]) -> (Vec<StatusIn>, Vec<StatusIn>, u64) {
    let (kept, dropped) = first_of_each(items, |e| {
        format!("{}|{}|{}", e.status, truncate_to_second(e.changed).timestamp(), e.party)
    });
    let (deletes, statuses): (Vec<StatusIn>, Vec<StatusIn>) =
        kept.into_iter().partition(|e| enums::delete_event_type(e.status).is_some());
    (statuses, deletes, dropped)
}

/// In-request dedup of notifications on (NotificationSent to the second, NotificationChannel,
/// Altinn2NotificationId, NotificationAddress, IsReminder) (`MigrateCorrespondenceMapper.cs:99,246`).
pub(crate) fn dedup_notifications(items: &[NotificationIn]) -> (Vec<NotificationIn>, u64) {
    first_of_each(items, |n| {
        crate::keys::notification_in_request(
            &n.channel.to_string(),
            n.sent,
            n.altinn2_id,
            n.address.as_deref(),
            n.is_reminder,
        )
    })
}

/// In-request dedup of forwarding events on (ForwardedOnDate to the second, ForwardedByPartyUuid,
/// ForwardedToUserId, ForwardedToUserUuid) (`MigrateCorrespondenceMapper.cs:110,223`).
pub(crate) fn dedup_forwardings(items: &[ForwardingIn]) -> (Vec<ForwardingIn>, u64) {
    first_of_each(items, |f| {
        crate::keys::forwarding_in_request(f.on, f.by_party, f.to_user_id, f.to_user_uuid)
    })
}
