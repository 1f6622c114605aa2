//! `migrator failures`: Failed and Rejected items grouped by reason; and the pieces other
//! commands share with it (`--reason` for retry/cancel, the summary under `stuck` and `run
//! --once`).

use super::output::print;
use crate::clock::format_ms;
use crate::store::{FailureGroup, Failures, ReasonMatch, Selection, Store};
use clap::Args;
use schema::WorkflowState;
use std::collections::BTreeMap;
use std::time::Duration;

/// `failures` options.
#[derive(Debug, Args)]
pub struct FailuresArgs {
    /// Only items that failed within this long (e.g. 1h, 2d).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub since: Option<Duration>,
    /// At most this many groups (the largest); the total of groups and items is always shown.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
}

/// Lists the groups.
pub(super) async fn run(store: &Store, args: FailuresArgs, json: bool) -> anyhow::Result<super::Exit> {
    let since = args.since.map(|d| store.clock().now_ms() - crate::clock::millis(d));
    let r = store.failures(&Selection::all(), since, Some(args.limit)).await?;
    print(json, &r, render)?;
    Ok(super::Exit::Ok)
}

/// The totals, the groups, and how to retry one.
fn render(r: &Failures) -> String {
    let mut out = format!("{} failed or rejected items in {} groups\n", r.items, r.total_groups);
    out += &render_groups(&r.groups);
    if (r.groups.len() as u64) < r.total_groups {
        out += &format!("… and {} smaller groups (--limit)\n", r.total_groups - r.groups.len() as u64);
    }
    if !r.groups.is_empty() {
        out += "retry a group: migrator retry --reason '<reason>' (or a part of it that names one group)\n";
    }
    out
}

/// Groups as text: count, state, first and last seen, samples, and the reason key on its own
/// line (to copy into `--reason`).
pub(super) fn render_groups(groups: &[FailureGroup]) -> String {
    let mut out = String::new();
    for g in groups {
        let samples: Vec<String> = g.sample_a2_ids.iter().map(|id| id.to_string()).collect();
        out += &format!(
            "{:>8} {:<8} first {}  last {}  e.g. a2={}\n         reason: {}\n",
            g.count,
            g.state,
            format_ms(g.first_seen),
            format_ms(g.last_seen),
            samples.join(","),
            g.reason
        );
    }
    out
}

/// The line under `stuck`: how many are Failed and Rejected, and where to see them.
pub(super) fn parked_summary(counts: &BTreeMap<WorkflowState, u64>) -> String {
    let n = |s| counts.get(&s).copied().unwrap_or(0);
    let (failed, rejected) = (n(WorkflowState::Failed), n(WorkflowState::Rejected));
    if failed + rejected == 0 {
        return "no failed or rejected items\n".into();
    }
    format!(
        "{failed} failed and {rejected} rejected items in all: `migrator failures` groups them by reason\n"
    )
}

/// The failure group a `--reason` text names, or why none is.
pub(super) async fn resolve(store: &Store, text: &str) -> anyhow::Result<Result<String, String>> {
    Ok(match store.resolve_reason(text).await? {
        ReasonMatch::Exact(key) | ReasonMatch::Unique(key) => Ok(key),
        ReasonMatch::NoMatch => Err(format!("no failure group matches \"{text}\" (see `migrator failures`)")),
        ReasonMatch::Ambiguous(keys) => {
            let mut why =
                format!("\"{text}\" matches {} failure groups; give more of the reason:", keys.len());
            for k in keys.iter().take(10) {
                why += &format!("\n  {k}");
            }
            Err(why)
        }
    })
}
