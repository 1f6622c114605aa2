//! `migrator demo`: synthetic A2 data through every step against the Altinn 3 simulator, on its
//! own fresh database unless `--db` names one, verified at the end (exit 1 when the
//! verification fails).

use super::Exit;
use super::output::{count_rows, print};
use super::signal::cancel_on_signal;
use super::sim::FaultArgs;
use crate::demo::{DemoOptions, DemoReport};
use crate::store::Store;
use clap::Args;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// `demo` options.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Items to generate.
    #[arg(long, default_value_t = 10_000)]
    pub items: u64,
    /// Seed for the data and the faults.
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
    /// Calls per second per endpoint (0 = unlimited).
    #[arg(long, default_value_t = 0)]
    pub rate: u32,
    /// Items each step works on at once.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// A3 bearer token for the run (default: a random one); never printed or logged.
    #[arg(long, env = "MIGRATOR_A3_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Read the A3 bearer token from this file instead.
    #[arg(long, conflicts_with = "token")]
    pub token_file: Option<PathBuf>,
    /// Faults.
    #[command(flatten)]
    pub faults: FaultArgs,
}

/// Runs the demo until done or a signal, then verifies it against the simulator.
pub(super) async fn run(store: Store, args: DemoArgs, json: bool) -> anyhow::Result<Exit> {
    use std::io::IsTerminal;
    let cancel = cancel_on_signal()?;
    let opts = DemoOptions {
        items: args.items,
        seed: args.seed,
        faults: args.faults.faults(),
        rate: args.rate,
        concurrency: args.concurrency,
        progress: !json && std::io::stderr().is_terminal(),
        token: match (&args.token, &args.token_file) {
            (_, Some(path)) => Some(workers::a3::Secret::from_file(path)?),
            (Some(t), None) => Some(workers::a3::Secret::new(t.clone())),
            (None, None) => None,
        },
        ..DemoOptions::default()
    };
    let r = crate::demo::run(store, opts, cancel).await?;
    print(json, &r, render)?;
    Ok(if r.verification.ok() { Exit::Ok } else { Exit::Error })
}

/// Throughput, items by state, rejections, A3 calls and faults, then the verification: its
/// counts, the first violations and event mismatches, and the verdict.
fn render(r: &DemoReport) -> String {
    let v = &r.verification;
    let mut out = format!(
        "demo: {} items in {:.1}s, {:.0} items/s to Synced\n",
        r.items, r.elapsed_secs, r.items_per_sec
    );
    out += &count_rows(r.by_state.iter().map(|(s, n)| (s, *n)), 8);
    if !r.rejected.is_empty() {
        out += "rejected (first 20):\n";
        for (id, why) in &r.rejected {
            out += &format!("  a2={id}: {why}\n");
        }
    }
    let retries: u64 = r.runs.iter().map(|x| x.retries).sum();
    out += &format!(
        "A3 calls: {}\nfaults injected: {}; retries scheduled: {retries}\n",
        counts(&r.calls),
        r.faults_injected
    );
    out += &rate_limit(r);
    out += &format!(
        "verified against the simulator: {} of {} valid items present, {} missing, {} unexpected, {} without dialog, \
         {} attachment mismatches, events {} of {} present, {} event mismatches, {} stored twice, {} contract violations, \
         {} of {} invalid items rejected\n",
        v.present,
        v.expected,
        v.missing.len(),
        v.unexpected.len(),
        v.without_dialog.len(),
        v.attachment_mismatches.len(),
        v.events_present,
        v.events_expected,
        v.event_mismatches.len(),
        v.duplicates_stored,
        v.violations.len(),
        v.invalid - v.invalid_not_rejected.len() as u64,
        v.invalid
    );
    for x in v.violations.iter().take(10) {
        out += &format!("  violation: {x}\n");
    }
    for (id, what) in v.event_mismatches.iter().take(10) {
        out += &format!("  events of a2={id}: {what}\n");
    }
    out += if v.ok() { "VERIFIED: nothing missing, nothing duplicated\n" } else { "VERIFICATION FAILED\n" };
    out
}

/// Per endpoint the rate limit refused calls on: refused of all calls, calls taken per second
/// while the endpoint was in use, and the client's pace (nothing without a rate limit or a pace).
fn rate_limit(r: &DemoReport) -> String {
    let mut out = String::new();
    for (name, calls) in &r.calls {
        let refused = r.rate_limited.get(name).copied().unwrap_or(0);
        let pace = r.pace.get(name).copied().unwrap_or_default();
        if refused == 0 && pace.decreases == 0 {
            continue;
        }
        let secs = r.active_ms.get(name).copied().unwrap_or(0) as f64 / 1000.0;
        let taken = calls.saturating_sub(refused) as f64 / secs.max(1e-3);
        let share = refused as f64 * 100.0 / (*calls).max(1) as f64;
        let now = pace.rate.map_or("unpaced".to_string(), |r| format!("{r:.0}/s"));
        let lowest = pace.lowest.map_or(String::new(), |l| format!(", lowest {l:.0}/s"));
        out += &format!(
            "  {name}: {refused} of {calls} calls refused by the rate limit ({share:.1}%), {taken:.0} calls/s taken \
             over {secs:.1}s; client pace {now}{lowest}, slowed in {} of {} epochs\n",
            pace.decreases, pace.epochs
        );
    }
    out
}

/// Counts by name as `attachment 9784, correspondence 9889` ("none" when empty).
fn counts(by_name: &BTreeMap<String, u64>) -> String {
    if by_name.is_empty() {
        return "none".into();
    }
    by_name.iter().map(|(name, n)| format!("{name} {n}")).collect::<Vec<_>>().join(", ")
}
