//! `DateTimeOffset` as A3 reads, compares and stores it: parsed from ISO 8601 as System.Text.Json
//! does, truncated to the second for dedup (`SyncEventDateTimeOffsetExtensions.cs:19-23`), and
//! stored with PostgreSQL's microsecond precision (`timestamp with time zone`,
//! `ApplicationDbContextModelSnapshot.cs:515`).

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Timelike, Utc};

/// Parses an ISO 8601 date or date-time the way System.Text.Json reads a `DateTimeOffset`:
/// `YYYY-MM-DD`, optionally `Thh:mm[:ss[.fraction]]`, optionally `Z` or `±hh[:mm]`. Fractions beyond
/// 7 digits (.NET ticks) are truncated. Without an offset STJ uses the server's local offset; A3 runs
/// in UTC, so the simulator reads such values as UTC.
pub fn parse(s: &str) -> Option<DateTime<Utc>> {
    let b = s.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let t = s.get(r)?;
        if t.bytes().all(|c| c.is_ascii_digit()) { t.parse().ok() } else { None }
    };
    let date = NaiveDate::from_ymd_opt(i32::try_from(num(0..4)?).ok()?, num(5..7)?, num(8..10)?)?;
    let mut i = 10;
    let (mut h, mut mi, mut sec, mut nanos) = (0, 0, 0, 0u32);
    if i < b.len() && (b[i] == b'T' || b[i] == b't') {
        h = num(i + 1..i + 3)?;
        if b.get(i + 3) != Some(&b':') {
            return None;
        }
        mi = num(i + 4..i + 6)?;
        i += 6;
        if b.get(i) == Some(&b':') {
            sec = num(i + 1..i + 3)?;
            i += 3;
            if b.get(i) == Some(&b'.') {
                let start = i + 1;
                let mut end = start;
                while end < b.len() && b[end].is_ascii_digit() {
                    end += 1;
                }
                if end == start {
                    return None;
                }
                let digits: String = s[start..end].chars().take(7).collect();
                let ticks: u32 = format!("{digits:0<7}").parse().ok()?;
                nanos = ticks * 100;
                i = end;
            }
        }
    }
    let offset_secs: i64 = match b.get(i) {
        None => 0,
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(&c @ (b'+' | b'-')) => {
            let oh = i64::from(num(i + 1..i + 3)?);
            let om = match b.len() - (i + 3) {
                0 => 0,
                2 => i64::from(num(i + 3..i + 5)?),
                3 if b[i + 3] == b':' => i64::from(num(i + 4..i + 6)?),
                _ => return None,
            };
            if oh > 14 || om > 59 {
                return None;
            }
            let v = oh * 3600 + om * 60;
            if c == b'-' { -v } else { v }
        }
        _ => return None,
    };
    let naive = date.and_hms_nano_opt(h, mi, sec, nanos)?;
    Some(Utc.from_utc_datetime(&naive) - Duration::seconds(offset_secs))
}

/// `TruncateToSecondUtc` (`SyncEventDateTimeOffsetExtensions.cs:19-23`): the UTC instant with the
/// sub-second part dropped.
pub fn truncate_to_second(t: DateTime<Utc>) -> DateTime<Utc> {
    t.with_nanosecond(0).unwrap_or(t)
}

/// What PostgreSQL keeps of a `timestamp with time zone`: whole microseconds (Npgsql divides .NET
/// ticks by 10).
pub(crate) fn stored(t: DateTime<Utc>) -> DateTime<Utc> {
    t.with_nanosecond(t.nanosecond() / 1000 * 1000).unwrap_or(t)
}

/// `0001-01-01T00:00:00+00:00`, `default(DateTimeOffset)`: what a missing value-typed date binds to.
pub(crate) fn min_value() -> DateTime<Utc> {
    NaiveDate::from_ymd_opt(1, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|n| Utc.from_utc_datetime(&n))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// The second-precision form used in dedup keys: `2024-01-06T11:10:21Z`.
pub(crate) fn key_form(t: DateTime<Utc>) -> String {
    truncate_to_second(t).format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_stj_reads() {
        let t = parse("2025-06-30T12:06:09.487+02:00").unwrap();
        assert_eq!(t.to_rfc3339(), "2025-06-30T10:06:09.487+00:00");
        assert_eq!(parse("2024-01-05").unwrap().to_rfc3339(), "2024-01-05T00:00:00+00:00");
        assert_eq!(parse("2024-01-05T10:00").unwrap().to_rfc3339(), "2024-01-05T10:00:00+00:00");
        let t = parse("2024-01-05T10:00:00.123456789Z").unwrap();
        assert_eq!(t.nanosecond(), 123_456_700);
        assert_eq!(stored(t).nanosecond(), 123_456_000);
        assert!(parse("2024-13-05").is_none());
        assert!(parse("yesterday").is_none());
        assert!(parse("2024-01-05T10:00:00+0").is_none());
        assert_eq!(key_form(parse("2024-01-05T10:00:00.9-01:00").unwrap()), "2024-01-05T11:00:00Z");
    }
}
