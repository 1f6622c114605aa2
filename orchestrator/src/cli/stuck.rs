//! `migrator stuck`: items whose lease expired or that have not moved for a while (Failed ones
//! among them), and how many are Failed and Rejected in all.

use super::output::print;
use super::{Exit, failures};
use crate::clock::{format_ms, millis};
use crate::store::{Selection, Store, StuckItem};
use clap::Args;
use schema::WorkflowState;
use std::collections::BTreeMap;
use std::time::Duration;

/// `stuck` options.
#[derive(Debug, Args)]
pub struct StuckArgs {
    /// How long without a change counts as stuck (e.g. 30m, 2h).
    #[arg(long, default_value = "30m", value_parser = humantime::parse_duration)]
    pub older_than: Duration,
    /// At most this many items.
    #[arg(long, default_value_t = 100)]
    pub limit: u64,
}

/// Lists the stuck items. `--json` gives the items; the text adds the Failed and Rejected
/// totals under them.
pub(super) async fn run(store: &Store, args: StuckArgs, json: bool) -> anyhow::Result<Exit> {
    let items = store.stuck(millis(args.older_than), args.limit).await?;
    let (stalled, failed) = store.count_stuck(millis(args.older_than)).await?;
    let parked = store.failure_counts(&Selection::all(), None).await?;
    print(json, &items, |items| render(items, stalled + failed, &parked))?;
    Ok(Exit::Ok)
}

/// One line per item (with why it counts as stuck and its last error), then the totals. `total`
/// is how many there are in all: the list stops at `--limit`, the count does not.
fn render(items: &[StuckItem], total: u64, parked: &BTreeMap<WorkflowState, u64>) -> String {
    let failed = items.iter().filter(|s| s.item.state == WorkflowState::Failed).count();
    let shown = u64::try_from(items.len()).unwrap_or(u64::MAX);
    let mut out = if total > shown {
        format!("{total} stuck items; the first {shown} ({failed} of them failed), --limit shows more\n")
    } else {
        format!("{shown} stuck items ({failed} of them failed)\n")
    };
    for s in items {
        out += &format!(
            "{} a2={} {} batch={} attempt={} updated={} ({}){}\n",
            s.item.id,
            s.item.a2_id,
            s.item.state,
            s.item.batch,
            s.item.attempt,
            format_ms(s.item.updated_at),
            s.reason,
            s.item.last_error.as_deref().map(|e| format!(" last error: {e}")).unwrap_or_default()
        );
    }
    out + &failures::parked_summary(parked)
}
