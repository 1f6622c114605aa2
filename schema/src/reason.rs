//! Failure reasons: an item's error reduced to what items failing the same way share, so that
//! `migrator failures` can count them with a plain `GROUP BY`.
//!
//! A reason is (step, endpoint if known, HTTP status if known, the error's first line with ids
//! stripped). The store writes it as a `reason` column in the same UPDATE that writes
//! `last_error`: regular expressions are not portable SQL (SQLite has none built in), and a
//! grouping computed in memory could drift from the database's counts.
//!
//! The endpoint and status are read from the text the A3 client writes for a non-2xx answer,
//! `"<endpoint>: HTTP <status>: <detail>"` (`workers::a3::failure::classify_status`), or
//! `"<endpoint>: <transport error>"`, wherever it stands in the message (the state machine may
//! prefix it, e.g. `gave up after 5 attempts: `).

use crate::WorkflowState;
use serde::Serialize;

/// The endpoint names the A3 client puts in front of its errors (`Endpoint::name`). Kept here
/// because this crate sits below the client.
pub const ENDPOINTS: [&str; 6] =
    ["attachment", "correspondence", "make_available", "sync_status", "sync_notification", "sync_forwarding"];

/// Separates the parts of a reason key.
const SEP: &str = " | ";

/// What is shown and grouped by for unknown parts.
const UNKNOWN: &str = "-";

/// Longest message kept in a reason (characters).
const MAX_MESSAGE: usize = 200;

/// A2 ids below this are not replaced by `<a2id>` (test data: a tiny id would be found in
/// unrelated numbers such as "after 4 attempts"). Real A2 ids are far above it.
const MIN_A2_ID: i64 = 100;

/// Digit runs at least this long are ids, counts or timestamps: replaced by `<n>`.
const LONG_NUMBER: usize = 4;

/// An error reduced to its group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reason {
    /// The step that failed (`migrate`, `make_available`, `sync`), or `-`.
    pub step: String,
    /// The A3 endpoint, when the error names one.
    pub endpoint: Option<String>,
    /// The HTTP status, when A3 answered.
    pub status: Option<u16>,
    /// The error's first line without endpoint and status, ids replaced by placeholders.
    pub message: String,
}

/// The step that advances an item in `state` (for parked states: give their `resume_state`).
pub fn step_name(state: WorkflowState) -> &'static str {
    match state {
        WorkflowState::CreatedInA2 => "migrate",
        WorkflowState::Migrated => "make_available",
        WorkflowState::DialogCreated | WorkflowState::SyncPending => "sync",
        WorkflowState::Synced
        | WorkflowState::Failed
        | WorkflowState::Rejected
        | WorkflowState::Cancelled => UNKNOWN,
    }
}

impl Reason {
    /// The reason of `error`, raised by the step of `state` for the item `a2_id`.
    pub fn of(state: WorkflowState, a2_id: i64, error: &str) -> Reason {
        let (endpoint, status, rest) = split(first_line(error));
        Reason {
            step: step_name(state).to_string(),
            endpoint: endpoint.map(str::to_string),
            status,
            message: truncate(&normalise(&rest, Some(a2_id)), MAX_MESSAGE),
        }
    }

    /// The key stored in `workflows.reason` and matched by `retry --reason`:
    /// `step | endpoint | status | message`, `-` for an unknown part.
    pub fn key(&self) -> String {
        let status = self.status.map(|s| s.to_string());
        [
            self.step.as_str(),
            self.endpoint.as_deref().unwrap_or(UNKNOWN),
            status.as_deref().unwrap_or(UNKNOWN),
            self.message.as_str(),
        ]
        .join(SEP)
    }

    /// A key back into its parts (None if it is not one).
    pub fn parse_key(key: &str) -> Option<Reason> {
        let mut parts = key.splitn(4, SEP);
        let (step, endpoint, status, message) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        let known = |s: &str| (s != UNKNOWN).then(|| s.to_string());
        Some(Reason {
            step: step.to_string(),
            endpoint: known(endpoint),
            status: if status == UNKNOWN { None } else { Some(status.parse().ok()?) },
            message: message.to_string(),
        })
    }
}

/// The HTTP status of a 5xx answer the error reports, if it reports one.
pub fn server_status(error: &str) -> Option<u16> {
    split(first_line(error)).1.filter(|s| (500..600).contains(s))
}

/// True when two errors of one item say the same thing (ids and volatile numbers aside).
pub fn same_error(a: &str, b: &str) -> bool {
    let norm = |e: &str| {
        let (endpoint, status, rest) = split(first_line(e));
        (endpoint.map(str::to_string), status, normalise(&rest, None))
    };
    norm(a) == norm(b)
}

/// The first line, trimmed.
pub fn first_line(error: &str) -> &str {
    error.lines().next().unwrap_or("").trim()
}

/// Finds `<endpoint>: ` (at the start or after `: `) and an `HTTP <status>` right after it;
/// returns them and the line without them.
fn split(line: &str) -> (Option<&'static str>, Option<u16>, String) {
    for at in std::iter::once(0).chain(line.match_indices(": ").map(|(i, _)| i + 2)) {
        let tail = &line[at..];
        let Some(ep) =
            ENDPOINTS.iter().find(|ep| tail.strip_prefix(**ep).is_some_and(|t| t.starts_with(": ")))
        else {
            continue;
        };
        let after = &tail[ep.len() + 2..];
        let (status, rest) = match after.strip_prefix("HTTP ") {
            Some(s) if s.len() >= 3 && s.as_bytes()[..3].iter().all(u8::is_ascii_digit) => {
                let code = s[..3].parse().ok();
                let rest = s[3..].strip_prefix(": ").or_else(|| s[3..].strip_prefix(':')).unwrap_or(&s[3..]);
                (code, rest)
            }
            _ => (None, after),
        };
        return (Some(ep), status, format!("{}{}", &line[..at], rest.trim()));
    }
    (None, None, line.to_string())
}

/// Replaces UUIDs by `<uuid>`, the item's A2 id by `<a2id>` and numbers of four or more digits
/// by `<n>`.
pub fn normalise(text: &str, a2_id: Option<i64>) -> String {
    let a2 = a2_id.filter(|id| *id >= MIN_A2_ID).map(|id| id.to_string());
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        let word_before = i > 0 && bytes[i - 1].is_ascii_alphanumeric();
        if !word_before && is_uuid_at(bytes, i) {
            out.push_str("<uuid>");
            i += 36;
            continue;
        }
        if bytes[i].is_ascii_digit() {
            let end = i + bytes[i..].iter().take_while(|b| b.is_ascii_digit()).count();
            let run = &text[i..end];
            let word_after = end < bytes.len() && bytes[end].is_ascii_alphanumeric();
            if a2.as_deref() == Some(run) && !word_before && !word_after {
                out.push_str("<a2id>");
            } else if run.len() >= LONG_NUMBER {
                out.push_str("<n>");
            } else {
                out.push_str(run);
            }
            i = end;
            continue;
        }
        let ch = text[i..].chars().next().expect("in bounds on a char boundary");
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

/// A UUID in its hyphenated form (8-4-4-4-12 hex digits) starts at `i`, and no hex digit follows.
fn is_uuid_at(b: &[u8], i: usize) -> bool {
    if b.len() < i + 36 {
        return false;
    }
    let ok = b[i..i + 36].iter().enumerate().all(|(k, c)| match k {
        8 | 13 | 18 | 23 => *c == b'-',
        _ => c.is_ascii_hexdigit(),
    });
    ok && b.get(i + 36).is_none_or(|c| !c.is_ascii_alphanumeric())
}

fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_errors_split_into_endpoint_status_and_message() {
        let r = Reason::of(
            WorkflowState::CreatedInA2,
            1_234_567,
            "attachment: HTTP 500: Internal error for 0190a0b2-1c3d-7e4f-8a9b-0c1d2e3f4a5b (a2 1234567)\nstack",
        );
        assert_eq!(r.step, "migrate");
        assert_eq!(r.endpoint.as_deref(), Some("attachment"));
        assert_eq!(r.status, Some(500));
        assert_eq!(r.message, "Internal error for <uuid> (a2 <a2id>)");
        assert_eq!(r.key(), "migrate | attachment | 500 | Internal error for <uuid> (a2 <a2id>)");
        assert_eq!(Reason::parse_key(&r.key()), Some(r));
    }

    #[test]
    fn prefixes_stay_in_the_message() {
        let r = Reason::of(
            WorkflowState::Migrated,
            5,
            "gave up after 5 attempts: make_available: HTTP 503: busy",
        );
        assert_eq!((r.endpoint.as_deref(), r.status), (Some("make_available"), Some(503)));
        assert_eq!(r.message, "gave up after 5 attempts: busy");
        let t = Reason::of(WorkflowState::SyncPending, 5, "sync_status: timed out: operation timed out");
        assert_eq!((t.step.as_str(), t.endpoint.as_deref(), t.status), ("sync", Some("sync_status"), None));
        assert_eq!(t.message, "timed out: operation timed out");
        let plain = Reason::of(WorkflowState::CreatedInA2, 5, "no readable A2 record for this item");
        assert_eq!(plain.key(), "migrate | - | - | no readable A2 record for this item");
        assert_eq!(Reason::parse_key(&plain.key()), Some(plain));
    }

    #[test]
    fn ids_and_long_numbers_are_placeholders_short_numbers_stay() {
        assert_eq!(normalise("file 98765432.pdf of 4 (is 300)", Some(42)), "file <n>.pdf of 4 (is 300)");
        assert_eq!(normalise("item 4711 and 47110", Some(4711)), "item <a2id> and <n>");
        assert_eq!(normalise("after 4 attempts", Some(4)), "after 4 attempts", "tiny ids are not replaced");
        assert_eq!(normalise("ø 0190A0B2-1C3D-7E4F-8A9B-0C1D2E3F4A5B.", None), "ø <uuid>.");
        let long = "é".repeat(300);
        assert_eq!(Reason::of(WorkflowState::CreatedInA2, 1, &long).message.chars().count(), MAX_MESSAGE + 1);
    }

    #[test]
    fn server_errors_and_sameness() {
        assert_eq!(server_status("attachment: HTTP 500: boom"), Some(500));
        assert_eq!(server_status("gave up after 2 attempts: correspondence: HTTP 502: x"), Some(502));
        assert_eq!(server_status("attachment: HTTP 404: nope"), None);
        assert_eq!(server_status("503 Service Unavailable"), None, "not the client's format");
        assert!(same_error(
            "attachment: HTTP 500: trace 0190a0b2-1c3d-7e4f-8a9b-0c1d2e3f4a5b",
            "attachment: HTTP 500: trace 0190a0b2-1c3d-7e4f-8a9b-0c1d2e3f4a5c"
        ));
        assert!(!same_error("attachment: HTTP 500: boom", "attachment: HTTP 502: boom"));
        assert!(!same_error("attachment: HTTP 500: boom", "correspondence: HTTP 500: boom"));
        assert!(!same_error("attachment: HTTP 500: boom", "attachment: HTTP 500: bang"));
    }
}
