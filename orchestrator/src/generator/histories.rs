//! What happened to a correspondence in A2 before the export: its status history (with A2's
//! near-duplicate reads), its notifications and reminders, and its forwardings.

use super::{Generator, OWNERS, WithinSecond, status};
use chrono::{DateTime, Duration as Span, Utc};
use rand::Rng;
use rand::rngs::StdRng;
use uuid::Uuid;
use workers::a3::model::{
    CorrespondenceStatus, ForwardingEvent, NotificationChannel, NotificationEvent, StatusEvent,
};

impl Generator {
    /// Published, then what a recipient does: read (with A2's near-duplicate), confirm, download
    /// attachments, archive, delete to the bin and restore. Purges never come with a record (A3
    /// stores a purge in a first migration as a delete event only); they arrive later.
    pub(super) fn status_history(
        &mut self,
        published: DateTime<Utc>,
        party: Uuid,
        attachments: bool,
    ) -> Vec<StatusEvent> {
        let mut history = vec![status(CorrespondenceStatus::Published, published, party, None)];
        if self.rng.random_bool(0.02) {
            // The recipient had reserved themselves against digital post.
            history.push(status(CorrespondenceStatus::Reserved, published, party, None));
        }
        if !self.rng.random_bool(0.6) {
            return history;
        }
        let read = published + Span::hours(self.rng.random_range(1..400));
        let ev = status(CorrespondenceStatus::Read, read, party, Some(self.uuid()));
        // A2 writes the same read from two data sources, microseconds apart.
        if self.rng.random_bool(0.3) {
            let mut twin = ev.clone();
            twin.status_changed = read.with_nanosecond_offset(self.rng.random_range(1..900) * 1000);
            history.push(twin);
        }
        history.push(ev);
        let mut at = read;
        let mut then = |rng: &mut StdRng| {
            at += Span::minutes(rng.random_range(1..600));
            at
        };
        if attachments && self.rng.random_bool(0.4) {
            history.push(status(
                CorrespondenceStatus::AttachmentsDownloaded,
                then(&mut self.rng),
                party,
                None,
            ));
        }
        if self.rng.random_bool(0.1) {
            history.push(status(CorrespondenceStatus::Confirmed, then(&mut self.rng), party, None));
        }
        if self.rng.random_bool(0.2) {
            history.push(status(CorrespondenceStatus::Archived, then(&mut self.rng), party, None));
        }
        if self.rng.random_bool(0.05) {
            history.push(status(
                CorrespondenceStatus::SoftDeletedByRecipient,
                then(&mut self.rng),
                party,
                None,
            ));
            if self.rng.random_bool(0.5) {
                history.push(status(
                    CorrespondenceStatus::RestoredByRecipient,
                    then(&mut self.rng),
                    party,
                    None,
                ));
            }
        }
        history
    }

    /// Notices and reminders on every channel; some twice, differing only in `isReminder` (A3
    /// answers 500 to such a pair in one first migration, so the client must send one).
    pub(super) fn notifications(&mut self, id: i64, published: DateTime<Utc>) -> Vec<NotificationEvent> {
        let mut out = Vec::new();
        for n in 0..self.rng.random_range(0..3) {
            let channel = NotificationChannel::ALL[self.rng.random_range(0..NotificationChannel::ALL.len())];
            let address = match channel {
                NotificationChannel::Sms | NotificationChannel::SmsPreferred => {
                    format!("+47{}", 40_000_000 + id % 9_999_999)
                }
                _ => format!("mottaker{}@example.no", id % 9973),
            };
            let ev = NotificationEvent {
                notification_channel: channel,
                notification_sent: published + Span::minutes(5 + n * 60 * 24 * 7),
                altinn2_notification_id: id * 10 + n,
                notification_address: address,
                is_reminder: n > 0,
            };
            if self.rng.random_bool(0.1) {
                let mut twin = ev.clone();
                twin.is_reminder = !twin.is_reminder;
                out.push(twin);
            }
            out.push(ev);
        }
        out
    }

    /// Forwardings of each kind: to a user (by A2 id and UUID), to an e-mail address, to a
    /// mailbox supplier (an end-user system); some repeated with another text.
    pub(super) fn forwardings(&mut self, published: DateTime<Utc>, party: Uuid) -> Vec<ForwardingEvent> {
        let mut out = Vec::new();
        if !self.rng.random_bool(0.08) {
            return out;
        }
        let on = published + Span::days(self.rng.random_range(1..30));
        let ev = self.forwarding(on, party);
        out.push(ev.clone());
        if self.rng.random_bool(0.3) {
            out.push(ForwardingEvent { forwarding_text: Some("Videresendt".into()), ..ev });
        }
        out
    }

    pub(super) fn forwarding(&mut self, on: DateTime<Utc>, by_party: Uuid) -> ForwardingEvent {
        let mut ev = ForwardingEvent {
            forwarded_on_date: on,
            forwarded_by_party_uuid: by_party,
            forwarded_by_user_id: self.rng.random_range(1_000..9_999_999),
            forwarded_by_user_uuid: self.uuid(),
            forwarded_to_user_id: None,
            forwarded_to_user_uuid: None,
            forwarding_text: self.rng.random_bool(0.5).then(|| "Til orientering".into()),
            forwarded_to_email: None,
            mailbox_supplier: None,
        };
        match self.rng.random_range(0..3) {
            0 => {
                ev.forwarded_to_user_id = Some(self.rng.random_range(1_000..9_999_999));
                ev.forwarded_to_user_uuid = Some(self.uuid());
            }
            1 => ev.forwarded_to_email = Some("kollega@example.no".into()),
            _ => {
                ev.mailbox_supplier =
                    Some(format!("0192:{}", OWNERS[self.rng.random_range(0..OWNERS.len())].0))
            }
        }
        ev
    }
}
