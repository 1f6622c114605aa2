//! Cron expressions in a time zone, with the daylight-saving rule planners expect: a schedule
//! fires once per local wall-clock time it names.
//!
//! The `cron` crate on its own fires twice at a time that occurs twice (02:30 on the night clocks
//! go back) and never at a time that does not occur (02:30 on the night they go forward), which
//! would double or skip a nightly run. Here fire times are computed on the local wall-clock
//! timeline and then placed in real time: a repeated time fires at its first occurrence only, and
//! a skipped time fires when the clocks jump past it (02:30 → 03:00 summer time).

use chrono::{DateTime, Duration as Delta, LocalResult, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use std::str::FromStr;

/// A parsed cron expression and the time zone it is read in.
#[derive(Debug, Clone)]
pub struct Cron {
    schedule: std::sync::Arc<::cron::Schedule>,
    tz: Tz,
}

impl Cron {
    /// Parses `expr` (6 or 7 fields: sec min hour day-of-month month day-of-week [year]; 5
    /// fields are read as classic cron with second 0) in the IANA time zone `tz`.
    pub fn parse(expr: &str, tz: &str) -> Result<Cron, String> {
        let tz = parse_tz(tz)?;
        let fields: Vec<&str> = expr.split_whitespace().collect();
        // Classic cron numbers Sunday 0, the `cron` crate 1: a numeric day of week would silently
        // mean another day. Names are the same in both.
        if fields.len() == 5 && fields[4].chars().any(|c| c.is_ascii_digit()) {
            return Err(format!(
                "invalid cron expression {expr:?}: write the day of week as names (MON-FRI, SUN), not numbers"
            ));
        }
        let full = if fields.len() == 5 { format!("0 {expr}") } else { expr.to_string() };
        let schedule = ::cron::Schedule::from_str(&full).map_err(|e| {
            // The crate's message draws a caret diagram over several lines; its last line says why.
            let why = e.to_string();
            format!("invalid cron expression {expr:?}: {}", why.lines().last().unwrap_or_default().trim())
        })?;
        if schedule.upcoming(tz).next().is_none() {
            return Err(format!("cron expression {expr:?} never fires"));
        }
        Ok(Cron { schedule: std::sync::Arc::new(schedule), tz })
    }

    /// The time zone.
    pub fn tz(&self) -> Tz {
        self.tz
    }

    /// The expression as written (with the seconds field).
    pub fn source(&self) -> &str {
        self.schedule.source()
    }

    /// Fire times strictly after `after_ms`, in order, each once (epoch ms).
    pub fn fires_after(&self, after_ms: i64) -> impl Iterator<Item = i64> + '_ {
        let start = self.wall(after_ms);
        let mut last = after_ms;
        self.schedule.after(&start).filter_map(move |wall| {
            let at = self.place(wall.naive_utc());
            (at > last).then(|| {
                last = at;
                at
            })
        })
    }

    /// The next fire time after `after_ms`.
    pub fn next_after(&self, after_ms: i64) -> Option<i64> {
        self.fires_after(after_ms).next()
    }

    /// The latest fire time at or before `at_ms`.
    pub fn last_at_or_before(&self, at_ms: i64) -> Option<i64> {
        let start = self.wall(at_ms) + Delta::milliseconds(1);
        self.schedule
            .after(&start)
            .rev()
            .take(8)
            .map(|wall| self.place(wall.naive_utc()))
            .find(|t| *t <= at_ms)
    }

    /// `at_ms` as local wall-clock time, carried in a UTC value (the cron crate iterates that
    /// timeline without any gaps or repeats).
    fn wall(&self, at_ms: i64) -> DateTime<Utc> {
        let instant = Utc.timestamp_millis_opt(at_ms).single().unwrap_or_default();
        Utc.from_utc_datetime(&instant.with_timezone(&self.tz).naive_local())
    }

    /// A local wall-clock time placed in real time: its first occurrence, or the end of the gap
    /// it falls in.
    fn place(&self, wall: NaiveDateTime) -> i64 {
        match self.tz.from_local_datetime(&wall) {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.timestamp_millis(),
            LocalResult::None => {
                // Clocks jumped over this time: fire at the first minute that exists after it.
                let mut probe = wall;
                for _ in 0..(48 * 60) {
                    probe += Delta::minutes(1);
                    if let Some(t) = self.tz.from_local_datetime(&probe).earliest() {
                        return t.timestamp_millis();
                    }
                }
                wall.and_utc().timestamp_millis()
            }
        }
    }
}

/// Parses an IANA time zone name.
pub fn parse_tz(name: &str) -> Result<Tz, String> {
    name.parse::<Tz>()
        .map_err(|_| format!("unknown time zone {name:?} (use an IANA name such as Europe/Oslo)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oslo(y: i32, m: u32, d: u32, h: u32, min: u32) -> i64 {
        chrono_tz::Europe::Oslo.with_ymd_and_hms(y, m, d, h, min, 0).earliest().unwrap().timestamp_millis()
    }

    fn local(ms: i64) -> String {
        Utc.timestamp_millis_opt(ms)
            .unwrap()
            .with_timezone(&chrono_tz::Europe::Oslo)
            .format("%F %T %Z")
            .to_string()
    }

    #[test]
    fn nightly_at_22_fires_once_every_night_across_both_dst_changes() {
        let cron = Cron::parse("0 0 22 * * *", "Europe/Oslo").unwrap();
        for (from, to) in [((3, 25), (4, 2)), ((10, 21), (10, 29))] {
            let start = oslo(2026, from.0, from.1, 12, 0);
            let end = oslo(2026, to.0, to.1, 12, 0);
            let fires: Vec<i64> = cron.fires_after(start).take_while(|t| *t < end).collect();
            let nights =
                usize::try_from(i64::from(to.1) - i64::from(from.1) + if to.0 != from.0 { 31 } else { 0 })
                    .unwrap();
            assert_eq!(fires.len(), nights, "{:?}", fires.iter().map(|t| local(*t)).collect::<Vec<_>>());
            for t in &fires {
                assert!(local(*t).contains(" 22:00:00 "), "{}", local(*t));
            }
            let mut days: Vec<String> = fires.iter().map(|t| local(*t)[..10].to_string()).collect();
            days.dedup();
            assert_eq!(days.len(), fires.len(), "one fire per night");
        }
    }

    #[test]
    fn a_time_that_occurs_twice_fires_once_and_a_skipped_time_fires_at_the_jump() {
        let cron = Cron::parse("0 30 2 * * *", "Europe/Oslo").unwrap();
        // Autumn: 02:30 happens twice on 2026-10-25; one fire, at the first.
        let fires: Vec<String> = cron.fires_after(oslo(2026, 10, 24, 12, 0)).take(3).map(local).collect();
        assert_eq!(fires, ["2026-10-25 02:30:00 CEST", "2026-10-26 02:30:00 CET", "2026-10-27 02:30:00 CET"]);
        // Spring: 02:30 does not exist on 2026-03-29; it fires as the clocks reach 03:00.
        let fires: Vec<String> = cron.fires_after(oslo(2026, 3, 28, 12, 0)).take(3).map(local).collect();
        assert_eq!(
            fires,
            ["2026-03-29 03:00:00 CEST", "2026-03-30 02:30:00 CEST", "2026-03-31 02:30:00 CEST"]
        );
        // Hourly: each wall-clock hour once, so the repeated 02:00 of the 25-hour day fires once.
        let hourly = Cron::parse("0 0 * * * *", "Europe/Oslo").unwrap();
        let n = hourly
            .fires_after(oslo(2026, 10, 24, 23, 30))
            .take_while(|t| *t < oslo(2026, 10, 25, 23, 30))
            .count();
        assert_eq!(n, 24, "each wall-clock hour of the 25-hour day once");
    }

    #[test]
    fn last_fire_at_or_before() {
        let cron = Cron::parse("0 0 22 * * *", "Europe/Oslo").unwrap();
        let at = oslo(2026, 10, 25, 3, 0);
        assert_eq!(cron.last_at_or_before(at).map(local).unwrap(), "2026-10-24 22:00:00 CEST");
        let exactly = oslo(2026, 10, 25, 22, 0);
        assert_eq!(cron.last_at_or_before(exactly), Some(exactly));
        assert_eq!(cron.next_after(exactly).map(local).unwrap(), "2026-10-26 22:00:00 CET");
        let five = Cron::parse("15 4 * * *", "UTC").unwrap();
        assert_eq!(five.source(), "0 15 4 * * *");
    }

    #[test]
    fn bad_expressions_and_zones_are_explained() {
        assert!(Cron::parse("0 0 25 * * *", "Europe/Oslo").unwrap_err().contains("invalid cron expression"));
        assert!(
            Cron::parse("0 0 22 * * *", "Europe/Olso")
                .unwrap_err()
                .contains("unknown time zone \"Europe/Olso\"")
        );
        assert!(Cron::parse("0 0 0 1 1 * 2001", "UTC").unwrap_err().contains("never fires"));
        assert!(Cron::parse("0 22 * * 1-5", "UTC").unwrap_err().contains("as names"));
        assert!(Cron::parse("0 22 * * MON-FRI", "UTC").is_ok());
    }
}
