//! Checking one `[phases.<name>]` table into a [`Phase`]: its selection (dates in the phase's
//! time zone), steps, claim order, window, rate and how its items are made available.

use super::checker::Checker;
use super::raw;
use super::{ClaimOrder, Phase, Selection, Window};
use crate::phase::MakeAvailable;
use chrono_tz::Tz;
use std::time::Duration;
use workers::StepKind;

/// `default_concurrency` is `altinn3.concurrency`: a phase that does not say may keep as many
/// items in flight as the client allows calls per endpoint. (A fixed 16 capped a phase at about
/// 100 items/s when A3 answers in 50 ms, with the client allowing 64 calls at once.)
pub(super) fn phase(
    c: &mut Checker,
    name: &str,
    p: &raw::RawPhase,
    tz: Tz,
    default_concurrency: usize,
) -> Phase {
    let key = |k: &str| format!("phases.{name}.{k}");
    if name.is_empty() || !name.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_') {
        c.issue(format!("phases.{name}"), "phase names use letters, digits, '-' and '_'");
    }
    let created_from = p.created_from.as_deref().and_then(|v| c.instant(&key("created_from"), v, tz));
    let created_to = p.created_to.as_deref().and_then(|v| c.instant(&key("created_to"), v, tz));
    if let (Some(f), Some(t)) = (created_from, created_to)
        && f >= t
    {
        c.issue(key("created_to"), "is not after created_from");
    }
    let mut steps = Vec::new();
    for s in &p.steps {
        match s.replace('-', "_").as_str() {
            "all" => steps.extend(StepKind::ALL),
            "migrate" => steps.push(StepKind::Migrate),
            "make_available" => steps.push(StepKind::MakeAvailable),
            "sync" => steps.push(StepKind::Sync),
            other => {
                c.issue(key("steps"), format!("unknown step {other:?} (migrate, make-available, sync, all)"))
            }
        }
    }
    steps.sort_by_key(|s| StepKind::ALL.iter().position(|k| k == s));
    steps.dedup();
    if p.steps.is_empty() {
        c.issue(key("steps"), "is empty: a phase must advance at least one step");
    }
    let order = match p.order.as_str() {
        "due" => ClaimOrder::Due,
        "newest-first" => ClaimOrder::NewestFirst,
        "oldest-first" => ClaimOrder::OldestFirst,
        other => {
            c.issue(key("order"), format!("unknown order {other:?} (due, newest-first, oldest-first)"));
            ClaimOrder::Due
        }
    };
    let window = match &p.window {
        None => Window::Always,
        Some(w) => {
            let wtz = w.time_zone.as_deref().map(|z| c.tz(&key("window.time_zone"), z)).unwrap_or(tz);
            let cron = c.cron(&key("window.cron"), &w.cron, wtz);
            let duration = c.duration(&key("window.duration"), &w.duration, Duration::from_secs(1));
            match cron {
                Some(cron) => Window::Scheduled { cron, duration },
                None => Window::Always,
            }
        }
    };
    if let Some(rate) = p.rate
        && !(rate.is_finite() && (0.001..=1_000_000.0).contains(&rate))
    {
        c.issue(key("rate"), format!("{rate} must be between 0.001 and 1000000 items per second"));
    }
    let make_available = match p.make_available.as_str() {
        "batched" => MakeAvailable::Batched,
        "with-migrate" => MakeAvailable::WithMigrate,
        other => {
            c.issue(key("make_available"), format!("unknown value {other:?} (batched, with-migrate)"));
            MakeAvailable::Batched
        }
    };
    Phase {
        name: name.to_string(),
        selection: Selection {
            created_from,
            created_to,
            service_owners: p.service_owners.clone(),
            resources: p.resources.clone(),
        },
        steps,
        order,
        window,
        rate: p.rate,
        concurrency: c.at_least(&key("concurrency"), p.concurrency.unwrap_or(default_concurrency), 1),
        make_available,
    }
}
