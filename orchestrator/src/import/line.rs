//! One export line: parsed, checked, and classified as a correspondence or an event. Never panics,
//! whatever the bytes (a property test feeds it random and mutated input).

use chrono::{DateTime, Utc};
use serde::Deserialize;
use workers::a2::{A2Correspondence, A2Event};

/// A good line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// A correspondence record.
    Correspondence(Box<A2Correspondence>),
    /// A later event.
    Event(A2Event),
    /// Nothing (blank line).
    Blank,
}

/// The earliest creation date an A2 correspondence can have (Altinn 2 started in 2006; allow
/// older test data back to 2000).
fn earliest() -> DateTime<Utc> {
    DateTime::from_timestamp(946_684_800, 0).unwrap_or_default()
}

/// Parses one line. The error is the reason an operator reads in the reject file.
pub fn parse(text: &str, now: DateTime<Utc>) -> Result<Line, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Ok(Line::Blank);
    }
    if trimmed.contains('\0') || trimmed.contains("\\u0000") {
        return Err("contains a NUL character, which no text field may hold".into());
    }
    if let Some(line) = fast(trimmed) {
        match &line {
            Line::Correspondence(record) => check_record(record, now)?,
            Line::Event(event) => check_event(event, now)?,
            Line::Blank => {}
        }
        return Ok(line);
    }
    slow(trimmed, now)
}

/// Reads the line through a `serde_json::Value`, so that a bad field is named by its path.
fn slow(trimmed: &str, now: DateTime<Utc>) -> Result<Line, String> {
    let value: serde_json::Value =
        serde_json::from_str(trimmed).map_err(|e| format!("not valid JSON: {e}"))?;
    let Some(obj) = value.as_object() else {
        return Err("not a JSON object".into());
    };
    if obj.contains_key("kind") {
        let event: A2Event = serde_path_to_error::deserialize(value)
            .map_err(|e| format!("invalid event: {}", field_error(&e)))?;
        check_event(&event, now)?;
        Ok(Line::Event(event))
    } else {
        let record: A2Correspondence = serde_path_to_error::deserialize(value)
            .map_err(|e| format!("invalid correspondence: {}", field_error(&e)))?;
        check_record(&record, now)?;
        Ok(Line::Correspondence(Box::new(record)))
    }
}

/// Whether the object has a top-level `kind` (an event line), read without building it.
#[derive(serde::Deserialize)]
struct Probe {
    /// True when the key is there, whatever its value (`null` too, as `contains_key` says).
    #[serde(default, deserialize_with = "present")]
    kind: bool,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    serde::de::IgnoredAny::deserialize(d).map(|_| true)
}

/// The good line's common case, read straight from the text: the object's top level is probed for
/// `kind`, then the text is deserialised as the type that says. Gives up (None) on anything the
/// slow path below would treat differently or reject, which then reads the line again for the
/// reason with its field path: `parse` says the same of every line either way, the fast path only
/// skips building a `serde_json::Value` tree and a second walk over it.
fn fast(trimmed: &str) -> Option<Line> {
    if !trimmed.starts_with('{') {
        return None;
    }
    // A key is written `"kind"`, or with escapes (`"\u006bind"`): without either in the text
    // there is no `kind` key, and the probe's walk over the line can be skipped.
    let kind = (trimmed.contains("\"kind\"") || trimmed.contains("\\u"))
        && serde_json::from_str::<Probe>(trimmed).ok()?.kind;
    if kind {
        serde_json::from_str(trimmed).ok().map(Line::Event)
    } else {
        serde_json::from_str(trimmed).ok().map(|r| Line::Correspondence(Box::new(r)))
    }
}

/// `field: what is wrong` (the field path as the export names it).
fn field_error(e: &serde_path_to_error::Error<serde_json::Error>) -> String {
    let path = e.path().to_string();
    if path == "." || path.is_empty() { e.inner().to_string() } else { format!("{path}: {}", e.inner()) }
}

fn check_time(field: &str, t: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), String> {
    if t < earliest() {
        return Err(format!("{field} {t} is before 2000"));
    }
    if t > now + chrono::Duration::days(366 * 5) {
        return Err(format!("{field} {t} is too far in the future"));
    }
    Ok(())
}

fn check_record(r: &A2Correspondence, now: DateTime<Utc>) -> Result<(), String> {
    if r.altinn2_correspondence_id <= 0 {
        return Err(format!("altinn2CorrespondenceId must be positive (is {})", r.altinn2_correspondence_id));
    }
    if r.created > now + chrono::Duration::days(1) {
        return Err(format!("created {} is in the future", r.created));
    }
    check_time("created", r.created, now)?;
    check_time("requestedPublishTime", r.requested_publish_time, now)?;
    if let Some(due) = r.due_date_time
        && due < r.created
    {
        return Err(format!("dueDateTime {due} is before created {}", r.created));
    }
    for (field, value) in [("serviceOwner", &r.service_owner), ("resourceId", &r.resource_id)] {
        if value.trim().is_empty() {
            return Err(format!("{field} is empty"));
        }
    }
    let mut ids = std::collections::HashSet::new();
    for a in &r.attachments {
        if a.altinn2_attachment_id.trim().is_empty() {
            return Err("an attachment has an empty altinn2AttachmentId".into());
        }
        if !ids.insert(&a.altinn2_attachment_id) {
            return Err(format!("attachment id {} appears twice", a.altinn2_attachment_id));
        }
        if a.location.trim().is_empty() {
            return Err(format!("attachment {} has no location", a.altinn2_attachment_id));
        }
        let p = std::path::Path::new(&a.location);
        if p.is_absolute() || p.components().any(|c| matches!(c, std::path::Component::ParentDir)) {
            return Err(format!(
                "attachment {} location must be relative, without `..`",
                a.altinn2_attachment_id
            ));
        }
        if let Some(n) = a.location.strip_prefix("synthetic:")
            && n.parse::<usize>().map_or(true, |n| n > workers::a2::MAX_SYNTHETIC)
        {
            return Err(format!("attachment {}: bad synthetic size `{n}`", a.altinn2_attachment_id));
        }
    }
    for e in r.events() {
        check_time("event time", e.occurred(), now)?;
    }
    Ok(())
}

fn check_event(e: &A2Event, now: DateTime<Utc>) -> Result<(), String> {
    if e.altinn2_correspondence_id <= 0 {
        return Err(format!("altinn2CorrespondenceId must be positive (is {})", e.altinn2_correspondence_id));
    }
    check_time("event time", e.body.occurred(), now)?;
    workers::validation::validate_event(&e.body).map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const GOOD: &str = include_str!("../../../docs/examples/correspondences.ndjson");
    const EVENTS: &str = include_str!("../../../docs/examples/events.ndjson");

    fn now() -> DateTime<Utc> {
        "2026-11-27T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn the_documented_examples_parse() {
        let good: Vec<_> = GOOD.lines().map(|l| parse(l, now())).collect();
        assert!(good.iter().all(|l| matches!(l, Ok(Line::Correspondence(_)))), "{good:?}");
        let events: Vec<_> = EVENTS.lines().map(|l| parse(l, now())).collect();
        assert!(events.iter().all(|l| matches!(l, Ok(Line::Event(_)))), "{events:?}");
    }

    #[test]
    fn lines_the_fast_path_leaves_to_the_slow_one_read_the_same() {
        let base: serde_json::Value = serde_json::from_str(GOOD.lines().next().unwrap()).unwrap();
        let text = base.to_string();
        let body = text.strip_prefix('{').unwrap();
        for line in [
            // `kind` present but null: an event line (that is not a valid event), as before.
            format!("{{\"kind\": null, {body}"),
            // The key written with an escape is the same key.
            format!("{{\"\\u006bind\": null, {body}"),
            // A key twice: the slow path's object keeps the last.
            format!("{{\"title\": \"first\", {body}"),
            format!("{{\"kind\": \"status\", \"kind\": \"status\", {body}"),
            text.clone(),
            EVENTS.lines().next().unwrap().to_string(),
        ] {
            assert_eq!(parse(&line, now()), slow(&line, now()), "{line}");
        }
        assert!(matches!(
            parse(&format!("{{\"title\": \"first\", {body}"), now()),
            Ok(Line::Correspondence(_))
        ));
        assert!(parse(&format!("{{\"kind\": null, {body}"), now()).unwrap_err().starts_with("invalid event"));
        assert!(
            parse(&format!("{{\"\\u006bind\": 1, {body}"), now()).unwrap_err().starts_with("invalid event")
        );
    }

    #[test]
    fn every_kind_of_bad_line_has_a_reason() {
        let base: serde_json::Value = serde_json::from_str(GOOD.lines().next().unwrap()).unwrap();
        let with = |f: &dyn Fn(&mut serde_json::Map<String, serde_json::Value>)| {
            let mut v = base.clone();
            f(v.as_object_mut().unwrap());
            v.to_string()
        };
        let cases: Vec<(String, &str)> = vec![
            ("{\"altinn2CorrespondenceId\": 1,".into(), "not valid JSON"),
            ("[1,2]".into(), "not a JSON object"),
            (
                with(&|o| {
                    o.insert("language".into(), "nb\u{0}".into());
                }),
                "NUL character",
            ),
            (
                with(&|o| {
                    o.insert("attachments".into(), serde_json::json!([{"altinn2AttachmentId": "x", "fileName": "f", "location": "/etc/passwd"}]));
                }),
                "must be relative",
            ),
            (
                with(&|o| {
                    o.insert("attachments".into(), serde_json::json!([{"altinn2AttachmentId": "x", "fileName": "f", "location": "synthetic:99999999999999"}]));
                }),
                "bad synthetic size",
            ),
            (
                with(&|o| {
                    o.remove("recipient");
                }),
                "missing field `recipient`",
            ),
            (
                with(&|o| {
                    o.insert("partyId".into(), "abc".into());
                }),
                "partyId: invalid type",
            ),
            (
                with(&|o| {
                    o.insert("created".into(), "2024-02-30T10:00:00Z".into());
                }),
                "created: input is out of range",
            ),
            (
                with(&|o| {
                    o.insert("created".into(), "1999-01-01T00:00:00Z".into());
                }),
                "before 2000",
            ),
            (
                with(&|o| {
                    o.insert("created".into(), "2030-01-01T00:00:00Z".into());
                }),
                "in the future",
            ),
            (
                with(&|o| {
                    o.insert("altinn2CorrespondenceId".into(), 0.into());
                }),
                "must be positive",
            ),
            (
                with(&|o| {
                    o.insert("dueDateTime".into(), "2001-01-01T00:00:00Z".into());
                }),
                "before created",
            ),
            ("{\"altinn2CorrespondenceId\": 5, \"kind\": \"status\", \"event\": {}}".into(), "invalid event"),
            (
                "{\"altinn2CorrespondenceId\": 5, \"kind\": \"telegram\", \"event\": {}}".into(),
                "invalid event",
            ),
            (
                serde_json::json!({"altinn2CorrespondenceId": 5, "kind": "forwarding", "event": {
                    "forwardedOnDate": "2024-03-01T10:00:00Z",
                    "forwardedByPartyUuid": "0191f5a6-0000-7e3a-9d2f-4a5b6c7d8e9f",
                    "forwardedByUserId": 42,
                    "forwardedByUserUuid": "0191f5a6-0001-7e3a-9d2f-4a5b6c7d8e9f",
                    "mailboxSupplier": "910753614"}})
                .to_string(),
                "mailboxSupplier `910753614` must be",
            ),
            (
                serde_json::json!({"altinn2CorrespondenceId": 5, "kind": "notification", "event": {
                    "notificationChannel": "Email", "notificationSent": "2024-03-01T10:00:00Z",
                    "altinn2NotificationId": 3_000_000_000_i64, "notificationAddress": "a@example.no"}})
                .to_string(),
                "does not fit A3's 32-bit integer",
            ),
        ];
        for (line, want) in cases {
            let err = parse(&line, now()).expect_err(&line);
            assert!(err.contains(want), "{line}\n  gave `{err}`, wanted `{want}`");
        }
        assert_eq!(parse("   ", now()), Ok(Line::Blank));
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]

        #[test]
        fn the_fast_path_says_what_the_slow_path_says(line in 0usize..3, cut in 0usize..2000, at in 0usize..2000, byte in any::<u8>()) {
            let src: Vec<&str> = GOOD.lines().chain(EVENTS.lines()).collect();
            let mut b = src[line % src.len()].as_bytes().to_vec();
            if !b.is_empty() {
                let i = at % b.len();
                b[i] = byte;
                // A third of the cases keep the whole line, so that the fast path reads some.
                if cut % 3 != 0 {
                    b.truncate(cut.max(1).min(b.len()));
                }
            }
            let text = String::from_utf8_lossy(&b);
            let trimmed = text.trim();
            if !trimmed.is_empty() && !trimmed.contains('\0') && !trimmed.contains("\\u0000") {
                prop_assert_eq!(parse(&text, now()), slow(trimmed, now()));
            }
        }

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let text = String::from_utf8_lossy(&bytes);
            let _ = parse(&text, now());
        }

        #[test]
        fn mutated_valid_lines_never_panic(line in 0usize..3, cut in 0usize..2000, at in 0usize..2000, byte in any::<u8>()) {
            let src: Vec<&str> = GOOD.lines().chain(EVENTS.lines()).collect();
            let mut b = src[line % src.len()].as_bytes().to_vec();
            if !b.is_empty() {
                let i = at % b.len();
                b[i] = byte;
                b.truncate(cut.max(1).min(b.len()));
            }
            let _ = parse(&String::from_utf8_lossy(&b), now());
        }
    }
}
