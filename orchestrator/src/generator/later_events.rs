//! Events that happen after a correspondence was exported: a late reminder, a late forwarding, or
//! a status change (with A2's near-duplicates), as `discover` reads them from events files.

use super::{Generator, WithinSecond, status};
use chrono::{Duration as Span, Utc};
use rand::Rng;
use workers::a2::{A2Correspondence, A2Event, A2EventBody};
use workers::a3::model::{CorrespondenceStatus, NotificationChannel, NotificationEvent, StatusEvent};

impl Generator {
    /// Status events that happen after `rec` was exported (for a share of items), with A2's
    /// near-duplicates. Only statuses A3's sync applies.
    pub fn later_events(&mut self, rec: &A2Correspondence) -> Vec<A2Event> {
        if !self.rng.random_bool(self.opts.later_event_rate) {
            return Vec::new();
        }
        if self.rng.random_bool(0.25) {
            // A reminder A2 sent after the export.
            let ev = NotificationEvent {
                notification_channel: NotificationChannel::Sms,
                notification_sent: Utc::now() - Span::minutes(self.rng.random_range(1..600)),
                altinn2_notification_id: rec.altinn2_correspondence_id * 10 + 9,
                notification_address: format!(
                    "+47{}",
                    90_000_000 + rec.altinn2_correspondence_id % 9_999_999
                ),
                is_reminder: true,
            };
            let body = A2EventBody::Notification(ev);
            return vec![A2Event { altinn2_correspondence_id: rec.altinn2_correspondence_id, body }];
        }
        if self.rng.random_bool(0.1) {
            // Forwarded after the export, by someone else than the recipient.
            let on = Utc::now() - Span::minutes(self.rng.random_range(1..600));
            let by = self.uuid();
            let body = A2EventBody::Forwarding(self.forwarding(on, by));
            return vec![A2Event { altinn2_correspondence_id: rec.altinn2_correspondence_id, body }];
        }
        let party =
            rec.status_history.first().map(|s| s.event_user_party_uuid).unwrap_or_else(|| self.uuid());
        // Every status A2 reports after the fact: those A3's status sync applies (read, confirmed,
        // archived, the delete kinds) and those it ignores (reserved, attachments downloaded).
        // Purges are rare: a purged item takes no further events.
        const LATER: [CorrespondenceStatus; 9] = [
            CorrespondenceStatus::Read,
            CorrespondenceStatus::Confirmed,
            CorrespondenceStatus::Archived,
            CorrespondenceStatus::SoftDeletedByRecipient,
            CorrespondenceStatus::RestoredByRecipient,
            CorrespondenceStatus::AttachmentsDownloaded,
            CorrespondenceStatus::Reserved,
            CorrespondenceStatus::PurgedByRecipient,
            CorrespondenceStatus::PurgedByAltinn,
        ];
        let pick =
            if self.rng.random_bool(0.1) { self.rng.random_range(7..9) } else { self.rng.random_range(0..7) };
        let at = Utc::now() - Span::minutes(self.rng.random_range(1..600));
        let ev = status(LATER[pick], at, party, None);
        let mut out = vec![A2Event {
            altinn2_correspondence_id: rec.altinn2_correspondence_id,
            body: A2EventBody::Status(ev.clone()),
        }];
        if self.rng.random_bool(0.3) {
            let twin = StatusEvent { status_changed: at.with_nanosecond_offset(250_000), ..ev };
            out.push(A2Event {
                altinn2_correspondence_id: rec.altinn2_correspondence_id,
                body: A2EventBody::Status(twin),
            });
        }
        out
    }
}
