//! The issue collector the checks share: each value is converted or reported under its dotted key
//! (durations, minimums, time zones, cron expressions, dates), so that every bad value is reported
//! at once.

use super::{ConfigIssue, Cron, parse_tz};
use chrono::TimeZone;
use chrono_tz::Tz;
use std::time::Duration;

/// Collects issues while converting.
#[derive(Default)]
pub(super) struct Checker {
    pub(super) issues: Vec<ConfigIssue>,
}

impl Checker {
    pub(super) fn issue(&mut self, key: impl Into<String>, problem: impl Into<String>) {
        self.issues.push(ConfigIssue { key: key.into(), problem: problem.into() });
    }

    pub(super) fn duration(&mut self, key: &str, value: &str, min: Duration) -> Duration {
        match humantime::parse_duration(value) {
            Ok(d) if d >= min => d,
            Ok(_) => {
                self.issue(
                    key,
                    format!("{value:?} is too short (at least {})", humantime::format_duration(min)),
                );
                min
            }
            Err(e) => {
                self.issue(key, format!("{value:?} is not a duration such as 90s, 10m or 8h: {e}"));
                min
            }
        }
    }

    pub(super) fn at_least<T: PartialOrd + std::fmt::Display + Copy>(
        &mut self,
        key: &str,
        value: T,
        min: T,
    ) -> T {
        if value < min {
            self.issue(key, format!("{value} is too small (at least {min})"));
            return min;
        }
        value
    }

    pub(super) fn tz(&mut self, key: &str, value: &str) -> Tz {
        parse_tz(value).unwrap_or_else(|e| {
            self.issue(key, e);
            Tz::UTC
        })
    }

    pub(super) fn cron(&mut self, key: &str, expr: &str, tz: Tz) -> Option<Cron> {
        Cron::parse(expr, tz.name()).map_err(|e| self.issue(key, e)).ok()
    }

    /// A date (`2025-01-01`, midnight in `tz`) or an RFC 3339 instant, as epoch ms.
    pub(super) fn instant(&mut self, key: &str, value: &str, tz: Tz) -> Option<i64> {
        if let Ok(t) = chrono::DateTime::parse_from_rfc3339(value) {
            return Some(t.timestamp_millis());
        }
        match chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d") {
            // Midnight may not exist where clocks change at midnight: the first hour that does.
            Ok(d) => {
                let found = (0..3).find_map(|h| tz.from_local_datetime(&d.and_hms_opt(h, 0, 0)?).earliest());
                if found.is_none() {
                    self.issue(key, format!("{value:?} has no midnight in {tz}"));
                }
                found.map(|t| t.timestamp_millis())
            }
            Err(_) => {
                self.issue(key, format!("{value:?} is not a date (2025-01-01) or an RFC 3339 time"));
                None
            }
        }
    }
}
