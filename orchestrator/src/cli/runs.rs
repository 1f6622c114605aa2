//! `migrator runs`: recent schedule runs, newest first.

use super::Exit;
use super::output::print;
use crate::clock::format_ms;
use crate::schedule::RunRecord;
use crate::store::Store;
use clap::Args;

/// `runs` options.
#[derive(Debug, Args)]
pub struct RunsArgs {
    /// Only this schedule (`window:PHASE` and `once:PHASE` for phase runs).
    #[arg(long)]
    pub schedule: Option<String>,
    /// At most this many.
    #[arg(long, default_value_t = 50)]
    pub limit: u64,
}

/// Lists the runs.
pub(super) async fn run(store: &Store, args: RunsArgs, json: bool) -> anyhow::Result<Exit> {
    let runs = crate::schedule::list_runs(store, args.schedule.as_deref(), args.limit).await?;
    print(json, &runs, |runs| render(runs))?;
    Ok(Exit::Ok)
}

/// One line per run: schedule, fire time, start, end, node, outcome and counts.
fn render(runs: &[RunRecord]) -> String {
    let mut out = format!("{} runs\n", runs.len());
    for r in runs {
        out += &format!(
            "{:<24} fire {}  started {}  finished {}  node {}  {}{}\n",
            r.schedule,
            format_ms(r.fire_time),
            format_ms(r.started_at),
            r.finished_at.map(format_ms).unwrap_or("(running)".into()),
            r.node,
            r.outcome.as_deref().unwrap_or("-"),
            r.counts.as_ref().map(|c| format!("  {c}")).unwrap_or_default()
        );
    }
    out
}
