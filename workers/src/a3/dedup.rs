//! A3's event deduplication, reproduced: two events are the same when their keys are equal, with
//! timestamps compared to the second (UTC). A2 writes near-duplicates (microseconds apart, from
//! several data sources), so we dedup the same way before sending, and the simulator dedups the
//! same way on arrival.

use super::model::{ForwardingEvent, NotificationEvent, StatusEvent};

/// Status: (status, statusChanged to the second, eventUserPartyUuid).
pub fn status_key(e: &StatusEvent) -> String {
    format!("status|{}|{}|{}", e.status.as_str(), e.status_changed.timestamp(), e.event_user_party_uuid)
}

/// Notification: (address, channel, sent to the second, altinn2NotificationId). `isReminder` is not
/// part of it: two notifications differing only there are one (A3 fails with 500 on both in one call).
pub fn notification_key(e: &NotificationEvent) -> String {
    format!(
        "notification|{}|{}|{}|{}",
        e.notification_address,
        e.notification_channel.as_str(),
        e.notification_sent.timestamp(),
        e.altinn2_notification_id
    )
}

/// Forwarding: (forwardedOnDate to the second, forwardedByPartyUuid).
pub fn forwarding_key(e: &ForwardingEvent) -> String {
    format!("forwarding|{}|{}", e.forwarded_on_date.timestamp(), e.forwarded_by_party_uuid)
}

/// Keeps the first of each key, in order.
pub fn dedup<T>(items: Vec<T>, key: impl Fn(&T) -> String) -> Vec<T> {
    let mut seen = std::collections::HashSet::new();
    items.into_iter().filter(|e| seen.insert(key(e))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::a3::model::CorrespondenceStatus;
    use chrono::{DateTime, Utc};
    use uuid::Uuid;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn timestamps_compare_to_the_second() {
        let party = Uuid::nil();
        let ev = |t: &str, status| StatusEvent {
            status,
            status_text: String::new(),
            status_changed: at(t),
            event_user_uuid: None,
            event_user_party_uuid: party,
        };
        let a = ev("2024-03-01T10:00:00.123456Z", CorrespondenceStatus::Read);
        let b = ev("2024-03-01T10:00:00.987Z", CorrespondenceStatus::Read);
        let c = ev("2024-03-01T10:00:01Z", CorrespondenceStatus::Read);
        let d = ev("2024-03-01T10:00:00Z", CorrespondenceStatus::Confirmed);
        assert_eq!(status_key(&a), status_key(&b));
        assert_ne!(status_key(&a), status_key(&c));
        assert_ne!(status_key(&a), status_key(&d));
        assert_eq!(dedup(vec![a.clone(), b, c.clone(), d.clone()], status_key), vec![a, c, d]);
    }
}
