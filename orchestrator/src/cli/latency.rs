//! `migrator latency`: the live-latency benchmark (see `crate::latency`) on its own, emptied
//! database file unless `--db` names one (which must hold no items).

use super::Exit;
use super::output::print;
use crate::clock::SystemClock;
use crate::latency::{Feed, LatencyOptions, LatencyReport};
use crate::retry::RetryPolicy;
use crate::store::Store;
use clap::Args;
use std::sync::Arc;

/// `latency` options.
#[derive(Debug, Args)]
pub struct LatencyArgs {
    /// Items, written to the inbox one at a time (each a line appended to one export file).
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..))]
    pub items: u32,
    /// Daemons sharing the database (PostgreSQL for more than one).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=8))]
    pub nodes: u8,
    /// Generator seed.
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
    /// Write each item as a file of its own renamed into the inbox, instead of a line appended
    /// to one export file.
    #[arg(long)]
    pub per_file: bool,
}

/// Runs the benchmark on `store` (the database `target` names).
pub(super) async fn run(store: Store, args: LatencyArgs, target: &str, json: bool) -> anyhow::Result<Exit> {
    if store.status().await?.total > 0 {
        anyhow::bail!(
            "the latency benchmark needs a database without items (it uses data/latency.sqlite by default)"
        );
    }
    let target = target.to_string();
    let open = || {
        let target = target.clone();
        async move {
            let conn = crate::db::open(&target).await.map_err(|e| e.to_string())?;
            Ok(Store::new(conn, Arc::new(SystemClock), RetryPolicy::default()))
        }
    };
    let feed = if args.per_file { Feed::Rename } else { Feed::Append };
    let opts =
        LatencyOptions { items: args.items as usize, nodes: usize::from(args.nodes), seed: args.seed, feed };
    let r = crate::latency::measure(open, opts).await?;
    print(json, &r, render)?;
    Ok(Exit::Ok)
}

fn render(r: &LatencyReport) -> String {
    let from = match r.feed {
        Feed::Append => "line appended to the export",
        Feed::Rename => "file renamed into the inbox",
    };
    format!(
        "{} items, one at a time, {} daemon(s): {from} → DialogCreated p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms\n",
        r.items, r.nodes, r.p50_ms, r.p99_ms, r.max_ms
    )
}
