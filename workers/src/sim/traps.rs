//! A3's checks, reproduced: the content validation that answers 400, and the traps that pass
//! validation but make the real service fail with 500 (nulls it does not expect, notifications that
//! differ only in `isReminder`, forwardings sharing their key). Null and missing fields are found on
//! the raw JSON, before the typed model would turn them into a 400.

use crate::a3::dedup::{forwarding_key, notification_key};
use crate::a3::model::{Content, ForwardingEvent, NotificationEvent};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};

use super::problem::ApiError;

/// The three history lists of a migration request, as named in JSON.
pub(crate) const HISTORIES: [&str; 3] = ["eventHistory", "notificationHistory", "forwardingHistory"];

/// True when `v` is absent or JSON null.
fn null_or_missing(v: Option<&Value>) -> bool {
    v.is_none_or(Value::is_null)
}

/// The value of `key` in object `v`, matched ASCII case-insensitively (as ASP.NET binds).
pub(crate) fn get_ci<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    let obj = v.as_object()?;
    obj.get(key).or_else(|| obj.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v))
}

/// A list that contains a JSON null.
pub(crate) fn has_null_element(v: Option<&Value>) -> bool {
    v.and_then(Value::as_array).is_some_and(|a| a.iter().any(Value::is_null))
}

/// Traps of a `correspondence` body visible on the raw JSON: each entry is one problem.
pub(crate) fn raw_correspondence_traps(body: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(data) = get_ci(body, "correspondenceData").filter(|d| d.is_object()) {
        if let Some(recipients) = get_ci(data, "recipients").and_then(Value::as_array) {
            match recipients.first() {
                None => out.push("recipients is empty".to_string()),
                Some(Value::Null) => out.push("recipients[0] is null".to_string()),
                Some(_) => {}
            }
        }
        if let Some(c) = get_ci(data, "correspondence").filter(|c| c.is_object()) {
            if null_or_missing(get_ci(c, "requestedPublishTime")) {
                out.push("correspondence.requestedPublishTime is null or missing".to_string());
            }
            if null_or_missing(get_ci(c, "sender")) {
                out.push("correspondence.sender is null or missing".to_string());
            }
            if let Some(content) = get_ci(c, "content").filter(|c| c.is_object()) {
                if null_or_missing(get_ci(content, "language")) {
                    out.push("content.language is null or missing".to_string());
                }
                if null_or_missing(get_ci(content, "messageSummary")) {
                    out.push("content.messageSummary is null or missing (send \"\")".to_string());
                }
            }
        }
    }
    for list in HISTORIES {
        if has_null_element(get_ci(body, list)) {
            out.push(format!("{list} has a null element"));
        }
    }
    out
}

/// A3's 400 validation of the texts.
pub(crate) fn validate_content(c: &Content) -> Result<(), ApiError> {
    let mut errors: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut err = |field: &str, msg: &str| {
        errors
            .entry(format!("CorrespondenceData.Correspondence.Content.{field}"))
            .or_default()
            .push(msg.into())
    };
    let title = c.message_title.chars().count();
    if c.message_title.trim().is_empty() {
        err("MessageTitle", "The message title must not be empty.");
    } else if title > 255 {
        err("MessageTitle", "The message title must be at most 255 characters long.");
    }
    if c.message_summary.chars().count() > 255 {
        err("MessageSummary", "The message summary must be at most 255 characters long.");
    }
    if c.message_body.chars().count() > 30_000 {
        err("MessageBody", "The message body must be at most 30000 characters long.");
    }
    if !matches!(c.language.as_str(), "nb" | "nn" | "en") {
        err("Language", "The language must be nb, nn or en.");
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::BadRequest { detail: "One or more validation errors occurred.".into(), errors })
    }
}

/// Two notifications in one request that share a dedup key but differ in `isReminder`.
pub(crate) fn reminder_conflict(events: &[NotificationEvent]) -> Option<String> {
    let mut seen: HashMap<String, bool> = HashMap::new();
    for e in events {
        let key = notification_key(e);
        match seen.get(&key) {
            Some(&r) if r != e.is_reminder => {
                return Some(format!(
                    "two notifications differ only in isReminder (altinn2NotificationId {}, sent {})",
                    e.altinn2_notification_id, e.notification_sent
                ));
            }
            _ => {
                seen.insert(key, e.is_reminder);
            }
        }
    }
    None
}

/// Two forwardings in one request with the same (forwardedOnDate, forwardedByPartyUuid).
pub(crate) fn forwarding_conflict(events: &[ForwardingEvent]) -> Option<String> {
    let mut seen = HashSet::new();
    events.iter().find(|e| !seen.insert(forwarding_key(e))).map(|e| {
        format!(
            "two forwardings share (forwardedOnDate {}, forwardedByPartyUuid {})",
            e.forwarded_on_date, e.forwarded_by_party_uuid
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_nulls_and_missing_fields() {
        let body = json!({
            "correspondenceData": {
                "recipients": [null],
                "correspondence": {"content": {"language": null, "messageSummary": ""}, "sender": "x"}
            },
            "eventHistory": [null],
        });
        let t = raw_correspondence_traps(&body);
        assert_eq!(t.len(), 4, "{t:?}");
        assert!(raw_correspondence_traps(&json!({})).is_empty());
    }

    #[test]
    fn content_limits() {
        let ok = Content {
            language: "nb".into(),
            message_title: "t".repeat(255),
            message_summary: String::new(),
            message_body: "b".repeat(30_000),
        };
        assert!(validate_content(&ok).is_ok());
        let bad = Content { language: "sv".into(), message_title: "æ".repeat(256), ..ok };
        match validate_content(&bad) {
            Err(ApiError::BadRequest { errors, .. }) => assert_eq!(errors.len(), 2),
            other => panic!("{other:?}"),
        }
    }
}
