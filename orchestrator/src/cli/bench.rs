//! `migrator bench`: the engine's throughput benchmark (N items through three no-op steps) on
//! its own database file unless `--db` names one.

use super::Exit;
use super::output::print;
use super::signal::cancel_on_signal;
use crate::bench::{BenchOptions, BenchReport};
use crate::db;
use crate::dispatcher::DispatcherConfig;
use crate::store::Store;
use clap::Args;
use std::time::Duration;

/// `bench` options.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Items to run.
    #[arg(long, default_value_t = 100_000)]
    pub items: u64,
    /// Time each step takes per item (e.g. 0ms, 5ms).
    #[arg(long, default_value = "0ms", value_parser = humantime::parse_duration)]
    pub step_delay: Duration,
    /// Concurrent items per step.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Items per claim.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u16).range(1..))]
    pub claim_batch: u16,
    /// Lease length (a crashed node's items come back after this).
    #[arg(long, default_value = "60s", value_parser = parse_lease)]
    pub lease: Duration,
    /// Finish the bench items already in the database instead of enqueueing new ones.
    #[arg(long)]
    pub resume: bool,
    /// Measure the operations server instead of the engine: enqueue the items (unless
    /// `--resume`), serve the database in-process, and time `/api/v1/status`, `/metrics` and
    /// the overview page over HTTP (50 fetches each).
    #[arg(long)]
    pub http: bool,
}

/// A lease of at least a second (the heartbeat renews it every third of it).
fn parse_lease(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| e.to_string())?;
    if d < Duration::from_secs(1) { Err("a lease must be at least 1s".into()) } else { Ok(d) }
}

/// Runs the bench on `store` (the database `target` names) until done or a signal.
pub(super) async fn run(store: Store, args: BenchArgs, target: &str, json: bool) -> anyhow::Result<Exit> {
    if args.http {
        if !args.resume {
            crate::bench::enqueue(&store, args.items).await?;
        }
        let r = crate::http::bench::measure(store, target, &super::default_settings(), 50).await?;
        let database = db::redact(target);
        print(json, &r, |r| render_http(r, &database))?;
        return Ok(Exit::Ok);
    }
    let cancel = cancel_on_signal()?;
    let opts = BenchOptions {
        items: args.items,
        step_delay: args.step_delay,
        concurrency: args.concurrency,
        resume: args.resume,
        dispatcher: DispatcherConfig {
            claim_batch: usize::from(args.claim_batch),
            lease: args.lease,
            ..DispatcherConfig::default()
        },
    };
    let r = crate::bench::run(store, opts, cancel).await?;
    let database = db::redact(target);
    print(json, &r, |r| render(r, &database))?;
    Ok(if r.run.cut_short { Exit::Error } else { Exit::Ok })
}

/// The measurements, one a line, under the database they were taken on.
fn render(r: &BenchReport, database: &str) -> String {
    format!(
        "database      {}\nenqueued      {} items in {:.1}s\nrun           {:.1}s, {} transitions ({} retries, {} lease lost)\nitems/s       {:.0}\ntransitions/s {:.0}\npeak RSS      {:.1} MiB\nsynced        {}{}\n",
        database,
        r.enqueued,
        r.enqueue_secs,
        r.run_secs,
        r.run.transitions,
        r.run.retries,
        r.run.lease_lost,
        r.items_per_sec,
        r.transitions_per_sec,
        r.peak_rss_mib,
        r.synced,
        match (r.run.interrupted, r.run.cut_short) {
            (_, true) => {
                "\ninterrupted, and the database did not answer within the shutdown deadline: \
                 unfinished items stay leased until their leases lapse"
            }
            (true, false) => "\ninterrupted: unfinished items were released",
            (false, false) => "",
        }
    )
}

/// The server's answer times per page, under the database and its size.
fn render_http(r: &crate::http::bench::HttpBenchReport, database: &str) -> String {
    let mut out = format!(
        "database      {database}\nitems         {}\nphase snapshot {} ms (background)\n",
        r.items, r.snapshot_ms
    );
    for p in &r.pages {
        out += &format!(
            "{:<16} p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms  ({} fetches, {} bytes)\n",
            p.path, p.p50_ms, p.p99_ms, p.max_ms, p.requests, p.bytes
        );
    }
    out
}
