//! The `migrator` command line: the parser, and a dispatcher that opens the database the way
//! each command needs and hands it to that command's module. Each command lives in its own file
//! with its options, its work and its rendering (text and `--json` from one value, see
//! [`output`]); the exit codes are all in [`exit`].

use crate::clock::SystemClock;
use crate::config::{LogFormat, Settings};
use crate::db;
use crate::state_machine::Event;
use crate::store::Store;
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::sync::Arc;

mod bench;
mod demo;
mod exit;
mod failures;
mod generate;
mod import;
mod latency;
mod migrate;
mod operate;
mod output;
mod phase;
mod plan;
mod run;
mod runs;
mod serve;
mod show;
mod signal;
mod sim;
mod status;
mod stuck;

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
    pub config: Option<PathBuf>,
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
    Stuck(stuck::StuckArgs),
    /// One item (by workflow id or A2 id) and its full history.
    Show(show::ShowArgs),
    /// Bring failed, rejected or cancelled items back to the step they stopped at.
    Retry(operate::SelectArgs),
    /// Stop items: they are not claimed again until retried.
    Cancel(operate::SelectArgs),
    /// Failed and Rejected items grouped by reason (step, endpoint, HTTP status, the error's
    /// first line with ids replaced), largest group first, with first and last seen and sample
    /// A2 ids. `retry --reason KEY` / `cancel --reason KEY` act on one group.
    Failures(failures::FailuresArgs),
    /// Throughput benchmark of the engine: N items through three no-op steps.
    Bench(bench::BenchArgs),
    /// Synthetic A2 data through every step against the Altinn 3 simulator, verified at the end.
    Demo(demo::DemoArgs),
    /// Live-latency benchmark: items written to an inbox one at a time while daemons with
    /// default settings run against the simulator; time from the file's rename to DialogCreated.
    Latency(latency::LatencyArgs),
    /// Run the Altinn 3 simulator as a standalone server.
    Sim(sim::SimArgs),
    /// Import A2 export files (NDJSON, optionally gzip): correspondences and events. Exits 3 when
    /// some lines were rejected (see the reject files), 0 when all were good.
    Import(import::ImportArgs),
    /// Write realistic A2 export files (the same generator the demo uses).
    Generate(generate::GenerateArgs),
    /// The daemon: schedules, phases and the Altinn 3 workers, until stopped; it warns in its
    /// log when a failure reason appears and as its group grows (1, 10, 100, … items). With
    /// `--once --phase NAME`: work that phase until its window closes or its work is done; exit 0
    /// when done, 4 when the window closed (or was not open) with work left, 5 when the phase is
    /// paused, 6 when items became Failed during the run (whatever else happened; the top
    /// reasons are printed), 8 when Altinn 3 refused our credentials (the items went back
    /// untouched), 130 when stopped by a signal.
    Run(run::RunArgs),
    /// Dry run for planners: per phase, items by state, how many remain, and when they will be
    /// done at the phase's rate inside its windows. Needs no A3 token.
    Plan(plan::PlanArgs),
    /// Recent schedule runs (newest first): fire time, node, start, end, outcome and counts.
    Runs(runs::RunsArgs),
    /// Create the database if needed and bring its schema up to this version (every writing
    /// command does this too; reading commands never do, and exit 7 on an older schema).
    Migrate,
    /// Pause or resume a phase on every node (takes effect within one claim cycle).
    Phase(phase::PhaseArgs),
    /// The operations server alone (health, /metrics, the JSON API, the dashboard) over a
    /// database whose daemons run elsewhere; `migrator run` serves the same beside its work.
    Serve(serve::ServeArgs),
}

impl Command {
    /// True for the commands that only read the database: they open an existing one and never
    /// create or migrate it.
    pub fn reads_only(&self) -> bool {
        matches!(
            self,
            Command::Status
                | Command::Stuck(_)
                | Command::Show(_)
                | Command::Failures(_)
                | Command::Plan(_)
                | Command::Runs(_)
        )
    }

    /// True for the commands that never create or migrate a database: the reading ones, and
    /// `serve` (which writes only what an operator asks for).
    pub fn needs_existing(&self) -> bool {
        self.reads_only() || matches!(self, Command::Serve(_))
    }
}

/// The whole binary: a tokio runtime, the command (which sets up logging, see [`init_logging`]),
/// and an exit code. Shared by `migrator` and the test suite's copy of it.
pub fn run_main() -> std::process::ExitCode {
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
            Exit::of_error(&e).into()
        }
    }
}

/// Runs one parsed command: the simulator and the generator need no database; every other
/// command gets a [`Store`] on the database [`choose_database`] picks, opened by [`connect`].
pub async fn main(cli: Cli) -> anyhow::Result<Exit> {
    let Cli { db, config, json, command } = cli;
    let command = match command {
        Command::Sim(args) => {
            init_logging(LogFormat::Plain);
            return sim::run(&args).await;
        }
        Command::Generate(args) => {
            init_logging(LogFormat::Plain);
            return generate::run(&args, json);
        }
        command => command,
    };
    let (target, settings) = choose_database(&command, db, config.as_deref())?;
    // Once the config is read: it says the format. (A config error before this is printed as
    // plain text; nothing logs before it.)
    init_logging(settings.as_ref().map_or(LogFormat::Plain, |s| s.log));
    // `serve` without an operator token changes nothing, so it opens the database read-only;
    // with one it writes what the operator asks (retry, cancel, pause).
    let serve_writes = matches!(command, Command::Serve(_))
        && settings.as_ref().is_some_and(|s| s.http.token().ok().flatten().is_some());
    let read_only = command.needs_existing() && !serve_writes;
    let Some(conn) = connect(&target, command.needs_existing(), read_only).await? else {
        return Ok(Exit::NoDatabase);
    };
    let policy = settings.as_ref().map(|s| s.retry).unwrap_or_default();
    let store = Store::new(conn, Arc::new(SystemClock), policy);
    let settings = || settings.unwrap_or_else(default_settings);
    match command {
        Command::Migrate => migrate::run(&store, &target, json).await,
        Command::Status => status::run(&store, json).await,
        Command::Stuck(args) => stuck::run(&store, args, json).await,
        Command::Show(args) => show::run(&store, args, json).await,
        Command::Failures(args) => failures::run(&store, args, json).await,
        Command::Retry(sel) => operate::run(&store, sel, Event::OperatorRetry, json).await,
        Command::Cancel(sel) => operate::run(&store, sel, Event::OperatorCancel, json).await,
        Command::Bench(args) => bench::run(store, args, &target, json).await,
        Command::Demo(args) => demo::run(store, args, json).await,
        Command::Latency(args) => latency::run(store, args, &target, json).await,
        Command::Import(args) => import::run(store, args, json).await,
        Command::Run(args) => run::run(store, &target, settings(), args, json).await,
        Command::Plan(args) => plan::run(&store, &settings(), args, json).await,
        Command::Runs(args) => runs::run(&store, args, json).await,
        Command::Phase(args) => phase::run(&store, &settings(), args, json).await,
        Command::Serve(args) => serve::run(store, &target, settings(), args).await,
        Command::Sim(_) | Command::Generate(_) => unreachable!("answered above without a database"),
    }
}

/// Logging to stderr: `MIGRATOR_LOG`, else the Rust convention `RUST_LOG`, default `warn`.
/// Plain text is coloured only on a terminal, so a file or a journal gets no escape codes;
/// `log.format = "json"` writes one JSON object per line for log shippers, by
/// tracing-subscriber's own formatter (so every line is valid JSON, whatever a message holds).
fn init_logging(format: LogFormat) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_env("MIGRATOR_LOG")
        .or_else(|_| tracing_subscriber::EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    // `try_init`: when `main` runs more than once in a process (tests), the first logger stays.
    let _ = match format {
        LogFormat::Plain => builder.with_ansi(std::io::stderr().is_terminal()).try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// The database a command works on, and the settings when it reads the config. `bench` and
/// `demo` default to their own files so they never touch the real database, and do not read the
/// config; the demo's own file is removed here, so that it starts from an empty one each time.
fn choose_database(
    command: &Command,
    db: Option<String>,
    config: Option<&Path>,
) -> anyhow::Result<(String, Option<Settings>)> {
    Ok(match (command, db) {
        (Command::Bench(_), None) => ("data/bench.sqlite".to_string(), None),
        (Command::Demo(_), None) => {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("data/demo.sqlite{suffix}"));
            }
            ("data/demo.sqlite".to_string(), None)
        }
        (Command::Latency(_), None) => {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("data/latency.sqlite{suffix}"));
            }
            ("data/latency.sqlite".to_string(), None)
        }
        (Command::Bench(_) | Command::Demo(_) | Command::Latency(_), Some(db)) => (db, None),
        (_, db) => {
            // Only `run` calls Altinn 3; no other command reads the token or its file.
            let with_token = matches!(command, Command::Run(_));
            let settings = load_settings(config, with_token)?;
            let target = db.or(settings.database.clone()).unwrap_or_else(|| "data/migrator.sqlite".into());
            (target, Some(settings))
        }
    })
}

/// Opens `target`: a reading command (and `serve`) opens an existing, current database only
/// (`None` after saying why when there is none: exit 7), read-only when `read_only`; any other
/// creates or migrates it.
async fn connect(
    target: &str,
    existing: bool,
    read_only: bool,
) -> anyhow::Result<Option<sea_orm::DatabaseConnection>> {
    if !existing {
        return Ok(Some(db::open(target).await?));
    }
    let opened = if read_only { db::open_existing(target).await } else { db::open_current(target).await };
    match opened {
        Ok(conn) => Ok(Some(conn)),
        Err(e) if e.is_no_database() => {
            eprintln!("error: {e}");
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// The config from `--config`, else ./migrator.toml if there is one, else the defaults; the
/// environment over it.
/// `with_token`: read and check the A3 token (only `run` needs it).
fn load_settings(path: Option<&Path>, with_token: bool) -> anyhow::Result<Settings> {
    let default = Path::new("migrator.toml");
    let file = path.or(default.exists().then_some(default));
    Ok(if with_token { Settings::load(file, None)? } else { Settings::load_without_token(file, None)? })
}

/// The built-in settings: the fallback for a command that did not read the config (only `bench`
/// and `demo` skip it, and they use no settings).
fn default_settings() -> Settings {
    Settings::load(None, Some(Default::default())).expect("the built-in defaults are valid")
}
