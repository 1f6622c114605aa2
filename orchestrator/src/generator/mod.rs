//! Realistic synthetic A2 data: correspondences with histories, notifications, forwardings and
//! attachments in nb/nn/en, A2's near-duplicate events, a share of deliberately invalid items, and
//! status events that happen later. Seeded: the same seed gives the same data.

use chrono::{DateTime, Duration as Span, TimeZone, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use uuid::Uuid;
use workers::a2::{A2Attachment, A2Correspondence, A2Event, A2EventBody, synthetic_bytes};
use workers::a3::model::*;
use workers::migrate::md5_hex;

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeneratorOptions {
    /// Random seed.
    pub seed: u64,
    /// First A2 id.
    pub first_id: i64,
    /// Share of items with invalid content (rejected by validation).
    pub invalid_rate: f64,
    /// Share of items that get a later status event.
    pub later_event_rate: f64,
}

impl Default for GeneratorOptions {
    fn default() -> Self {
        Self { seed: 2026, first_id: 1_000_000, invalid_rate: 0.01, later_event_rate: 0.1 }
    }
}

const OWNERS: [(&str, &str, &str); 5] = [
    ("974761076", "Skatteetaten", "skd-skattemelding-varsel"),
    ("889640782", "NAV", "nav-vedtak-brev"),
    ("974760673", "Brønnøysundregistrene", "brg-aarsregnskap-purring"),
    ("991825827", "Digitaliseringsdirektoratet", "digdir-melding"),
    ("974760843", "Statens vegvesen", "svv-kjoretoy-varsel"),
];

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

/// A seeded source of A2 correspondences and later events.
pub struct Generator {
    rng: StdRng,
    opts: GeneratorOptions,
    next: i64,
    /// The items made invalid on purpose, so that a check of the outcome need not ask the
    /// client's own validation which ones should be rejected.
    invalid: std::collections::BTreeSet<i64>,
}

impl Generator {
    /// A generator starting at `opts.first_id`.
    pub fn new(opts: GeneratorOptions) -> Self {
        Self { rng: StdRng::seed_from_u64(opts.seed), opts, next: opts.first_id, invalid: Default::default() }
    }

    /// The A2 ids of the records made invalid on purpose so far.
    pub fn invalid_ids(&self) -> &std::collections::BTreeSet<i64> {
        &self.invalid
    }

    fn uuid(&mut self) -> Uuid {
        Uuid::from_u128(self.rng.random::<u128>() & !(0xF << 76) | (4 << 76))
    }

    fn time_between(&mut self, from: DateTime<Utc>, to: DateTime<Utc>) -> DateTime<Utc> {
        let span = (to - from).num_microseconds().unwrap_or(1).max(1);
        from + Span::microseconds(self.rng.random_range(0..span))
    }

    /// Published, then what a recipient does: read (with A2's near-duplicate), confirm, download
    /// attachments, archive, delete to the bin and restore. Purges never come with a record (A3
    /// stores a purge in a first migration as a delete event only); they arrive later.
    fn status_history(
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
    fn notifications(&mut self, id: i64, published: DateTime<Utc>) -> Vec<NotificationEvent> {
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
    fn forwardings(&mut self, published: DateTime<Utc>, party: Uuid) -> Vec<ForwardingEvent> {
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

    fn forwarding(&mut self, on: DateTime<Utc>, by_party: Uuid) -> ForwardingEvent {
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

    /// PDFs, some encrypted, most with their MD5 checksum (the one A3 compares with the bytes).
    fn attachments(&mut self, id: i64) -> Vec<A2Attachment> {
        (0..self.rng.random_range(0..3))
            .map(|n| {
                let altinn2_attachment_id = format!("{id}-{n}");
                let len = self.rng.random_range(200..4_000);
                let checksum =
                    self.rng.random_bool(0.8).then(|| md5_hex(&synthetic_bytes(&altinn2_attachment_id, len)));
                A2Attachment {
                    file_name: format!("vedlegg-{n}.pdf"),
                    display_name: Some(format!("Vedlegg {}", n + 1)),
                    is_encrypted: self.rng.random_bool(0.1),
                    checksum,
                    location: format!("synthetic:{len}"),
                    altinn2_attachment_id,
                }
            })
            .collect()
    }

    fn external_references(&mut self, id: i64) -> Vec<ExternalReference> {
        let mut out = Vec::new();
        if self.rng.random_bool(0.1) {
            let kind = [
                ReferenceType::Generic,
                ReferenceType::AltinnAppInstance,
                ReferenceType::DialogportenProcessId,
            ][self.rng.random_range(0..3)];
            let value = match kind {
                ReferenceType::AltinnAppInstance => format!("50012345/{}", self.uuid()),
                ReferenceType::DialogportenProcessId => format!("urn:no:sak:{id}"),
                _ => format!("SAK-{id}"),
            };
            out.push(ExternalReference { reference_value: value, reference_type: kind });
        }
        if self.rng.random_bool(0.05) {
            out.push(ExternalReference {
                reference_value: "Information".into(),
                reference_type: ReferenceType::DialogportenTransmissionType,
            });
        }
        out
    }

    fn reply_options(&mut self, id: i64) -> Vec<ReplyOption> {
        if !self.rng.random_bool(0.1) {
            return Vec::new();
        }
        vec![ReplyOption {
            link_url: format!("https://svar.example.no/sak/{id}"),
            link_text: self.rng.random_bool(0.7).then(|| "Svar her".into()),
        }]
    }

    fn property_list(&mut self, id: i64) -> std::collections::BTreeMap<String, String> {
        let mut out = std::collections::BTreeMap::new();
        if self.rng.random_bool(0.1) {
            out.insert("saksnummer".into(), id.to_string());
            out.insert("arkivkode".into(), format!("{}", self.rng.random_range(100..999)));
        }
        out
    }

    /// The next correspondence.
    pub fn record(&mut self) -> A2Correspondence {
        let id = self.next;
        self.next += 1;
        let start = Utc.with_ymd_and_hms(2019, 1, 1, 0, 0, 0).single().unwrap_or_default();
        let end = Utc.with_ymd_and_hms(2025, 12, 31, 0, 0, 0).single().unwrap_or_default();
        let created = self.time_between(start, end);
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

/// A status event with the status's name as its text.
fn status(status: CorrespondenceStatus, at: DateTime<Utc>, party: Uuid, user: Option<Uuid>) -> StatusEvent {
    StatusEvent {
        status,
        status_text: status.as_str().into(),
        status_changed: at,
        event_user_uuid: user,
        event_user_party_uuid: party,
    }
}

/// A stable party UUID per service owner (the sending party of its attachments).
fn owner_party(org: &str) -> Uuid {
    let n: u64 = org.parse().unwrap_or_default();
    Uuid::from_u128((0x0192_0000_0000_4000_8000_u128 << 48) | u128::from(n))
}

/// What `write_export` wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ExportReport {
    /// Files written.
    pub files: Vec<String>,
    /// Correspondence lines (good ones).
    pub correspondences: u64,
    /// Event lines (good ones).
    pub events: u64,
    /// Deliberately broken lines.
    pub bad_lines: u64,
}

/// Writes `items` correspondences as export files under `dir` (`correspondences-NNNN.ndjson`,
/// `files` of them) and their later events (`events-NNNN.ndjson`), with a share `bad_line_rate`
/// of broken lines (cut JSON, a missing field, a mistyped field, an impossible date), streaming.
pub fn write_export(
    opts: GeneratorOptions,
    dir: &std::path::Path,
    items: u64,
    files: u64,
    bad_line_rate: f64,
) -> std::io::Result<ExportReport> {
    use std::io::Write;
    std::fs::create_dir_all(dir)?;
    let mut g = Generator::new(opts);
    let mut bad = StdRng::seed_from_u64(opts.seed ^ 0x5eed);
    let mut report = ExportReport::default();
    let files = files.max(1);
    let per_file = items.div_ceil(files);
    let mut written = 0;
    for f in 0..files {
        let cpath = dir.join(format!("correspondences-{:04}.ndjson", f + 1));
        let epath = dir.join(format!("events-{:04}.ndjson", f + 1));
        let mut cw = std::io::BufWriter::new(std::fs::File::create(&cpath)?);
        let mut ew = std::io::BufWriter::new(std::fs::File::create(&epath)?);
        let mut n = 0;
        while n < per_file && written < items {
            let rec = g.record();
            let later = g.later_events(&rec);
            let line = serde_json::to_string(&rec).map_err(std::io::Error::other)?;
            if bad.random_bool(bad_line_rate.clamp(0.0, 1.0)) {
                writeln!(cw, "{}", break_line(&line, &mut bad))?;
                report.bad_lines += 1;
            } else {
                writeln!(cw, "{line}")?;
                report.correspondences += 1;
            }
            for e in later {
                writeln!(ew, "{}", serde_json::to_string(&e).map_err(std::io::Error::other)?)?;
                report.events += 1;
            }
            n += 1;
            written += 1;
        }
        cw.flush()?;
        ew.flush()?;
        report.files.push(cpath.display().to_string());
        report.files.push(epath.display().to_string());
    }
    Ok(report)
}

/// One of the ways real exports break.
fn break_line(line: &str, rng: &mut StdRng) -> String {
    match rng.random_range(0..4) {
        0 => {
            // Cut mid-line (on a character boundary: the text is UTF-8).
            let mut at = line.len() / 2;
            while !line.is_char_boundary(at) {
                at -= 1;
            }
            line[..at].to_string()
        }
        1 => line.replacen("\"recipient\":", "\"recipientX\":", 1),
        2 => line.replacen("\"partyId\":", "\"partyId\":\"not a number\",\"x\":", 1),
        _ => {
            // An impossible date: 30 February.
            match line.find("\"created\":\"") {
                Some(i) => {
                    let start = i + "\"created\":\"".len();
                    format!("{}2023-02-30{}", &line[..start], &line[start + 10..])
                }
                None => "{".into(),
            }
        }
    }
}

/// Moves a time within its second (never across it), as A2's second data source does.
trait WithinSecond {
    fn with_nanosecond_offset(self, nanos: u32) -> Self;
}

impl WithinSecond for DateTime<Utc> {
    fn with_nanosecond_offset(self, nanos: u32) -> Self {
        use chrono::Timelike;
        let n = (self.nanosecond() % 1_000_000_000 + nanos) % 1_000_000_000;
        self.with_nanosecond(n).unwrap_or(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use workers::validation::validate;

    #[test]
    fn seeded_and_realistic() {
        let opts = GeneratorOptions { invalid_rate: 0.05, ..GeneratorOptions::default() };
        let a: Vec<_> = {
            let mut g = Generator::new(opts);
            (0..500).map(|_| g.record()).collect()
        };
        let b: Vec<_> = {
            let mut g = Generator::new(opts);
            (0..500).map(|_| g.record()).collect()
        };
        assert_eq!(a, b, "same seed, same data");
        let invalid: std::collections::BTreeSet<i64> =
            a.iter().filter(|r| validate(r).is_some()).map(|r| r.altinn2_correspondence_id).collect();
        assert!((5..=60).contains(&invalid.len()), "{} invalid of 500", invalid.len());
        let mut g = Generator::new(opts);
        (0..500).for_each(|_| drop(g.record()));
        assert_eq!(&invalid, g.invalid_ids(), "exactly the deliberately invalid records fail validation");
        for lang in ["nb", "nn", "en"] {
            assert!(a.iter().any(|r| r.language == lang), "{lang} present");
        }
        assert!(a.iter().any(|r| !r.attachments.is_empty()));
        assert!(a.iter().any(|r| !r.forwarding_history.is_empty()));
        // Near-duplicates exist: more events than distinct dedup keys.
        let events: Vec<_> = a.iter().flat_map(|r| r.events()).collect();
        let keys: std::collections::HashSet<_> = a
            .iter()
            .flat_map(|r| r.events().into_iter().map(move |e| (r.altinn2_correspondence_id, e.dedup_key())))
            .collect();
        assert!(keys.len() < events.len());
    }

    #[test]
    fn broken_lines_are_cut_on_character_boundaries() {
        let mut rng = StdRng::seed_from_u64(7);
        let line = "{\"title\":\"ÅÆØ åæø ÅÆØ åæø\",\"created\":\"2024-01-01T00:00:00Z\"}";
        for _ in 0..100 {
            let _ = break_line(line, &mut rng);
        }
    }
}
