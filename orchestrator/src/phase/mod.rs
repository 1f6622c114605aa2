//! Phases: named slices of the migration plan. A phase selects items (A2 creation range, service
//! owners, resources), says which steps it may advance and in which order, when it may run (a
//! window: a cron schedule plus a duration, or always) and how fast (items per second and at
//! once). The dispatcher claims only for phases whose window is open and that are not paused;
//! items outside every such phase wait.

pub mod plan;

pub use crate::store::PhaseControl;

use crate::clock::millis;
use crate::cron::Cron;
use crate::store::{ClaimOrder, Selection};
use schema::WorkflowState;
use serde::Serialize;
use std::time::Duration;
use workers::StepKind;

/// One phase of the plan.
#[derive(Debug, Clone)]
pub struct Phase {
    /// Name (config key, CLI argument).
    pub name: String,
    /// Its items.
    pub selection: Selection,
    /// The steps it may advance, in lifecycle order.
    pub steps: Vec<StepKind>,
    /// The order its claims take items in.
    pub order: ClaimOrder,
    /// When it may run.
    pub window: Window,
    /// Items per second it may start (None: as fast as the steps go).
    pub rate: Option<f64>,
    /// Items it may have in flight at once.
    pub concurrency: usize,
    /// How its items are made available (the dialog created).
    pub make_available: MakeAvailable,
}

/// How a phase's items get their dialog (config `make_available`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MakeAvailable {
    /// By the make-available step, in calls of many ids, after migration (`"batched"`): for
    /// the backlog, where dialogs are created silently and when the plan says.
    #[default]
    Batched,
    /// By the migrate call itself (`makeAvailable: true`; `"with-migrate"`): for the live
    /// phase, where a fresh A2 message should reach its recipient's inbox at once. A3 creates
    /// the dialog in a background job with events and schedules the publish after it
    /// (contract COR-5, COR-25..27); the make-available step then only learns the dialog id,
    /// unless A3 answered it already.
    WithMigrate,
}

impl Phase {
    /// The states its steps advance: the items it still has work for are in these.
    pub fn states(&self) -> Vec<WorkflowState> {
        self.steps.iter().flat_map(|s| s.states().iter().copied()).collect()
    }
}

/// When a phase may claim work.
#[derive(Debug, Clone)]
pub enum Window {
    /// Any time.
    Always,
    /// From each fire of `cron` for `duration`.
    Scheduled {
        /// When windows open.
        cron: Cron,
        /// How long each stays open (real time: a 22:00 window of 8h closes at 05:00 or 07:00
        /// on the nights the clocks change).
        duration: Duration,
    },
}

/// A window's state at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum WindowState {
    /// Open until this instant (epoch ms; None: always open).
    Open(Option<i64>),
    /// Closed until this instant (epoch ms; None: never opens again).
    Closed(Option<i64>),
}

impl Window {
    /// Whether the window is open at `now_ms`, and until when.
    pub fn at(&self, now_ms: i64) -> WindowState {
        match self {
            Window::Always => WindowState::Open(None),
            Window::Scheduled { cron, duration } => {
                let len = millis(*duration);
                // A window may have opened before the latest fire (windows longer than the gap
                // between fires overlap): the latest fire decides, it is the one still open
                // longest.
                if let Some(opened) = cron.last_at_or_before(now_ms)
                    && now_ms < opened + len
                {
                    return WindowState::Open(Some(opened + len));
                }
                WindowState::Closed(cron.next_after(now_ms))
            }
        }
    }

    /// Whether the window is open at `now_ms`.
    pub fn is_open(&self, now_ms: i64) -> bool {
        matches!(self.at(now_ms), WindowState::Open(_))
    }

    /// The open intervals `[start, end)` from `from_ms` on, in order (the current one cut to
    /// start at `from_ms`). Always-on is one endless interval.
    pub fn intervals(&self, from_ms: i64) -> Box<dyn Iterator<Item = (i64, i64)> + '_> {
        match self {
            Window::Always => Box::new(std::iter::once((from_ms, i64::MAX))),
            Window::Scheduled { cron, duration } => {
                let len = millis(*duration);
                let current = match self.at(from_ms) {
                    WindowState::Open(Some(end)) => Some((from_ms, end)),
                    _ => None,
                };
                let mut covered = current.map(|c| c.1).unwrap_or(from_ms);
                Box::new(current.into_iter().chain(cron.fires_after(from_ms).filter_map(move |start| {
                    // Overlapping windows merge: only the part not yet covered counts.
                    let (s, e) = (start.max(covered), start + len);
                    (e > s).then(|| {
                        covered = e;
                        (s, e)
                    })
                })))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn oslo(d: u32, h: u32) -> i64 {
        chrono_tz::Europe::Oslo.with_ymd_and_hms(2026, 11, d, h, 0, 0).unwrap().timestamp_millis()
    }

    #[test]
    fn a_night_window_is_closed_at_noon_and_open_at_23_and_at_05() {
        let w = Window::Scheduled {
            cron: Cron::parse("0 0 22 * * *", "Europe/Oslo").unwrap(),
            duration: Duration::from_secs(8 * 3600),
        };
        assert_eq!(w.at(oslo(27, 12)), WindowState::Closed(Some(oslo(27, 22))));
        assert_eq!(w.at(oslo(27, 23)), WindowState::Open(Some(oslo(28, 6))));
        assert!(w.is_open(oslo(28, 5)));
        assert!(!w.is_open(oslo(28, 6)));
        let first: Vec<(i64, i64)> = w.intervals(oslo(27, 23)).take(2).collect();
        assert_eq!(first, vec![(oslo(27, 23), oslo(28, 6)), (oslo(28, 22), oslo(29, 6))]);
        assert!(Window::Always.is_open(0));
    }
}
