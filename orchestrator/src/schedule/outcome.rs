//! What a firing records: how it ended ([`Outcome`]) and, for a phase's window, what it counted
//! ([`WindowCounts`]). Typed here so that nothing reads these back by string prefix or JSON key;
//! both serialize to the very strings and keys the `schedule_runs` table has always held, so
//! existing databases and the `runs` output stay the same.

use super::RunRecord;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// How a firing (or a `run --once`) ended, as stored in `schedule_runs.outcome`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Its action did its work: `ok`.
    Ok,
    /// A `run --once` stopped because its window closed with work left: `window closed`.
    WindowClosed,
    /// A `run --once` stopped because its phase was paused: `paused`.
    Paused,
    /// A `run --once` stopped by a signal: `interrupted`.
    Interrupted,
    /// Its action failed: `error: <why>`.
    Error(String),
    /// No node took the fire on time; the missed-fire policy skipped it: `skipped: <why>`.
    Skipped(String),
    /// Its node died before it finished: `abandoned: <why>`.
    Abandoned(String),
}

impl Outcome {
    /// Whether the firing did its work (a window that closed with work left did too): the
    /// firings `plan` measures throughput from. Not failed, skipped or abandoned ones.
    pub fn did_work(&self) -> bool {
        matches!(self, Outcome::Ok | Outcome::WindowClosed | Outcome::Paused | Outcome::Interrupted)
    }

    /// The stored outcome without its detail (`error: db gone` → `error`): what the
    /// `migrator_schedule_runs_total` metric labels a run with, so free text never becomes a label.
    pub fn kind(&self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::WindowClosed => "window closed",
            Outcome::Paused => "paused",
            Outcome::Interrupted => "interrupted",
            Outcome::Error(_) => "error",
            Outcome::Skipped(_) => "skipped",
            Outcome::Abandoned(_) => "abandoned",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Ok => f.write_str("ok"),
            Outcome::WindowClosed => f.write_str("window closed"),
            Outcome::Paused => f.write_str("paused"),
            Outcome::Interrupted => f.write_str("interrupted"),
            Outcome::Error(why) => write!(f, "error: {why}"),
            Outcome::Skipped(why) => write!(f, "skipped: {why}"),
            Outcome::Abandoned(why) => write!(f, "abandoned: {why}"),
        }
    }
}

/// A stored outcome this version does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown firing outcome {0:?}")]
pub struct UnknownOutcome(pub String);

impl FromStr for Outcome {
    type Err = UnknownOutcome;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let detail = |prefix: &str| s.strip_prefix(prefix).map(str::to_string);
        Ok(match s {
            "ok" => Outcome::Ok,
            "window closed" => Outcome::WindowClosed,
            "paused" => Outcome::Paused,
            "interrupted" => Outcome::Interrupted,
            _ => {
                if let Some(why) = detail("error: ") {
                    Outcome::Error(why)
                } else if let Some(why) = detail("skipped: ") {
                    Outcome::Skipped(why)
                } else if let Some(why) = detail("abandoned: ") {
                    Outcome::Abandoned(why)
                } else {
                    return Err(UnknownOutcome(s.to_string()));
                }
            }
        })
    }
}

impl Serialize for Outcome {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Outcome {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

/// What a phase's window counted (an `open-window` firing or a `run --once`), as stored in
/// `schedule_runs.counts`: what `plan` learns the measured throughput from. Missing keys read
/// as zero (older rows, hand-written ones).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct WindowCounts {
    /// The phase.
    pub phase: String,
    /// Items its steps could advance when the window opened.
    pub work_at_open: u64,
    /// And when it closed.
    pub work_at_close: u64,
    /// Items finished while it was open.
    pub done: u64,
    /// Seconds it was open (for this node).
    pub open_secs: f64,
}

impl WindowCounts {
    /// The counts of a window that opened with `at_open` items of work and closed with
    /// `at_close` after `open_secs` seconds.
    pub fn new(phase: &str, at_open: u64, at_close: u64, open_secs: f64) -> Self {
        WindowCounts {
            phase: phase.to_string(),
            work_at_open: at_open,
            work_at_close: at_close,
            done: at_open.saturating_sub(at_close),
            open_secs,
        }
    }
}

impl RunRecord {
    /// The outcome, typed (None while the firing is going, or for an outcome this version does not
    /// know).
    pub fn ended(&self) -> Option<Outcome> {
        self.outcome.as_deref().and_then(|o| o.parse().ok())
    }

    /// The counts, read as a window's (None if there are none or they are not a window's).
    pub fn window_counts(&self) -> Option<WindowCounts> {
        self.counts.clone().and_then(|c| serde_json::from_value(c).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn outcomes_keep_the_stored_spellings() {
        let cases = [
            (Outcome::Ok, "ok"),
            (Outcome::WindowClosed, "window closed"),
            (Outcome::Paused, "paused"),
            (Outcome::Interrupted, "interrupted"),
            (Outcome::Error("db gone".into()), "error: db gone"),
            (Outcome::Skipped("missed by 10s".into()), "skipped: missed by 10s"),
            (
                Outcome::Abandoned("its node stopped before the run finished".into()),
                "abandoned: its node stopped before the run finished",
            ),
        ];
        for (outcome, stored) in cases {
            assert_eq!(outcome.to_string(), stored);
            assert!(stored.starts_with(outcome.kind()), "{stored} is of kind {}", outcome.kind());
            assert_eq!(stored.parse::<Outcome>(), Ok(outcome.clone()));
            assert_eq!(serde_json::to_value(&outcome).unwrap(), json!(stored));
            assert_eq!(serde_json::from_value::<Outcome>(json!(stored)).unwrap(), outcome);
        }
        assert!("done".parse::<Outcome>().is_err());
        let worked: Vec<bool> = ["ok", "window closed", "error: x", "skipped: x", "abandoned: x"]
            .iter()
            .map(|s| s.parse::<Outcome>().unwrap().did_work())
            .collect();
        assert_eq!(worked, [true, true, false, false, false]);
    }

    #[test]
    fn window_counts_keep_the_stored_keys() {
        let c = WindowCounts::new("night", 100, 40, 3.5);
        let v = serde_json::to_value(&c).unwrap();
        let keys = json!({
            "phase": "night",
            "work_at_open": 100,
            "work_at_close": 40,
            "done": 60,
            "open_secs": 3.5,
        });
        assert_eq!(v, keys);
        // Extra keys (`end` of a `run --once`) are ignored, missing ones read as zero.
        let read: WindowCounts =
            serde_json::from_value(json!({ "done": 30, "open_secs": 600.0, "end": "done" })).unwrap();
        assert_eq!((read.done, read.open_secs, read.work_at_open), (30, 600.0, 0));
    }
}
