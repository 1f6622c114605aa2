//! One whole correspondence: the sender, recipient, texts in nb/nn/en and dates, with its
//! histories, attachments and references, and the share made invalid on purpose (and why).

use super::{Generator, OWNERS};
use chrono::{Duration as Span, TimeZone, Utc};
use rand::Rng;
use uuid::Uuid;
use workers::a2::A2Correspondence;

const TEXTS: [(&str, &str, &str, &str); 3] = [
    (
        "nb",
        "Vedtak om",
        "Du har fått et nytt vedtak.",
        "Les vedtaket i sin helhet. Har du spørsmål, ta kontakt med oss.",
    ),
    (
        "nn",
        "Vedtak om",
        "Du har fått eit nytt vedtak.",
        "Les vedtaket i heilskap. Har du spørsmål, ta kontakt med oss.",
    ),
    (
        "en",
        "Decision on",
        "You have received a new decision.",
        "Read the full decision. If you have questions, contact us.",
    ),
];

/// Why an item is invalid, for the generated share.
const INVALID: [&str; 5] =
    ["title_too_long", "language", "summary_too_long", "body_too_long", "no_recipient"];
impl Generator {
    /// The next correspondence.
    pub fn record(&mut self) -> A2Correspondence {
        let id = self.next;
        self.next += 1;
        let start = Utc.with_ymd_and_hms(2019, 1, 1, 0, 0, 0).single().unwrap_or_default();
        let end = Utc.with_ymd_and_hms(2025, 12, 31, 0, 0, 0).single().unwrap_or_default();
        let created = match self.opts.count {
            Some(n) => self.time_in_slot(start, end, u64::try_from(id - self.opts.first_id).unwrap_or(0), n),
            None => self.time_between(start, end),
        };
        let (org, owner_name, resource) = OWNERS[self.rng.random_range(0..OWNERS.len())];
        let lang_roll: f64 = self.rng.random();
        let (language, title, summary, body) = TEXTS[if lang_roll < 0.8 {
            0
        } else if lang_roll < 0.95 {
            1
        } else {
            2
        }];
        let party_id = self.rng.random_range(50_000_000..60_000_000);
        let recipient = if self.rng.random_bool(0.7) {
            format!(
                "urn:altinn:person:identifier-no:{:011}",
                self.rng.random_range(1_000_000_000u64..31_129_999_999)
            )
        } else {
            format!(
                "urn:altinn:organization:identifier-no:{}",
                self.rng.random_range(800_000_000u64..999_999_999)
            )
        };
        let party = self.uuid();
        let published = created + Span::minutes(self.rng.random_range(0..60));
        let attachments = self.attachments(id);
        let status_history = self.status_history(published, party, !attachments.is_empty());
        let notification_history = self.notifications(id, published);
        let forwarding_history = self.forwardings(published, party);
        let mut rec = A2Correspondence {
            altinn2_correspondence_id: id,
            party_id,
            service_owner: org.into(),
            resource_id: resource.into(),
            recipient,
            sender: format!("0192:{org}"),
            sender_party_uuid: Some(owner_party(org)),
            message_sender: Some(owner_name.into()),
            senders_reference: format!("{resource}-{id}"),
            created,
            requested_publish_time: created,
            published: Some(published),
            due_date_time: self.rng.random_bool(0.2).then(|| created + Span::days(30)),
            language: language.into(),
            title: format!("{title} sak {id}"),
            summary: summary.into(),
            body: format!("{body} Saksnummer {id}."),
            is_confirmation_needed: self.rng.random_bool(0.1),
            ignore_reservation: self.rng.random_bool(0.05).then_some(true),
            external_references: self.external_references(id),
            reply_options: self.reply_options(id),
            property_list: self.property_list(id),
            status_history,
            notification_history,
            forwarding_history,
            attachments,
        };
        if self.rng.random_bool(self.opts.invalid_rate) {
            self.invalid.insert(id);
            match INVALID[self.rng.random_range(0..INVALID.len())] {
                "title_too_long" => rec.title = "Å".repeat(256),
                "language" => rec.language = "de".into(),
                "summary_too_long" => rec.summary = "s".repeat(300),
                "body_too_long" => rec.body = "b".repeat(30_001),
                _ => rec.recipient = String::new(),
            }
        }
        rec
    }
}

/// A stable party UUID per service owner (the sending party of its attachments).
fn owner_party(org: &str) -> Uuid {
    let n: u64 = org.parse().unwrap_or_default();
    Uuid::from_u128((0x0192_0000_0000_4000_8000_u128 << 48) | u128::from(n))
}
