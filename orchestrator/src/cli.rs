//! The `migrator` command line: argument parsing and the output layer (tables or `--json`).

use crate::bench::{self, BenchOptions};
use crate::clock::{SystemClock, format_ms};
use crate::config::Settings;
use crate::dispatcher::DispatcherConfig;
use crate::state_machine::Event;
use crate::store::{OperateReport, Selection, Selector, Store};
use crate::{db, shutdown};
use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use schema::WorkflowState;
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

mod exit;
mod failures;

pub use exit::Exit;

/// Moves Altinn 2 correspondences to Altinn 3 and keeps them in sync.
#[derive(Debug, Parser)]
#[command(
    name = "migrator",
    version,
    about,
    after_help = format!(
        "Reading commands (status, stuck, show, failures, plan, runs) open an existing database \
only: they never create a file, directory, table or migration, and exit 7 when there is no \
database at --db / database.url or its schema is older than this binary (`migrator migrate` \
upgrades it). Only `run` reads the A3 token.\n\n{}",
        exit::help()
    )
)]
pub struct Cli {
    /// Database: a SQLite file path or a postgres:// URL [default: `database.url` from the
    /// config, else data/migrator.sqlite].
    #[arg(long, global = true, env = "MIGRATOR_DB", hide_env_values = true)]
    pub db: Option<String>,
    /// Config file [default: ./migrator.toml if it exists]. Environment variables
    /// MIGRATOR__SECTION__KEY override it.
    #[arg(long, global = true, env = "MIGRATOR_CONFIG")]
    pub config: Option<std::path::PathBuf>,
    /// Machine-readable output.
    #[arg(long, global = true)]
    pub json: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Counts of items by state, and by import batch.
    Status,
    /// Items whose lease expired or that have not moved for a while, then Failed items, with
    /// their last error; and how many are Failed and Rejected in all.
    Stuck {
        /// How long without a change counts as stuck (e.g. 30m, 2h).
        #[arg(long, default_value = "30m", value_parser = humantime::parse_duration)]
        older_than: Duration,
        /// At most this many items.
        #[arg(long, default_value_t = 100)]
        limit: u64,
    },
    /// One item (by workflow id or A2 id) and its full history.
    Show {
        /// Workflow id (UUID) or A2 id (integer).
        key: String,
    },
    /// Bring failed, rejected or cancelled items back to the step they stopped at.
    Retry(SelectArgs),
    /// Stop items: they are not claimed again until retried.
    Cancel(SelectArgs),
    /// Failed and Rejected items grouped by reason (step, endpoint, HTTP status, the error's
    /// first line with ids replaced), largest group first, with first and last seen and sample
    /// A2 ids. `retry --reason KEY` / `cancel --reason KEY` act on one group.
    Failures(failures::FailuresArgs),
    /// Throughput benchmark of the engine: N items through three no-op steps.
    Bench(BenchArgs),
    /// Synthetic A2 data through every step against the Altinn 3 simulator, verified at the end.
    Demo(DemoArgs),
    /// Run the Altinn 3 simulator as a standalone server.
    Sim(SimArgs),
    /// Import A2 export files (NDJSON, optionally gzip): correspondences and events. Exits 3 when
    /// some lines were rejected (see the reject files), 0 when all were good.
    Import(ImportArgs),
    /// Write realistic A2 export files (the same generator the demo uses).
    Generate(GenerateArgs),
    /// The daemon: schedules, phases and the Altinn 3 workers, until stopped; it warns in its
    /// log when a failure reason appears and as its group grows (1, 10, 100, … items). With
    /// `--once --phase NAME`: work that phase until its window closes or its work is done; exit 0
    /// when done, 4 when the window closed (or was not open) with work left, 5 when the phase is
    /// paused, 6 when items became Failed during the run (whatever else happened; the top
    /// reasons are printed), 130 when stopped by a signal.
    Run(RunArgs),
    /// Dry run for planners: per phase, items by state, how many remain, and when they will be
    /// done at the phase's rate inside its windows. Needs no A3 token.
    Plan {
        /// Only this phase.
        #[arg(long)]
        phase: Option<String>,
    },
    /// Recent schedule runs (newest first): fire time, node, start, end, outcome and counts.
    Runs {
        /// Only this schedule (`window:PHASE` and `once:PHASE` for phase runs).
        #[arg(long)]
        schedule: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: u64,
    },
    /// Create the database if needed and bring its schema up to this version (every writing
    /// command does this too; reading commands never do, and exit 7 on an older schema).
    Migrate,
    /// Pause or resume a phase on every node (takes effect within one claim cycle).
    Phase {
        /// pause or resume.
        #[command(subcommand)]
        action: PhaseAction,
    },
}

impl Command {
    /// True for the commands that only read the database: they open an existing one and never
    /// create or migrate it.
    pub fn reads_only(&self) -> bool {
        matches!(
            self,
            Command::Status
                | Command::Stuck { .. }
                | Command::Show { .. }
                | Command::Failures(_)
                | Command::Plan { .. }
                | Command::Runs { .. }
        )
    }
}

/// `run` options.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Work one phase and exit (see `--phase`).
    #[arg(long, requires = "phase")]
    pub once: bool,
    /// The phase for `--once`.
    #[arg(long, requires = "once")]
    pub phase: Option<String>,
}

/// `phase` actions.
#[derive(Debug, Subcommand)]
pub enum PhaseAction {
    /// Stop claiming for the phase (in-flight items finish).
    Pause {
        /// Phase name.
        name: String,
    },
    /// Claim for the phase again.
    Resume {
        /// Phase name.
        name: String,
    },
}

/// `import` options.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Files or directories (directories: their *.ndjson, *.jsonl and .gz files, in name order).
    #[arg(required_unless_present = "watch")]
    pub paths: Vec<std::path::PathBuf>,
    /// Watch this directory and import each new file once (the live feed); runs until stopped.
    #[arg(long, conflicts_with = "paths")]
    pub watch: Option<std::path::PathBuf>,
    /// How often the watched directory is looked at.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    pub poll: Duration,
    /// Import batch label stored on new items (`status` counts by it; `retry`/`cancel --batch`
    /// select by it). The config's phases select items by date, owner and resource, not by it.
    /// A number is refused: `--batch` was lines per transaction before it became the label
    /// (that is `--chunk` now), and an old script must not label its items "500".
    #[arg(long, default_value = "default", value_parser = batch_label)]
    pub batch: String,
    /// Lines per transaction.
    #[arg(long, default_value_t = 1000)]
    pub chunk: usize,
    /// Where reject files and summaries go (default: next to each input file).
    #[arg(long)]
    pub report_dir: Option<std::path::PathBuf>,
}

/// An import batch label: any text but a bare number (see [`ImportArgs::batch`]).
fn batch_label(s: &str) -> Result<String, String> {
    if s.trim().is_empty() {
        Err("the batch label is empty".into())
    } else if s.trim().bytes().all(|b| b.is_ascii_digit()) {
        Err(format!("`{s}` is a number: lines per transaction are `--chunk {s}`; a batch label needs a name"))
    } else {
        Ok(s.to_string())
    }
}

/// `generate` options.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Correspondences to write.
    #[arg(long, default_value_t = 10_000)]
    pub items: u64,
    /// Output directory.
    #[arg(long)]
    pub out: std::path::PathBuf,
    /// Split into this many files.
    #[arg(long, default_value_t = 1)]
    pub files: u64,
    /// Seed.
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
    /// First A2 id.
    #[arg(long, default_value_t = 1_000_000)]
    pub first_id: i64,
    /// Share of broken lines (bad JSON, missing or mistyped field, impossible date).
    #[arg(long, default_value_t = 0.001)]
    pub bad_lines: f64,
    /// Share of items with invalid content (rejected at migration, not at import).
    #[arg(long, default_value_t = 0.01)]
    pub invalid: f64,
    /// Share of items with later events.
    #[arg(long, default_value_t = 0.1)]
    pub later_events: f64,
}

/// Faults the simulator injects.
#[derive(Debug, Args, Clone)]
pub struct FaultArgs {
    /// Share of calls answered 503 without being processed.
    #[arg(long, default_value_t = 0.0)]
    pub fail_5xx: f64,
    /// Share of calls answered 429 with Retry-After.
    #[arg(long, default_value_t = 0.0)]
    pub fail_429: f64,
    /// Retry-After given with a 429.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    pub retry_after: Duration,
    /// Share of calls whose connection is dropped (half before, half after processing).
    #[arg(long, default_value_t = 0.0)]
    pub drop: f64,
    /// Extra latency per call, drawn between 0 and this.
    #[arg(long, default_value = "0ms", value_parser = humantime::parse_duration)]
    pub latency: Duration,
}

impl FaultArgs {
    fn faults(&self) -> altinn3_sim::Faults {
        altinn3_sim::Faults {
            error_5xx_rate: self.fail_5xx,
            rate_429: self.fail_429,
            retry_after: self.retry_after,
            drop_rate: self.drop,
            latency_min: Duration::ZERO,
            latency_max: self.latency,
        }
    }
}

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
    pub token_file: Option<std::path::PathBuf>,
    /// Faults.
    #[command(flatten)]
    pub faults: FaultArgs,
}

/// `sim` options.
#[derive(Debug, Args)]
pub struct SimArgs {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 8089)]
    pub port: u16,
    /// The bearer token the simulator accepts.
    #[arg(long, env = "MIGRATOR_SIM_TOKEN", default_value = "dev-token", hide_env_values = true)]
    pub token: String,
    /// Seed for faults.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Faults.
    #[command(flatten)]
    pub faults: FaultArgs,
}

/// Which items an operator command acts on.
#[derive(Debug, Args)]
pub struct SelectArgs {
    /// Workflow ids or A2 ids.
    pub keys: Vec<String>,
    /// Only items in this state.
    #[arg(long)]
    pub state: Option<WorkflowState>,
    /// Only items of this import batch (`import --batch`).
    #[arg(long)]
    pub batch: Option<String>,
    /// Only the Failed and Rejected items of this failure group: its reason key as `migrator
    /// failures` prints it, or a part of it that matches one group only.
    #[arg(long)]
    pub reason: Option<String>,
}

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
}

/// The whole binary: logging to stderr (`MIGRATOR_LOG`, default `warn`), a tokio runtime, the
/// command, and an exit code. Shared by `migrator` and the test suite's copy of it.
pub fn run_main() -> std::process::ExitCode {
    use clap::Parser;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("MIGRATOR_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return Exit::Error.into();
        }
    };
    // clap's own `parse` would exit by itself; its codes are ours too.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { Exit::Usage } else { Exit::Ok }.into();
        }
    };
    match runtime.block_on(main(cli)) {
        Ok(exit) => exit.into(),
        Err(e) => {
            eprintln!("error: {e:#}");
            Exit::Error.into()
        }
    }
}

/// Runs one parsed command.
pub async fn main(cli: Cli) -> anyhow::Result<Exit> {
    if let Command::Sim(args) = &cli.command {
        return sim(args).await;
    }
    if let Command::Generate(a) = &cli.command {
        let opts = crate::generator::GeneratorOptions {
            seed: a.seed,
            first_id: a.first_id,
            invalid_rate: a.invalid,
            later_event_rate: a.later_events,
        };
        let r = crate::generator::write_export(opts, &a.out, a.items, a.files, a.bad_lines)
            .with_context(|| format!("cannot write to {}", a.out.display()))?;
        print(cli.json, &r, || {
            format!(
                "wrote {} correspondences, {} events, {} broken lines into {} files under {}\n",
                r.correspondences,
                r.events,
                r.bad_lines,
                r.files.len(),
                a.out.display()
            )
        })?;
        return Ok(Exit::Ok);
    }
    // `bench` and `demo` default to their own files so they never touch the real database; the
    // demo starts from an empty one each time. They do not read the config.
    let (target, settings) = match (&cli.command, &cli.db) {
        (Command::Bench(_), None) => ("data/bench.sqlite".to_string(), None),
        (Command::Demo(_), None) => {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("data/demo.sqlite{suffix}"));
            }
            ("data/demo.sqlite".to_string(), None)
        }
        (Command::Bench(_) | Command::Demo(_), Some(db)) => (db.clone(), None),
        _ => {
            // Only `run` calls Altinn 3; no other command reads the token or its file.
            let with_token = matches!(cli.command, Command::Run(_));
            let settings = load_settings(cli.config.as_deref(), with_token)?;
            let target =
                cli.db.clone().or(settings.database.clone()).unwrap_or_else(|| "data/migrator.sqlite".into());
            (target, Some(settings))
        }
    };
    let conn = if cli.command.reads_only() {
        match db::open_existing(&target).await {
            Ok(conn) => conn,
            Err(e) if e.is_no_database() => {
                eprintln!("error: {e}");
                return Ok(Exit::NoDatabase);
            }
            Err(e) => return Err(e.into()),
        }
    } else {
        db::open(&target).await?
    };
    if let Command::Migrate = cli.command {
        use sea_orm_migration::MigratorTrait;
        let applied = schema::Migrator::get_applied_migrations(&conn).await?.len();
        let shown = db::redact(&target);
        let r = serde_json::json!({ "database": shown, "migrations_applied": applied });
        print(cli.json, &r, || {
            format!("database {shown}: schema up to date ({applied} migrations applied)\n")
        })?;
        return Ok(Exit::Ok);
    }
    let policy = settings.as_ref().map(|s| s.retry).unwrap_or_default();
    let store = Store::new(conn, Arc::new(SystemClock), policy);
    match cli.command {
        Command::Status => {
            let r = store.status().await?;
            print(cli.json, &r, || {
                let mut out = format!("{} items ({} leased)\n", r.total, r.leased);
                for (s, n) in &r.by_state {
                    out += &format!("  {s:<16} {n:>12}\n");
                }
                for (batch, states) in &r.by_batch {
                    out += &format!("batch {}\n", if batch.is_empty() { "(none)" } else { batch });
                    for (s, n) in states {
                        out += &format!("  {s:<16} {n:>12}\n");
                    }
                }
                out
            })?;
        }
        Command::Stuck { older_than, limit } => {
            let items = store.stuck(older_than.as_millis() as i64, limit).await?;
            let parked = store.failure_counts(&Selection::all(), None).await?;
            print(cli.json, &items, || {
                let failed = items.iter().filter(|s| s.item.state == WorkflowState::Failed).count();
                let mut out = format!("{} stuck items ({failed} of them failed)\n", items.len());
                for s in &items {
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
                out + &failures::parked_summary(&parked)
            })?;
        }
        Command::Show { key } => {
            let Some(found) = store.show(&key).await? else {
                anyhow::bail!("no item with workflow id or A2 id `{key}`");
            };
            print(cli.json, &found, || {
                let i = &found.item;
                let mut out = format!(
                    "workflow {}\n  a2 id      {}\n  batch      {}\n  state      {}{}\n  attempt    {}\n  next run   {}\n  lease      {}\n  a3 id      {}\n  dialog id  {}\n  last error {}\n  reason     {}\nhistory\n",
                    i.id,
                    i.a2_id,
                    i.batch,
                    i.state,
                    i.resume_state.map(|s| format!(" (stopped at {s})")).unwrap_or_default(),
                    i.attempt,
                    format_ms(i.next_run_at),
                    i.lease_owner
                        .map(|o| format!("{o} until {}", format_ms(i.lease_until.unwrap_or(0))))
                        .unwrap_or("-".into()),
                    i.a3_correspondence_id.map(|u| u.to_string()).unwrap_or("-".into()),
                    i.dialog_id.map(|u| u.to_string()).unwrap_or("-".into()),
                    i.last_error.as_deref().unwrap_or("-"),
                    i.reason.as_deref().unwrap_or("-"),
                );
                for h in &found.history {
                    out += &format!(
                        "  {} {:>14} -> {:<14} attempt={} node={}{}\n",
                        format_ms(h.at),
                        h.from_state.map(|s| s.to_string()).unwrap_or("-".into()),
                        h.to_state,
                        h.attempt,
                        h.node.map(|n| n.to_string()).unwrap_or("-".into()),
                        h.error.as_deref().map(|e| format!(" {e}")).unwrap_or_default()
                    );
                }
                out
            })?;
        }
        Command::Failures(args) => return failures::run(&store, args, cli.json).await,
        Command::Retry(sel) => return operate(&store, sel, Event::OperatorRetry, cli.json).await,
        Command::Cancel(sel) => return operate(&store, sel, Event::OperatorCancel, cli.json).await,
        Command::Bench(args) => {
            let cancel = CancellationToken::new();
            shutdown::install(cancel.clone())?;
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
            let r = bench::run(store, opts, cancel).await?;
            print(cli.json, &r, || {
                format!(
                    "database      {}\nenqueued      {} items in {:.1}s\nrun           {:.1}s, {} transitions ({} retries, {} lease lost)\nitems/s       {:.0}\ntransitions/s {:.0}\npeak RSS      {:.1} MiB\nsynced        {}{}\n",
                    db::redact(&target),
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
                    if r.run.interrupted { "\ninterrupted: unfinished items were released" } else { "" }
                )
            })?;
        }
        Command::Demo(args) => return demo(store, args, cli.json).await,
        Command::Import(args) => return import(store, args, cli.json).await,
        Command::Run(args) => {
            return run(store, settings.unwrap_or_else(default_settings), args, cli.json).await;
        }
        Command::Plan { phase } => {
            return plan(&store, &settings.unwrap_or_else(default_settings), phase.as_deref(), cli.json)
                .await;
        }
        Command::Runs { schedule, limit } => {
            let runs = crate::schedule::list_runs(&store, schedule.as_deref(), limit).await?;
            print(cli.json, &runs, || {
                let mut out = format!("{} runs\n", runs.len());
                for r in &runs {
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
            })?;
        }
        Command::Phase { action } => {
            let settings = settings.unwrap_or_else(default_settings);
            let (name, pause) = match &action {
                PhaseAction::Pause { name } => (name, true),
                PhaseAction::Resume { name } => (name, false),
            };
            if !settings.phases.iter().any(|p| &p.name == name) {
                let known: Vec<&str> = settings.phases.iter().map(|p| p.name.as_str()).collect();
                anyhow::bail!("no phase named {name:?} in the configuration (phases: {})", known.join(", "));
            }
            let c = crate::phase::set_paused(&store, name, pause).await?;
            print(cli.json, &c, || {
                format!("phase {} {}\n", c.phase, if c.paused { "paused" } else { "resumed" })
            })?;
        }
        Command::Sim(_) | Command::Generate(_) | Command::Migrate => {}
    }
    Ok(Exit::Ok)
}

/// The config from `--config`, else ./migrator.toml if there is one, else the defaults; the
/// environment over it.
/// `with_token`: read and check the A3 token (only `run` needs it).
fn load_settings(path: Option<&std::path::Path>, with_token: bool) -> anyhow::Result<Settings> {
    let default = std::path::Path::new("migrator.toml");
    let file = path.or(default.exists().then_some(default));
    Ok(if with_token { Settings::load(file, None)? } else { Settings::load_without_token(file, None)? })
}

fn default_settings() -> Settings {
    Settings::load(None, Some(Default::default())).expect("the built-in defaults are valid")
}

async fn run(store: Store, settings: Settings, args: RunArgs, json: bool) -> anyhow::Result<Exit> {
    let cancel = CancellationToken::new();
    shutdown::install(cancel.clone())?;
    if let Some(phase) = args.phase.as_deref().filter(|_| args.once) {
        let r = crate::daemon::run_once(store, &settings, phase, cancel).await?;
        print(json, &r, || {
            format!(
                "phase {}: {} ({} items needed its steps at the start, {} now){}\n",
                r.phase,
                match r.end {
                    crate::daemon::OnceEnd::Done => "done",
                    crate::daemon::OnceEnd::WindowClosed => "window closed",
                    crate::daemon::OnceEnd::Paused => "paused",
                    crate::daemon::OnceEnd::Interrupted => "stopped by a signal",
                },
                r.work_at_start,
                r.work_at_end,
                r.run
                    .as_ref()
                    .map(|x| format!(
                        "; {} transitions in {:.1}s",
                        x.transitions,
                        x.elapsed_ms as f64 / 1000.0
                    ))
                    .unwrap_or_default()
            ) + &once_failures(&r)
        })?;
        return Ok(Exit::of_once(&r));
    }
    eprintln!(
        "migrator running: {} phases, {} schedules; Ctrl-C stops",
        settings.phases.len(),
        settings.schedules.len()
    );
    let r = crate::daemon::run(store, &settings, cancel).await?;
    print(json, &r, || format!("stopped: {} transitions, {} released\n", r.transitions, r.released))?;
    Ok(Exit::Ok)
}

/// What `run --once` prints about the items that failed during it.
fn once_failures(r: &crate::daemon::OnceReport) -> String {
    if r.newly_failed + r.newly_rejected == 0 {
        return String::new();
    }
    format!(
        "{} items became Failed and {} Rejected during the run; the largest groups:\n{}\
         see them all with `migrator failures --since <run length>`\n",
        r.newly_failed,
        r.newly_rejected,
        failures::render_groups(&r.top_reasons)
    )
}

async fn plan(store: &Store, settings: &Settings, only: Option<&str>, json: bool) -> anyhow::Result<Exit> {
    let paused = crate::phase::paused(store).await?;
    let mut plans = Vec::new();
    for p in settings.phases.iter().filter(|p| only.is_none_or(|o| o == p.name)) {
        plans.push(
            crate::phase::plan::plan_phase(store, p, paused.contains(&p.name), settings.time_zone).await?,
        );
    }
    if let Some(o) = only
        && plans.is_empty()
    {
        anyhow::bail!("no phase named {o:?} in the configuration");
    }
    let local = |ms: i64| {
        use chrono::TimeZone;
        settings
            .time_zone
            .timestamp_millis_opt(ms)
            .single()
            .map(|t| t.format("%Y-%m-%d %H:%M %Z").to_string())
            .unwrap_or_else(|| format_ms(ms))
    };
    print(json, &plans, || {
        let mut out = String::new();
        if plans.is_empty() {
            out += "no phases configured (add [phases.NAME] to migrator.toml)\n";
        }
        for p in &plans {
            out += &format!(
                "phase {}{}: steps {}, order {}, window {} ({})\n",
                p.phase,
                if p.paused { " (PAUSED)" } else { "" },
                p.steps.join(", "),
                p.order,
                p.window,
                match p.window_now {
                    crate::phase::WindowState::Open(Some(t)) => format!("open until {}", local(t)),
                    crate::phase::WindowState::Open(None) => "open".into(),
                    crate::phase::WindowState::Closed(Some(t)) => format!("closed until {}", local(t)),
                    crate::phase::WindowState::Closed(None) => "never opens again".into(),
                }
            );
            for (s, n) in &p.by_state {
                out += &format!("  {s:<16} {n:>12}\n");
            }
            out += &format!(
                "  {:<16} {:>12}\n  remaining        {:>12}  ({} ready for its steps now)\n",
                "total", p.total, p.remaining, p.ready
            );
            let rate = |r: Option<f64>| r.map(|r| format!("{r:.2}/s")).unwrap_or("-".into());
            out += &format!(
                "  rate             configured {}, measured {}\n",
                rate(p.rate_configured),
                rate(p.rate_measured)
            );
            match (&p.no_estimate, &p.finishes_local, p.work_secs) {
                (Some(why), _, _) => out += &format!("  estimate         none: {why}\n"),
                (None, Some(at), Some(secs)) => {
                    out += &format!(
                        "  estimate         {} of work, {} window(s), done {} (in the window from {})\n",
                        humantime::format_duration(Duration::from_secs(secs.ceil() as u64)),
                        p.windows_needed.unwrap_or(0),
                        at,
                        p.finishing_window.as_deref().unwrap_or("-")
                    )
                }
                _ => {}
            }
        }
        out
    })?;
    Ok(Exit::Ok)
}

async fn demo(store: Store, args: DemoArgs, json: bool) -> anyhow::Result<Exit> {
    use std::io::IsTerminal;
    let cancel = CancellationToken::new();
    shutdown::install(cancel.clone())?;
    let opts = crate::demo::DemoOptions {
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
        ..crate::demo::DemoOptions::default()
    };
    let r = crate::demo::run(store, opts, cancel).await?;
    let v = &r.verification;
    print(json, &r, || {
        let mut out = format!(
            "demo: {} items in {:.1}s, {:.0} items/s to Synced\n",
            r.items, r.elapsed_secs, r.items_per_sec
        );
        for (s, n) in &r.by_state {
            out += &format!("  {s:<16} {n:>8}\n");
        }
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
        out +=
            if v.ok() { "VERIFIED: nothing missing, nothing duplicated\n" } else { "VERIFICATION FAILED\n" };
        out
    })?;
    Ok(if v.ok() { Exit::Ok } else { Exit::Error })
}

async fn import(store: Store, args: ImportArgs, json: bool) -> anyhow::Result<Exit> {
    use std::io::IsTerminal;
    let opts = crate::import::ImportOptions {
        batch: args.batch,
        chunk: args.chunk,
        progress: !json && std::io::stderr().is_terminal(),
        report_dir: args.report_dir,
    };
    let reports = if let Some(dir) = &args.watch {
        let cancel = CancellationToken::new();
        shutdown::install(cancel.clone())?;
        eprintln!(
            "watching {} (every {}); Ctrl-C stops",
            dir.display(),
            humantime::format_duration(args.poll)
        );
        crate::import::watch(&store, dir, &opts, args.poll, cancel).await?
    } else {
        let mut out = Vec::new();
        for path in crate::import::expand(&args.paths)? {
            out.push(
                crate::import::import_file(&store, &path, &opts, Default::default(), |_, _| async { Ok(()) })
                    .await?,
            );
        }
        out
    };
    store.analyze().await?;
    let rejected: u64 = reports.iter().map(|r| r.rejected).sum();
    print(json, &reports, || {
        let mut out = String::new();
        for r in &reports {
            out += &format!(
                "{}: {} lines: {} correspondences ({} written, {} new items), {} event lines; events stored {}, duplicates dropped {}; {} items made sync-pending; {} lines rejected{}\n",
                r.file,
                r.lines,
                r.correspondences,
                r.records_written,
                r.workflows_created,
                r.events,
                r.events_stored,
                r.events_duplicate,
                r.made_pending,
                r.rejected,
                r.reject_file.as_deref().map(|f| format!(" (see {f})")).unwrap_or_default()
            );
            for x in &r.first_rejects {
                out += &format!("  {}:{}: {}\n", x.file, x.line, x.reason);
            }
        }
        out
    })?;
    Ok(if rejected > 0 { Exit::ImportRejects } else { Exit::Ok })
}

async fn sim(args: &SimArgs) -> anyhow::Result<Exit> {
    let cfg =
        altinn3_sim::SimConfig { token: args.token.clone(), seed: args.seed, faults: args.faults.faults() };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port))
        .await
        .context("cannot bind the simulator's port")?;
    let addr = listener.local_addr()?;
    eprintln!(
        "Altinn 3 simulator on http://{addr} (inventory: http://{addr}/sim/inventory); Ctrl-C stops it"
    );
    let cancel = CancellationToken::new();
    shutdown::install(cancel.clone())?;
    altinn3_sim::Simulator::new(cfg).serve(listener, cancel).await?;
    Ok(Exit::Ok)
}

async fn operate(store: &Store, sel: SelectArgs, event: Event, json: bool) -> anyhow::Result<Exit> {
    let reason = match &sel.reason {
        Some(text) => match failures::resolve(store, text).await? {
            Ok(key) => Some(key),
            Err(why) => {
                eprintln!("error: {why}");
                return Ok(Exit::NotFound);
            }
        },
        None => None,
    };
    let selector = Selector { keys: sel.keys, state: sel.state, batch: sel.batch, reason: reason.clone() };
    let verb = event.name().trim_start_matches("operator_").to_string();
    let r: OperateReport = store.operate(&selector, event).await.with_context(|| format!("{verb} failed"))?;
    print(json, &r, || {
        let mut out = format!("{verb}: {} changed, {} skipped\n", r.changed, r.skipped.len());
        if let Some(key) = &reason {
            out += &format!("  failure group: {key}\n");
        }
        for s in &r.skipped {
            out += &format!("  skipped {} a2={} ({}): {}\n", s.id, s.a2_id, s.state, s.reason);
        }
        for k in &r.not_found {
            out += &format!("  not found: {k}\n");
        }
        out
    })?;
    Ok(if r.not_found.is_empty() { Exit::Ok } else { Exit::NotFound })
}

/// Counts by name as `attachment 9784, correspondence 9889` ("none" when empty).
fn counts(by_name: &std::collections::BTreeMap<String, u64>) -> String {
    if by_name.is_empty() {
        return "none".into();
    }
    by_name.iter().map(|(name, n)| format!("{name} {n}")).collect::<Vec<_>>().join(", ")
}

/// A lease of at least a second (the heartbeat renews it every third of it).
fn parse_lease(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| e.to_string())?;
    if d < Duration::from_secs(1) { Err("a lease must be at least 1s".into()) } else { Ok(d) }
}

/// Prints `value` as JSON, or the text `render` makes.
fn print<T: Serialize>(json: bool, value: &T, render: impl FnOnce() -> String) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(value)?);
    } else {
        print!("{}", render());
    }
    Ok(())
}
